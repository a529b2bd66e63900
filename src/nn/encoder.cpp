// Encoder dispatch: pooling names and load_encoder(), which picks the implementation from the
// model directory's config.json "model_type".
#include "nn/encoder.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "nn/bert.h"
#include "nn/use_lite.h"

namespace loid {

LoraLinear adaptable_linear(std::int64_t in, std::int64_t out) {
  return LoraLinear(torch::nn::Linear(in, out));  // copies Linear's default initialisation
}

Pooling pooling_from_name(const std::string& name) {
  if (name == "default") return Pooling::kDefault;
  if (name == "cls") return Pooling::kCls;
  if (name == "pooler") return Pooling::kPooler;
  if (name == "mean") return Pooling::kMean;
  if (name == "sentence") return Pooling::kSentence;
  throw UsageError("unknown pooling '" + name +
                   "'; expected cls, pooler, mean, sentence or default");
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
    throw InputError(config_path, 0, "no \"model_type\" string; expected \"bert\" or \"use_lite\"");
  const std::string type = j["model_type"].get<std::string>();
  if (type == "bert") return load_bert_encoder(dir);
  if (type == "use_lite") return load_use_lite_encoder(dir);
  throw InputError(
      config_path, 0,
      "model_type \"" + type + "\" is not supported; expected \"bert\" or \"use_lite\"");
}

}  // namespace loid
