// Encoder dispatch: pooling names and load_encoder(), which picks the implementation from the
// model directory's config.json "model_type".
#include "nn/encoder.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <exception>
#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "nn/bert.h"
#include "nn/gpt2.h"
#include "nn/use_lite.h"

namespace loid {

std::vector<TokenIds> parallel_token_ids(std::size_t n,
                                         const std::function<TokenIds(std::size_t)>& one) {
  std::vector<TokenIds> out(n);
  // Plain threads, not at::parallel_for: libtorch's parallel_for is an inline OpenMP template
  // that runs serially in code built without -fopenmp. At least 32 texts per thread (a few
  // milliseconds of work, far above a thread's start-up cost); a small batch stays on this thread.
  constexpr std::size_t kMinPerThread = 32;
  const std::size_t threads =
      std::min<std::size_t>(static_cast<std::size_t>(std::max(1, at::get_num_threads())),
                            (n + kMinPerThread - 1) / kMinPerThread);
  auto run = [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) out[i] = one(i);
  };
  if (threads <= 1) {
    run(0, n);
    return out;
  }
  std::vector<std::exception_ptr> errors(threads);
  std::vector<std::thread> workers;
  const std::size_t per = (n + threads - 1) / threads;
  for (std::size_t t = 1; t < threads; ++t)
    workers.emplace_back([&, t] {
      try {
        run(std::min(n, t * per), std::min(n, (t + 1) * per));
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  try {
    run(0, std::min(n, per));
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto& w : workers) w.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

TokenBatch Encoder::pad(const std::vector<TokenIds>& rows, std::size_t min_columns) const {
  std::size_t longest = std::max<std::size_t>(1, min_columns);
  for (const auto& r : rows) longest = std::max(longest, r.size());
  const auto b = static_cast<std::int64_t>(rows.size());
  const auto t = static_cast<std::int64_t>(longest);
  TokenBatch out;
  out.input_ids = torch::full({b, t}, pad_id(), torch::kInt64);  // (B, T)
  out.attention_mask = torch::zeros({b, t}, torch::kInt64);      // (B, T)
  auto* ids = out.input_ids.data_ptr<std::int64_t>();
  auto* mask = out.attention_mask.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < b; ++i) {
    const auto& r = rows[static_cast<std::size_t>(i)];
    std::copy(r.begin(), r.end(), ids + i * t);
    std::fill(mask + i * t, mask + i * t + static_cast<std::int64_t>(r.size()), 1);
  }
  return out;
}

LoraLinear adaptable_linear(std::int64_t in, std::int64_t out) {
  return LoraLinear(torch::nn::Linear(in, out));  // copies Linear's default initialisation
}

Pooling pooling_from_name(const std::string& name) {
  if (name == "default") return Pooling::kDefault;
  if (name == "cls") return Pooling::kCls;
  if (name == "pooler") return Pooling::kPooler;
  if (name == "mean") return Pooling::kMean;
  if (name == "sentence") return Pooling::kSentence;
  if (name == "last") return Pooling::kLast;
  throw UsageError("unknown pooling '" + name +
                   "'; expected cls, pooler, mean, sentence, last or default");
}

std::unique_ptr<Encoder> load_encoder(const std::string& dir) {
  const std::string config_path = dir + "/config.json";
  if (!file_exists(config_path))
    throw InputError(config_path, 0,
                     "missing: an encoder directory holds config.json (with \"model_type\") and "
                     "its weights");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(config_path));
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(config_path, 0, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("model_type") || !j["model_type"].is_string())
    throw InputError(config_path, 0,
                     "no \"model_type\" string; expected \"bert\", \"gpt2\" or \"use_lite\"");
  const std::string type = j["model_type"].get<std::string>();
  if (type == "bert") return load_bert_encoder(dir);
  if (type == "gpt2") return load_gpt2_encoder(dir);
  if (type == "use_lite") return load_use_lite_encoder(dir);
  throw InputError(
      config_path, 0,
      "model_type \"" + type + "\" is not supported; expected \"bert\", \"gpt2\" or \"use_lite\"");
}

}  // namespace loid
