// BERT-family encoder: config parsing, the post-layer-norm transformer with HF parameter names,
// checkpoint loading with shape validation, and the Encoder implementation.
#include "nn/bert.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "io/safetensors.h"
#include "nn/shape.h"
#include "nn/tensor_io.h"
#include "text/wordpiece.h"
#include "io/json_file.h"
#include "nn/tensor_util.h"

namespace loid {

namespace {}  // namespace

Activation activation_from_name(const std::string& name, const std::string& file) {
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::kGeluNew;
  if (name == "relu") return Activation::kRelu;
  throw InputError(file, 0,
                   "field 'hidden_act' is '" + name + "'; supported: gelu, gelu_new, relu");
}

void BertConfig::validate(const std::string& file) const {
  const std::pair<const char*, std::int64_t> sizes[] = {
      {"vocab_size", vocab_size},
      {"hidden_size", hidden_size},
      {"num_hidden_layers", num_hidden_layers},
      {"num_attention_heads", num_attention_heads},
      {"intermediate_size", intermediate_size},
      {"max_position_embeddings", max_position_embeddings},
      {"type_vocab_size", type_vocab_size}};
  for (const auto& [key, value] : sizes)
    if (value <= 0)
      throw InputError(
          file, 0,
          std::string("field '") + key + "' must be positive, got " + std::to_string(value));
  if (hidden_size % num_attention_heads != 0)
    throw InputError(file, 0,
                     "field 'hidden_size' (" + std::to_string(hidden_size) +
                         ") is not divisible by 'num_attention_heads' (" +
                         std::to_string(num_attention_heads) + ")");
  if (!(layer_norm_eps > 0.0) || !std::isfinite(layer_norm_eps))
    throw InputError(file, 0, "field 'layer_norm_eps' must be a positive number");
  if (pad_token_id < 0 || pad_token_id >= vocab_size)
    throw InputError(file, 0,
                     "field 'pad_token_id' (" + std::to_string(pad_token_id) +
                         ") is outside the vocabulary (vocab_size " + std::to_string(vocab_size) +
                         ")");
}

BertConfig parse_bert_config(const std::string& json_text, const std::string& file) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(file, 0, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw InputError(file, 0, "expected a JSON object");
  if (j.contains("model_type") && j["model_type"] != "bert")
    throw InputError(file, 0, "model_type is " + j["model_type"].dump() + ", expected \"bert\"");
  BertConfig c;
  c.vocab_size = json_int_field(j, "vocab_size", c.vocab_size, true, file);
  c.hidden_size = json_int_field(j, "hidden_size", c.hidden_size, true, file);
  c.num_hidden_layers = json_int_field(j, "num_hidden_layers", c.num_hidden_layers, true, file);
  c.num_attention_heads =
      json_int_field(j, "num_attention_heads", c.num_attention_heads, true, file);
  c.intermediate_size = json_int_field(j, "intermediate_size", 4 * c.hidden_size, false, file);
  c.max_position_embeddings =
      json_int_field(j, "max_position_embeddings", c.max_position_embeddings, false, file);
  c.type_vocab_size = json_int_field(j, "type_vocab_size", c.type_vocab_size, false, file);
  c.pad_token_id = json_int_field(j, "pad_token_id", c.pad_token_id, false, file);
  if (j.contains("layer_norm_eps")) {
    if (!j["layer_norm_eps"].is_number())
      throw InputError(file, 0, "field 'layer_norm_eps' must be a number");
    c.layer_norm_eps = j["layer_norm_eps"].get<double>();
  }
  if (j.contains("hidden_act")) {
    if (!j["hidden_act"].is_string())
      throw InputError(file, 0, "field 'hidden_act' must be a string");
    c.hidden_act = activation_from_name(j["hidden_act"].get<std::string>(), file);
  }
  if (j.contains("do_lower_case") && j["do_lower_case"].is_boolean())
    c.do_lower_case = j["do_lower_case"].get<bool>();
  c.validate(file);
  return c;
}

BertConfig read_bert_config(const std::string& path) {
  return parse_bert_config(read_file(path), path);
}

// ------------------------------------------------------------------------------------ modules

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig& c) {
  word_embeddings =
      register_module("word_embeddings", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  position_embeddings = register_module(
      "position_embeddings", torch::nn::Embedding(c.max_position_embeddings, c.hidden_size));
  token_type_embeddings = register_module("token_type_embeddings",
                                          torch::nn::Embedding(c.type_vocab_size, c.hidden_size));
  LayerNorm = register_module(
      "LayerNorm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor& input_ids) {
  const auto t = input_ids.size(1);
  auto positions = torch::arange(t, input_ids.options());  // (T)
  auto x = word_embeddings(input_ids);                     // (B, T, H)
  x = x + position_embeddings(positions).unsqueeze(0);     // (B, T, H)
  // Token type 0 for every token: one row of the table, broadcast.
  x = x + token_type_embeddings->weight[0];  // (B, T, H)
  return LayerNorm(x);                       // (B, T, H)
}

BertSelfAttentionImpl::BertSelfAttentionImpl(const BertConfig& c) : heads_(c.num_attention_heads) {
  query = register_module("query", adaptable_linear(c.hidden_size, c.hidden_size));
  key = register_module("key", adaptable_linear(c.hidden_size, c.hidden_size));
  value = register_module("value", adaptable_linear(c.hidden_size, c.hidden_size));
}

torch::Tensor BertSelfAttentionImpl::forward(const torch::Tensor& x, const TokenRows& rows) {
  const auto h = x.size(-1), d = h / heads_;
  const double root_d = std::sqrt(static_cast<double>(d));
  // Over one padded block of sequences: each input (b, t, H), or one (b, t, 3H) with q, k, v side
  // by side.
  auto attention = [&](const std::vector<torch::Tensor>& in, const torch::Tensor& bias) {
    const auto b = in[0].size(0), t = in[0].size(1);
    torch::Tensor q, k, v;
    if (in.size() == 1) {
      auto parts = in[0].view({b, t, 3, heads_, d}).permute({2, 0, 3, 1, 4});  // (3, b, nh, t, d)
      q = parts[0];
      k = parts[1];
      v = parts[2];
    } else {
      auto heads = [&](const torch::Tensor& y) {
        return y.view({b, t, heads_, d}).transpose(1, 2);
      };
      q = heads(in[0]);  // (b, nh, t, d)
      k = heads(in[1]);
      v = heads(in[2]);
    }
    auto scores = torch::matmul(q, k.transpose(-1, -2)) / root_d;  // (b, nh, t, t)
    return torch::matmul(torch::softmax(scores + bias, -1), v)     // (b, nh, t, d)
        .transpose(1, 2)
        .reshape({b, t, h});  // (b, t, H)
  };
  if (!torch::GradMode::is_enabled() && query->plain() && key->plain() && value->plain() &&
      query->bias.defined() && key->bias.defined() && value->bias.defined()) {
    // Frozen inference: one (N, 3H) product instead of three (N, H) ones, which run nearer the
    // GEMM peak (the concatenated weights are 3 H^2 floats, small next to the product), gathered
    // into the padded blocks once.
    auto w = torch::cat({query->weight, key->weight, value->weight});  // (3H, H)
    auto bias = torch::cat({query->bias, key->bias, value->bias});     // (3H)
    auto qkv = torch::nn::functional::linear(x, w, bias);              // (N, 3H)
    if (rows.can_attend_packed(qkv)) return rows.attend_packed(qkv, heads_, 1.0 / root_d);
    return rows.attend({qkv}, attention);  // (N, H)
  }
  auto q = query(x), k = key(x), v = value(x);  // (N, H) each
  if (rows.packs_attention() && q.scalar_type() == torch::kFloat32) {
    auto qkv = torch::cat({q, k, v}, 1);  // (N, 3H)
    if (rows.can_attend_packed(qkv)) return rows.attend_packed(qkv, heads_, 1.0 / root_d);
  }
  return rows.attend({q, k, v}, attention);  // (N, H)
}

BertResidualImpl::BertResidualImpl(std::int64_t in, const BertConfig& c) {
  dense = register_module("dense", adaptable_linear(in, c.hidden_size));
  LayerNorm = register_module(
      "LayerNorm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
}

torch::Tensor BertResidualImpl::forward(const torch::Tensor& x, const torch::Tensor& residual) {
  return LayerNorm(dense(x) + residual);  // (B, T, in) -> (B, T, H)
}

BertAttentionImpl::BertAttentionImpl(const BertConfig& c) {
  self = register_module("self", BertSelfAttention(c));
  output = register_module("output", BertResidual(c.hidden_size, c));
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor& x, const TokenRows& rows) {
  return output(self(x, rows), x);  // (N, H)
}

BertIntermediateImpl::BertIntermediateImpl(const BertConfig& c) : act_(c.hidden_act) {
  dense = register_module("dense", adaptable_linear(c.hidden_size, c.intermediate_size));
}

torch::Tensor BertIntermediateImpl::forward(const torch::Tensor& x) {
  auto y = dense(x);  // (B, T, I)
  switch (act_) {
    case Activation::kGelu:
      return torch::gelu(y);  // exact erf form
    case Activation::kGeluNew:
      return torch::gelu(y, "tanh");
    case Activation::kRelu:
      return torch::relu(y);
  }
  return y;
}

BertLayerImpl::BertLayerImpl(const BertConfig& c) {
  attention = register_module("attention", BertAttention(c));
  intermediate = register_module("intermediate", BertIntermediate(c));
  output = register_module("output", BertResidual(c.intermediate_size, c));
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& x, const TokenRows& rows) {
  auto a = attention(x, rows);        // (N, H)
  return output(intermediate(a), a);  // (N, H)
}

BertPoolerImpl::BertPoolerImpl(const BertConfig& c) {
  dense = register_module("dense", adaptable_linear(c.hidden_size, c.hidden_size));
}

torch::Tensor BertPoolerImpl::forward(const torch::Tensor& states) {
  return torch::tanh(dense(states.select(1, 0)));  // (B, H)
}

BertLayersImpl::BertLayersImpl(const BertConfig& c) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < c.num_hidden_layers; ++i) layer->push_back(BertLayer(c));
}

torch::Tensor BertLayersImpl::forward(torch::Tensor x, const TokenRows& rows) {
  for (const auto& m : *layer) x = m->as<BertLayerImpl>()->forward(x, rows);  // (N, H)
  return x;
}

BertModelImpl::BertModelImpl(const BertConfig& c) : config_(c) {
  embeddings = register_module("embeddings", BertEmbeddings(c));
  encoder = register_module("encoder", BertLayers(c));
  pooler = register_module("pooler", BertPooler(c));
}

torch::Tensor BertModelImpl::forward(const torch::Tensor& input_ids,
                                     const torch::Tensor& attention_mask) {
  TORCH_CHECK(input_ids.dim() == 2, "input_ids must be (B, T)");
  TORCH_CHECK(input_ids.size(1) <= config_.max_position_embeddings, "sequence of ",
              input_ids.size(1), " tokens exceeds max_position_embeddings ",
              config_.max_position_embeddings);
  auto x = embeddings(input_ids);  // (B, T, H)
  // Only attention needs a padded layout, on blocks of similar lengths; every other map runs on
  // the real tokens' rows. Padded keys get an additive bias: a large negative, finite in x's dtype.
  const auto rows =
      TokenRows::of(attention_mask.ne(0).to(x.scalar_type()), large_negative(x.scalar_type()));
  return rows.pad(encoder(rows.pack(x), rows));  // (B, T, H), 0 on padding
}

// ------------------------------------------------------------------------------------ loading

namespace {

// Names a parameter may carry in a checkpoint: HF BertModel's, BertFor*'s "bert." prefix, and the
// old TF-converted LayerNorm names. The one place where checkpoint names are mapped.
std::vector<std::string> checkpoint_names(const std::string& name) {
  std::vector<std::string> out = {name, "bert." + name};
  const std::string ln_w = "LayerNorm.weight", ln_b = "LayerNorm.bias";
  auto ends_with = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  std::string old;
  if (ends_with(ln_w)) old = name.substr(0, name.size() - 6) + "gamma";
  if (ends_with(ln_b)) old = name.substr(0, name.size() - 4) + "beta";
  if (!old.empty()) {
    out.push_back(old);
    out.push_back("bert." + old);
  }
  return out;
}

}  // namespace

void load_bert_weights(BertModel& model, const SafeTensors& weights) {
  const std::string& file = weights.origin();
  std::set<std::string> used;
  std::vector<std::string> missing;
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    torch::Tensor& param = item.value();
    std::string found;
    for (const auto& candidate : checkpoint_names(name))
      if (weights.contains(candidate)) {
        found = candidate;
        break;
      }
    if (found.empty()) {
      missing.push_back(name);
      continue;
    }
    const auto& shape = weights.info(found).shape;
    if (shape != param.sizes().vec())
      throw InputError(file, 0,
                       "tensor '" + found + "' has shape " + shape_str(shape) + ", expected " +
                           shape_str(param.sizes().vec()) +
                           " from config.json (wrong config.json for these weights?)");
    param.copy_(tensor_from(weights, found));
    used.insert(found);
  }
  if (!missing.empty())
    throw InputError(file, 0,
                     "tensor '" + missing.front() + "' is missing (expected shape " +
                         shape_str(model->named_parameters()[missing.front()].sizes().vec()) +
                         "; " + std::to_string(missing.size()) +
                         " expected tensors missing in all; is this a BERT checkpoint?)");
  std::vector<std::string> extra;
  for (const auto& kv : weights.tensors())
    if (!used.count(kv.first)) extra.push_back(kv.first);
  if (!extra.empty())
    log_info(file + ": ignoring " + std::to_string(extra.size()) +
             " tensors that are not part of BertModel (e.g. '" + extra.front() + "')");
}

// ------------------------------------------------------------------------------------ encoder

BertEncoder::BertEncoder(BertConfig config, BertModel model,
                         std::shared_ptr<const WordPieceTokenizer> tok,
                         const BertEncoderOptions& options)
    : config_(std::move(config)), model_(std::move(model)), tokenizer_(std::move(tok)) {
  set_max_length(options.max_length);
  model_->eval();
}

void BertEncoder::set_max_length(std::int64_t n) {
  if (n < 0) throw UsageError("max_length must be >= 0, got " + std::to_string(n));
  if (n > config_.max_position_embeddings)
    throw UsageError("max_length " + std::to_string(n) + " exceeds the model's " +
                     "max_position_embeddings " + std::to_string(config_.max_position_embeddings));
  if (n != 0 && n < 2) throw UsageError("max_length must leave room for [CLS] and [SEP]");
  max_length_ = n == 0 ? config_.max_position_embeddings : n;
}

std::vector<TokenIds> BertEncoder::token_ids(const std::vector<std::string>& texts) const {
  return parallel_token_ids(
      texts.size(), [&](std::size_t i) { return tokenizer_->encode(texts[i], max_length_); });
}

EncoderOutput BertEncoder::forward(const TokenBatch& batch, Pooling pooling) {
  if (model_->is_training()) return run(batch, pooling);
  // No graph for frozen inference. NoGradGuard rather than InferenceMode: the vectors are often
  // cached and fed to trainable layers, which inference tensors cannot be.
  torch::NoGradGuard no_grad;
  return run(batch, pooling);
}

EncoderOutput BertEncoder::run(const TokenBatch& batch, Pooling pooling) {
  if (pooling == Pooling::kSentence || pooling == Pooling::kLast)
    throw UsageError(
        "pooling 'sentence' (USE-Lite's own) and 'last' (decoders') are not BERT's; a BERT "
        "encoder takes cls, pooler or mean");
  const auto device = model_->embeddings->word_embeddings->weight.device();
  auto ids = batch.input_ids.to(device);        // (B, T)
  auto mask = batch.attention_mask.to(device);  // (B, T)
  EncoderOutput out;
  out.token_states = model_->forward(ids, mask);  // (B, T, H)
  switch (pooling) {
    case Pooling::kDefault:
    case Pooling::kCls:
      out.vectors = out.token_states.select(1, 0);  // (B, H)
      break;
    case Pooling::kPooler:
      out.vectors = model_->pooler(out.token_states);  // (B, H)
      break;
    case Pooling::kMean: {
      auto m = mask.to(out.token_states.scalar_type()).unsqueeze(-1);  // (B, T, 1)
      auto sum = (out.token_states * m).sum(1);                        // (B, H)
      out.vectors = sum / m.sum(1).clamp_min(1.0);                     // (B, H)
      break;
    }
    case Pooling::kLast:  // rejected above
    case Pooling::kSentence:
      break;
  }
  return out;
}

std::vector<std::pair<std::string, LoraLinear>> BertEncoder::adaptable_linears() {
  std::vector<std::pair<std::string, LoraLinear>> out;
  const auto& layers = *model_->encoder->layer;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    auto l = layers[i]->as<BertLayerImpl>();
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    out.emplace_back(p + "attention.self.query", l->attention->self->query);
    out.emplace_back(p + "attention.self.key", l->attention->self->key);
    out.emplace_back(p + "attention.self.value", l->attention->self->value);
    out.emplace_back(p + "attention.output.dense", l->attention->output->dense);
    out.emplace_back(p + "intermediate.dense", l->intermediate->dense);
    out.emplace_back(p + "output.dense", l->output->dense);
  }
  out.emplace_back("pooler.dense", model_->pooler->dense);
  return out;
}

double BertEncoder::multiply_adds(const std::vector<std::int64_t>& lengths) const {
  const double h = static_cast<double>(config_.hidden_size);
  const double inner = static_cast<double>(config_.intermediate_size);
  double total = 0.0;
  for (std::int64_t len : lengths) {
    const double n = static_cast<double>(len);
    total += n * (4.0 * h * h + 2.0 * h * inner) + 2.0 * n * n * h;
  }
  return total * static_cast<double>(config_.num_hidden_layers);
}

namespace {

// do_lower_case from config.json (already parsed), overridden by tokenizer_config.json if present.
bool lower_case_for(const std::string& dir, const BertConfig& config) {
  const std::string path = dir + "/tokenizer_config.json";
  if (!file_exists(path)) return config.do_lower_case;
  try {
    auto j = nlohmann::json::parse(read_file(path));
    if (j.is_object() && j.contains("do_lower_case") && j["do_lower_case"].is_boolean())
      return j["do_lower_case"].get<bool>();
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path, 0, std::string("not valid JSON: ") + e.what());
  }
  return config.do_lower_case;
}

}  // namespace

std::unique_ptr<BertEncoder> load_bert_encoder(const std::string& dir,
                                               const BertEncoderOptions& options) {
  BertConfig config = read_bert_config(dir + "/config.json");
  const std::string vocab = dir + "/vocab.txt";
  if (!file_exists(vocab))
    throw InputError(vocab, 0,
                     "missing: a BERT directory needs config.json, vocab.txt and "
                     "model.safetensors");
  const std::string weights_path = dir + "/model.safetensors";
  if (!file_exists(weights_path))
    throw InputError(weights_path, 0,
                     "missing: a BERT directory needs model.safetensors (convert a "
                     "pytorch_model.bin with the safetensors package first)");
  WordPieceOptions wp;
  wp.lower_case = lower_case_for(dir, config);
  auto tokenizer =
      std::make_shared<const WordPieceTokenizer>(WordPieceTokenizer::from_vocab_txt(vocab, wp));
  if (tokenizer->vocab_size() > config.vocab_size)
    throw InputError(vocab, 0,
                     "has " + std::to_string(tokenizer->vocab_size()) +
                         " entries but config.json says vocab_size " +
                         std::to_string(config.vocab_size) + " (wrong vocab.txt?)");
  BertModel model(config);
  load_bert_weights(model, SafeTensors::load(weights_path));
  return std::make_unique<BertEncoder>(std::move(config), std::move(model), std::move(tokenizer),
                                       options);
}

}  // namespace loid
