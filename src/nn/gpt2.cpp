// GPT-2 decoder as an encoder: config parsing, the pre-layer-norm causal transformer with HF
// parameter names, checkpoint loading (Conv1D weights transposed) with shape validation, and the
// Encoder implementation with last-token and mean pooling.
#include "nn/gpt2.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "io/safetensors.h"
#include "nn/shape.h"
#include "nn/tensor_io.h"
#include "text/byte_bpe.h"
#include "io/json_file.h"
#include "nn/tensor_util.h"

namespace loid {

namespace {

torch::Tensor activate(Activation act, const torch::Tensor& y) {
  switch (act) {
    case Activation::kGelu:
      return torch::gelu(y);
    case Activation::kGeluNew:
      return torch::gelu(y, "tanh");
    case Activation::kRelu:
      return torch::relu(y);
  }
  return y;
}

torch::nn::LayerNorm layer_norm(const Gpt2Config& c) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.n_embd}).eps(c.layer_norm_epsilon));
}

}  // namespace

void Gpt2Config::validate(const std::string& file) const {
  const std::pair<const char*, std::int64_t> sizes[] = {
      {"vocab_size", vocab_size}, {"n_embd", n_embd},           {"n_layer", n_layer},
      {"n_head", n_head},         {"n_positions", n_positions}, {"n_inner", inner()}};
  for (const auto& [key, value] : sizes)
    if (value <= 0)
      throw InputError(
          file, 0,
          std::string("field '") + key + "' must be positive, got " + std::to_string(value));
  if (n_embd % n_head != 0)
    throw InputError(file, 0,
                     "field 'n_embd' (" + std::to_string(n_embd) +
                         ") is not divisible by 'n_head' (" + std::to_string(n_head) + ")");
  if (!(layer_norm_epsilon > 0.0) || !std::isfinite(layer_norm_epsilon))
    throw InputError(file, 0, "field 'layer_norm_epsilon' must be a positive number");
}

Gpt2Config parse_gpt2_config(const std::string& json_text, const std::string& file) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(file, 0, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw InputError(file, 0, "expected a JSON object");
  if (j.contains("model_type") && j["model_type"] != "gpt2")
    throw InputError(file, 0, "model_type is " + j["model_type"].dump() + ", expected \"gpt2\"");
  Gpt2Config c;
  c.vocab_size = json_int_field(j, "vocab_size", c.vocab_size, true, file);
  c.n_embd = json_int_field(j, "n_embd", c.n_embd, true, file);
  c.n_layer = json_int_field(j, "n_layer", c.n_layer, true, file);
  c.n_head = json_int_field(j, "n_head", c.n_head, true, file);
  c.n_positions = json_int_field(j, "n_positions", c.n_positions, false, file);
  c.n_inner = json_int_field(j, "n_inner", 0, false, file);
  c.eos_token_id = json_int_field(j, "eos_token_id", c.eos_token_id, false, file);
  if (j.contains("layer_norm_epsilon")) {
    if (!j["layer_norm_epsilon"].is_number())
      throw InputError(file, 0, "field 'layer_norm_epsilon' must be a number");
    c.layer_norm_epsilon = j["layer_norm_epsilon"].get<double>();
  }
  if (j.contains("activation_function")) {
    if (!j["activation_function"].is_string())
      throw InputError(file, 0, "field 'activation_function' must be a string");
    const std::string name = j["activation_function"].get<std::string>();
    try {
      c.activation = activation_from_name(name, file);
    } catch (const InputError&) {
      throw InputError(file, 0,
                       "field 'activation_function' is '" + name +
                           "'; supported: gelu_new, gelu_pytorch_tanh, gelu, relu");
    }
  }
  c.scale_attn_weights = json_bool_field(j, "scale_attn_weights", true, file);
  c.scale_attn_by_inverse_layer_idx =
      json_bool_field(j, "scale_attn_by_inverse_layer_idx", false, file);
  if (json_bool_field(j, "add_cross_attention", false, file))
    throw InputError(file, 0,
                     "add_cross_attention = true (an encoder-decoder GPT-2) is not supported");
  c.validate(file);
  return c;
}

Gpt2Config read_gpt2_config(const std::string& path) {
  return parse_gpt2_config(read_file(path), path);
}

// ------------------------------------------------------------------------------------ modules

Gpt2AttentionImpl::Gpt2AttentionImpl(const Gpt2Config& c, std::int64_t layer_index)
    : heads_(c.n_head) {
  const double d = static_cast<double>(c.n_embd / c.n_head);
  scale_ = c.scale_attn_weights ? 1.0 / std::sqrt(d) : 1.0;
  if (c.scale_attn_by_inverse_layer_idx) scale_ /= static_cast<double>(layer_index + 1);
  c_attn = register_module("c_attn", adaptable_linear(c.n_embd, 3 * c.n_embd));
  c_proj = register_module("c_proj", adaptable_linear(c.n_embd, c.n_embd));
}

torch::Tensor Gpt2AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& bias) {
  const auto b = x.size(0), t = x.size(1), h = x.size(2), d = h / heads_;
  auto qkv = c_attn(x).view({b, t, 3, heads_, d}).permute({2, 0, 3, 1, 4});  // (3, B, nh, T, d)
  auto scores = torch::matmul(qkv[0], qkv[1].transpose(-1, -2)) * scale_;    // (B, nh, T, T)
  auto context = torch::matmul(torch::softmax(scores + bias, -1), qkv[2]);   // (B, nh, T, d)
  return c_proj(context.transpose(1, 2).reshape({b, t, h}));                 // (B, T, H)
}

Gpt2MlpImpl::Gpt2MlpImpl(const Gpt2Config& c) : act_(c.activation) {
  c_fc = register_module("c_fc", adaptable_linear(c.n_embd, c.inner()));
  c_proj = register_module("c_proj", adaptable_linear(c.inner(), c.n_embd));
}

torch::Tensor Gpt2MlpImpl::forward(const torch::Tensor& x) {
  return c_proj(activate(act_, c_fc(x)));  // (B, T, I) inside; (B, T, H) out
}

Gpt2BlockImpl::Gpt2BlockImpl(const Gpt2Config& c, std::int64_t layer_index) {
  ln_1 = register_module("ln_1", layer_norm(c));
  attn = register_module("attn", Gpt2Attention(c, layer_index));
  ln_2 = register_module("ln_2", layer_norm(c));
  mlp = register_module("mlp", Gpt2Mlp(c));
}

torch::Tensor Gpt2BlockImpl::forward(const torch::Tensor& x, const torch::Tensor& bias) {
  auto y = x + attn(ln_1(x), bias);  // (B, T, H)
  return y + mlp(ln_2(y));           // (B, T, H)
}

Gpt2ModelImpl::Gpt2ModelImpl(const Gpt2Config& c) : config_(c) {
  wte = register_module("wte", torch::nn::Embedding(c.vocab_size, c.n_embd));
  wpe = register_module("wpe", torch::nn::Embedding(c.n_positions, c.n_embd));
  h = register_module("h", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < c.n_layer; ++i) h->push_back(Gpt2Block(c, i));
  ln_f = register_module("ln_f", layer_norm(c));
}

torch::Tensor Gpt2ModelImpl::forward(const torch::Tensor& input_ids,
                                     const torch::Tensor& attention_mask) {
  TORCH_CHECK(input_ids.dim() == 2, "input_ids must be (B, T)");
  TORCH_CHECK(attention_mask.sizes() == input_ids.sizes(), "attention_mask must be (B, T)");
  const auto t = input_ids.size(1);
  TORCH_CHECK(t <= config_.n_positions, "sequence of ", t, " tokens exceeds n_positions ",
              config_.n_positions);
  auto positions = torch::arange(t, input_ids.options());  // (T)
  auto x = wte(input_ids) + wpe(positions).unsqueeze(0);   // (B, T, H)
  // Key j is visible to query i when j <= i and j is a real token; the bias is finite so that a
  // padding row (which no real token reads) still gives a softmax without NaN.
  auto keep = torch::ones({t, t}, attention_mask.options().dtype(torch::kBool)).tril();  // (T, T)
  auto visible = keep.unsqueeze(0) & attention_mask.ne(0).unsqueeze(1);  // (B, T, T)
  auto bias = torch::zeros(visible.sizes(), x.options())
                  .masked_fill(visible.logical_not(), large_negative(x.scalar_type()))
                  .unsqueeze(1);                                          // (B, 1, T, T)
  for (const auto& m : *h) x = m->as<Gpt2BlockImpl>()->forward(x, bias);  // (B, T, H)
  x = ln_f(x);                                                            // (B, T, H)
  return x * attention_mask.ne(0).unsqueeze(-1).to(x.scalar_type());      // 0 at padding
}

// ------------------------------------------------------------------------------------ loading

std::vector<std::string> gpt2_conv1d_paths(const Gpt2Config& c) {
  std::vector<std::string> out;
  for (std::int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "h." + std::to_string(i) + ".";
    for (const char* m : {"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"}) {
      out.push_back(p + m);
    }
  }
  return out;
}

void load_gpt2_weights(Gpt2Model& model, const SafeTensors& weights) {
  const std::string& file = weights.origin();
  std::set<std::string> conv1d_weights;
  for (const auto& p : gpt2_conv1d_paths(model->config_)) conv1d_weights.insert(p + ".weight");
  std::set<std::string> used;
  std::vector<std::string> missing;
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    torch::Tensor& param = item.value();
    // The one place where checkpoint names are mapped: GPT2Model's, or GPT2LMHeadModel's prefix.
    std::string found;
    for (const std::string& candidate : {name, "transformer." + name})
      if (weights.contains(candidate)) {
        found = candidate;
        break;
      }
    if (found.empty()) {
      missing.push_back(name);
      continue;
    }
    const bool conv1d = conv1d_weights.count(name) > 0;
    std::vector<std::int64_t> want = param.sizes().vec();
    if (conv1d) std::swap(want[0], want[1]);  // Conv1D stores (in, out)
    const auto& shape = weights.info(found).shape;
    if (shape != want)
      throw InputError(file, 0,
                       "tensor '" + found + "' has shape " + shape_str(shape) + ", expected " +
                           shape_str(want) +
                           (conv1d ? " (a Conv1D weight, stored (in, out))" : "") +
                           " from config.json (wrong config.json for these weights?)");
    torch::Tensor value = tensor_from(weights, found);
    param.copy_(conv1d ? value.t() : value);
    used.insert(found);
  }
  if (!missing.empty()) {
    std::vector<std::int64_t> shape = model->named_parameters()[missing.front()].sizes().vec();
    if (conv1d_weights.count(missing.front())) std::swap(shape[0], shape[1]);
    throw InputError(file, 0,
                     "tensor '" + missing.front() + "' is missing (expected shape " +
                         shape_str(shape) + "; " + std::to_string(missing.size()) +
                         " expected tensors missing in all; is this a GPT-2 checkpoint?)");
  }
  std::vector<std::string> extra;
  for (const auto& kv : weights.tensors())
    if (!used.count(kv.first)) extra.push_back(kv.first);
  if (!extra.empty())
    log_info(file + ": ignoring " + std::to_string(extra.size()) +
             " tensors that are not part of GPT2Model (e.g. '" + extra.front() + "')");
}

// ------------------------------------------------------------------------------------ encoder

Gpt2Encoder::Gpt2Encoder(Gpt2Config config, Gpt2Model model,
                         std::shared_ptr<const ByteBpeTokenizer> tok,
                         const Gpt2EncoderOptions& options)
    : config_(std::move(config)), model_(std::move(model)), tokenizer_(std::move(tok)) {
  set_max_length(options.max_length);
  model_->eval();
}

void Gpt2Encoder::set_max_length(std::int64_t n) {
  if (n < 0 || n > config_.n_positions)
    throw UsageError("max_length " + std::to_string(n) + " is outside [0, n_positions " +
                     std::to_string(config_.n_positions) + "]");
  max_length_ = n == 0 ? config_.n_positions : n;
}

std::vector<TokenIds> Gpt2Encoder::token_ids(const std::vector<std::string>& texts) const {
  return parallel_token_ids(texts.size(), [&](std::size_t i) {
    return tokenizer_->encode(texts[i], static_cast<std::size_t>(max_length_));
  });
}

EncoderOutput Gpt2Encoder::forward(const TokenBatch& batch, Pooling pooling) {
  if (model_->is_training()) return run(batch, pooling);
  torch::NoGradGuard no_grad;  // as BertEncoder::forward
  return run(batch, pooling);
}

EncoderOutput Gpt2Encoder::run(const TokenBatch& batch, Pooling pooling) {
  if (pooling != Pooling::kDefault && pooling != Pooling::kLast && pooling != Pooling::kMean)
    throw UsageError(
        "a GPT-2 encoder takes pooling 'last' (the last real token, its default) or 'mean'; "
        "cls, pooler and sentence belong to BERT and USE-Lite");
  const auto device = model_->wte->weight.device();
  auto ids = batch.input_ids.to(device);        // (B, T)
  auto mask = batch.attention_mask.to(device);  // (B, T)
  EncoderOutput out;
  out.token_states = model_->forward(ids, mask);  // (B, T, H)
  if (pooling == Pooling::kMean) {
    auto m = mask.to(out.token_states.scalar_type()).unsqueeze(-1);         // (B, T, 1)
    out.vectors = (out.token_states * m).sum(1) / m.sum(1).clamp_min(1.0);  // (B, H)
  } else {
    // Right padding: the last real token sits at length - 1 (an empty text reads position 0).
    auto last = (mask.ne(0).sum(1) - 1).clamp_min(0);                              // (B)
    auto index = last.view({-1, 1, 1}).expand({-1, 1, out.token_states.size(2)});  // (B, 1, H)
    out.vectors = out.token_states.gather(1, index).squeeze(1);                    // (B, H)
  }
  return out;
}

std::vector<std::pair<std::string, LoraLinear>> Gpt2Encoder::adaptable_linears() {
  std::vector<std::pair<std::string, LoraLinear>> out;
  for (std::size_t i = 0; i < model_->h->size(); ++i) {
    auto block = model_->h[i]->as<Gpt2BlockImpl>();
    const std::string p = "h." + std::to_string(i) + ".";
    out.emplace_back(p + "attn.c_attn", block->attn->c_attn);
    out.emplace_back(p + "attn.c_proj", block->attn->c_proj);
    out.emplace_back(p + "mlp.c_fc", block->mlp->c_fc);
    out.emplace_back(p + "mlp.c_proj", block->mlp->c_proj);
  }
  return out;
}

void Gpt2Encoder::to_checkpoint_layout(std::map<std::string, torch::Tensor>& tensors) const {
  for (const auto& p : gpt2_conv1d_paths(config_)) {
    auto it = tensors.find(p + ".weight");
    if (it != tensors.end()) it->second = it->second.t().contiguous();  // (out, in) -> (in, out)
  }
}

double Gpt2Encoder::multiply_adds(const std::vector<std::int64_t>& lengths) const {
  const double h = static_cast<double>(config_.n_embd);
  const double inner = static_cast<double>(config_.inner());
  double total = 0.0;
  for (std::int64_t len : lengths) {
    const double n = static_cast<double>(len);
    total += n * (4.0 * h * h + 2.0 * h * inner) + 2.0 * n * n * h;
  }
  return total * static_cast<double>(config_.n_layer);
}

std::unique_ptr<Gpt2Encoder> load_gpt2_encoder(const std::string& dir,
                                               const Gpt2EncoderOptions& options) {
  Gpt2Config config = read_gpt2_config(dir + "/config.json");
  const std::string vocab = dir + "/vocab.json", merges = dir + "/merges.txt";
  const std::string weights_path = dir + "/model.safetensors";
  for (const std::string& f : {vocab, merges, weights_path})
    if (!file_exists(f))
      throw InputError(f, 0,
                       "missing: a GPT-2 directory needs config.json, vocab.json, merges.txt and "
                       "model.safetensors");
  auto tokenizer =
      std::make_shared<const ByteBpeTokenizer>(ByteBpeTokenizer::from_files(vocab, merges));
  if (static_cast<std::int64_t>(tokenizer->vocab_size()) > config.vocab_size)
    throw InputError(vocab, 0,
                     "has " + std::to_string(tokenizer->vocab_size()) +
                         " entries but config.json says vocab_size " +
                         std::to_string(config.vocab_size) + " (wrong vocab.json?)");
  if (config.eos_token_id < 0 || config.eos_token_id >= config.vocab_size) config.eos_token_id = 0;
  Gpt2Model model(config);
  load_gpt2_weights(model, SafeTensors::load(weights_path));
  return std::make_unique<Gpt2Encoder>(std::move(config), std::move(model), std::move(tokenizer),
                                       options);
}

}  // namespace loid
