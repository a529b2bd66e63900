// GPT-2 decoder as a text encoder (Hugging Face layout: config.json with model_type "gpt2",
// vocab.json + merges.txt, model.safetensors) in libtorch. Module paths equal Hugging Face's
// GPT2Model names ("h.0.attn.c_attn"), so checkpoints load by name and LoRA adapters address the
// same paths as PEFT. GPT-2 stores its projections as Conv1D, weight (in, out); loid holds them as
// LoraLinear, weight (out, in), transposing on load and back on save (to_checkpoint_layout). PEFT's
// Conv1D adapters (fan_in_fan_out) keep lora_A (r, in) and lora_B (out, r), so they attach as for
// any linear map.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/bert.h"  // Activation
#include "nn/encoder.h"
#include "nn/lora.h"

namespace loid {

class SafeTensors;
class ByteBpeTokenizer;

// The fields of a Hugging Face GPT-2 config.json that shape the model.
struct Gpt2Config {
  std::int64_t vocab_size = 50257;               // rows of the token embedding table (wte)
  std::int64_t n_embd = 768;                     // width H of every token state
  std::int64_t n_layer = 12;                     // transformer blocks
  std::int64_t n_head = 12;                      // heads per block; must divide n_embd
  std::int64_t n_positions = 1024;               // rows of the position table (wpe): longest text
  std::int64_t n_inner = 0;                      // feed-forward width; 0 = 4 n_embd
  double layer_norm_epsilon = 1e-5;              // epsilon of every LayerNorm
  Activation activation = Activation::kGeluNew;  // activation_function ("gelu_new" = tanh form)
  bool scale_attn_weights = true;                // divide scores by sqrt(head width)
  bool scale_attn_by_inverse_layer_idx = false;  // also divide layer i's scores by i + 1
  std::int64_t eos_token_id = 50256;             // "<|endoftext|>"; written into padding

  std::int64_t inner() const { return n_inner > 0 ? n_inner : 4 * n_embd; }
  // Throws InputError naming `file` and the field when a size is not positive or the heads do
  // not divide the width.
  void validate(const std::string& file) const;
};

// Parses config.json text; `file` names it in errors. n_embd, n_layer, n_head and vocab_size are
// required; model_type, when present, must be "gpt2".
Gpt2Config parse_gpt2_config(const std::string& json_text, const std::string& file);
Gpt2Config read_gpt2_config(const std::string& path);

// ------------------------------------------------------------------------------------ modules

struct Gpt2AttentionImpl : torch::nn::Module {
  Gpt2AttentionImpl(const Gpt2Config& c, std::int64_t layer_index);
  // x (B, T, H), bias (B, 1, T, T) additive (0 or a large negative) -> (B, T, H)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& bias);

  std::int64_t heads_;
  double scale_;                                // multiplies q k^T
  LoraLinear c_attn{nullptr}, c_proj{nullptr};  // LoRA targets; c_attn gives q, k, v side by side
};
TORCH_MODULE(Gpt2Attention);

struct Gpt2MlpImpl : torch::nn::Module {
  explicit Gpt2MlpImpl(const Gpt2Config& c);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, H) -> (B, T, H)

  Activation act_;
  LoraLinear c_fc{nullptr}, c_proj{nullptr};  // LoRA targets
};
TORCH_MODULE(Gpt2Mlp);

// Pre-layer-norm block: x + attn(ln_1(x)), then + mlp(ln_2(.)).
struct Gpt2BlockImpl : torch::nn::Module {
  Gpt2BlockImpl(const Gpt2Config& c, std::int64_t layer_index);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& bias);  // (B, T, H)

  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  Gpt2Attention attn{nullptr};
  Gpt2Mlp mlp{nullptr};
};
TORCH_MODULE(Gpt2Block);

// The whole model; its parameter names are HF GPT2Model's ("h.0.mlp.c_fc.weight").
struct Gpt2ModelImpl : torch::nn::Module {
  explicit Gpt2ModelImpl(const Gpt2Config& c);
  // input_ids (B, T) int64, attention_mask (B, T) 1 = real token, right-padded -> final layer
  // norm's states (B, T, H), 0 at padding. Causal attention: with right padding a real token never
  // sees padding, so a padded batch gives each text's states as if it ran alone.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask);

  Gpt2Config config_;
  torch::nn::Embedding wte{nullptr}, wpe{nullptr};
  torch::nn::ModuleList h{nullptr};
  torch::nn::LayerNorm ln_f{nullptr};
};
TORCH_MODULE(Gpt2Model);

// The module paths of the Conv1D projections of a config's model, whose checkpoint weights are
// (in, out): "h.N.attn.c_attn", "h.N.attn.c_proj", "h.N.mlp.c_fc", "h.N.mlp.c_proj".
std::vector<std::string> gpt2_conv1d_paths(const Gpt2Config& c);

// Copies weights from a loaded checkpoint into `model`. Accepts HF names with or without the
// "transformer." prefix (GPT2LMHeadModel's), transposes Conv1D weights; every expected tensor must
// be present with its checkpoint shape (InputError naming the file, the tensor and both shapes
// otherwise). Extra tensors (lm_head.weight, attn.bias buffers, ...) are ignored with one log line.
void load_gpt2_weights(Gpt2Model& model, const SafeTensors& weights);

// ------------------------------------------------------------------------------------ encoder

struct Gpt2EncoderOptions {
  std::int64_t max_length = 0;  // tokens per text; 0 = n_positions
};

// GPT-2 behind the Encoder interface: byte-level BPE (no special tokens added), forward under
// no-grad unless training, pooling last (default: the last real token's state) or mean.
class Gpt2Encoder : public Encoder {
 public:
  Gpt2Encoder(Gpt2Config config, Gpt2Model model, std::shared_ptr<const ByteBpeTokenizer> tok,
              const Gpt2EncoderOptions& options = {});

  std::string kind() const override { return "gpt2"; }
  bool packs_tokens() const override { return false; }  // padded (B * T) rows
  std::int64_t width() const override { return config_.n_embd; }
  std::int64_t max_length() const override { return max_length_; }
  void set_max_length(std::int64_t n);  // 0 restores n_positions; UsageError past n_positions
  std::vector<TokenIds> token_ids(const std::vector<std::string>& texts) const override;
  std::int64_t pad_id() const override { return config_.eos_token_id; }
  EncoderOutput forward(const TokenBatch& batch, Pooling pooling = Pooling::kDefault) override;
  torch::nn::Module& module() override { return *model_; }
  // Four per block in forward order: attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj.
  std::vector<std::pair<std::string, LoraLinear>> adaptable_linears() override;
  void to_checkpoint_layout(std::map<std::string, torch::Tensor>& tensors) const override;
  // Per block and sequence of n tokens: n (4 H^2 + 2 H I) + 2 n^2 H (all keys, as computed).
  double multiply_adds(const std::vector<std::int64_t>& lengths) const override;

  const Gpt2Config& config() const { return config_; }
  Gpt2Model& model() { return model_; }

 private:
  EncoderOutput run(const TokenBatch& batch, Pooling pooling);

  Gpt2Config config_;
  Gpt2Model model_;
  std::shared_ptr<const ByteBpeTokenizer> tokenizer_;
  std::int64_t max_length_;
};

// Loads config.json, vocab.json, merges.txt and model.safetensors from a Hugging Face GPT-2
// directory.
std::unique_ptr<Gpt2Encoder> load_gpt2_encoder(const std::string& dir,
                                               const Gpt2EncoderOptions& options = {});

}  // namespace loid
