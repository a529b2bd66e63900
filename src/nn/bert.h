// BERT-family text encoder (Hugging Face layout: config.json, vocab.txt, model.safetensors) in
// libtorch. Parameter names equal Hugging Face's BertModel names, so checkpoints load by name and
// LoRA adapters address the same module paths as PEFT.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/encoder.h"
#include "nn/lora.h"
#include "nn/token_rows.h"

namespace loid {

class SafeTensors;
class WordPieceTokenizer;

enum class Activation { kGelu, kGeluNew, kRelu };
Activation activation_from_name(const std::string& name, const std::string& file);

// The fields of a Hugging Face BERT config.json that shape the model.
struct BertConfig {
  std::int64_t vocab_size = 30522;             // rows of the word embedding table
  std::int64_t hidden_size = 768;              // width H of every token state
  std::int64_t num_hidden_layers = 12;         // transformer blocks
  std::int64_t num_attention_heads = 12;       // heads per block; must divide hidden_size
  std::int64_t intermediate_size = 3072;       // width of the feed-forward layer
  std::int64_t max_position_embeddings = 512;  // longest sequence the position table covers
  std::int64_t type_vocab_size = 2;            // token type (segment) embeddings
  double layer_norm_eps = 1e-12;               // epsilon of every LayerNorm
  Activation hidden_act = Activation::kGelu;   // feed-forward activation ("gelu" = exact erf)
  std::int64_t pad_token_id = 0;               // id used for padding
  bool do_lower_case = true;                   // tokenizer lower-cases and strips accents

  // Throws InputError naming `file` and the field when a size is not positive or the heads do
  // not divide the width.
  void validate(const std::string& file) const;
};

// Parses config.json text; `file` names it in errors. Missing fields keep the defaults above
// except hidden_size, num_hidden_layers, num_attention_heads and vocab_size, which are required.
BertConfig parse_bert_config(const std::string& json_text, const std::string& file);
BertConfig read_bert_config(const std::string& path);

// ------------------------------------------------------------------------------------ modules

struct BertEmbeddingsImpl : torch::nn::Module {
  explicit BertEmbeddingsImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& input_ids);  // (B, T) -> (B, T, H)

  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr},
      token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // NOLINT: HF's name
};
TORCH_MODULE(BertEmbeddings);

struct BertSelfAttentionImpl : torch::nn::Module {
  explicit BertSelfAttentionImpl(const BertConfig& c);
  // x (N, H) real-token rows of `rows` -> context (N, H); the scores and context see padded
  // blocks of sequences (TokenRows::attend).
  torch::Tensor forward(const torch::Tensor& x, const TokenRows& rows);

  std::int64_t heads_;
  LoraLinear query{nullptr}, key{nullptr}, value{nullptr};  // LoRA targets
};
TORCH_MODULE(BertSelfAttention);

// A dense projection, residual add and LayerNorm (HF's BertSelfOutput and BertOutput).
struct BertResidualImpl : torch::nn::Module {
  BertResidualImpl(std::int64_t in, const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual);

  LoraLinear dense{nullptr};                // a LoRA target
  torch::nn::LayerNorm LayerNorm{nullptr};  // NOLINT: HF's name
};
TORCH_MODULE(BertResidual);

struct BertAttentionImpl : torch::nn::Module {
  explicit BertAttentionImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const TokenRows& rows);  // (N, H) -> (N, H)

  BertSelfAttention self{nullptr};
  BertResidual output{nullptr};
};
TORCH_MODULE(BertAttention);

struct BertIntermediateImpl : torch::nn::Module {
  explicit BertIntermediateImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x);  // (N, H) -> (N, I)

  Activation act_;
  LoraLinear dense{nullptr};  // a LoRA target
};
TORCH_MODULE(BertIntermediate);

struct BertLayerImpl : torch::nn::Module {
  explicit BertLayerImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const TokenRows& rows);  // (N, H) -> (N, H)

  BertAttention attention{nullptr};
  BertIntermediate intermediate{nullptr};
  BertResidual output{nullptr};
};
TORCH_MODULE(BertLayer);

struct BertPoolerImpl : torch::nn::Module {
  explicit BertPoolerImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& states);  // (B, T, H) -> tanh(W h_cls + b) (B, H)

  LoraLinear dense{nullptr};  // a LoRA target when named ("dense", "pooler.dense"), not by default
};
TORCH_MODULE(BertPooler);

// The stack of blocks (HF's BertEncoder; "encoder.layer.N").
struct BertLayersImpl : torch::nn::Module {
  explicit BertLayersImpl(const BertConfig& c);
  // x (N, H) real-token rows of `rows` -> (N, H)
  torch::Tensor forward(torch::Tensor x, const TokenRows& rows);

  torch::nn::ModuleList layer{nullptr};
};
TORCH_MODULE(BertLayers);

// The whole model; its parameter names are HF BertModel's ("encoder.layer.0.output.dense.weight").
struct BertModelImpl : torch::nn::Module {
  explicit BertModelImpl(const BertConfig& c);
  // input_ids (B, T) int64, attention_mask (B, T) 1 = real token -> last layer states (B, T, H).
  // Padding positions are zero: after the embeddings only attention sees the padded layout, and
  // projections, feed-forward and layer norms run on the real tokens alone (their values at
  // padding never reach a real token, since padded keys are masked).

  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask);

  BertConfig config_;
  BertEmbeddings embeddings{nullptr};
  BertLayers encoder{nullptr};
  BertPooler pooler{nullptr};
};
TORCH_MODULE(BertModel);

// Copies weights from a loaded checkpoint into `model`. Accepts HF names with or without the
// "bert." prefix (and the old LayerNorm gamma/beta names); every expected tensor must be present
// with the model's shape (InputError naming the file, the tensor and both shapes otherwise).
// Extra tensors (cls.predictions.*, ...) are ignored with one log line.
void load_bert_weights(BertModel& model, const SafeTensors& weights);

// ------------------------------------------------------------------------------------ encoder

struct BertEncoderOptions {
  std::int64_t max_length = 0;  // tokens per text incl. [CLS]/[SEP]; 0 = max_position_embeddings
};

// BERT behind the Encoder interface: WordPiece tokenization, forward under inference mode (unless
// the module is in training mode), pooling cls (default), pooler or mean.
class BertEncoder : public Encoder {
 public:
  BertEncoder(BertConfig config, BertModel model, std::shared_ptr<const WordPieceTokenizer> tok,
              const BertEncoderOptions& options = {});

  std::string kind() const override { return "bert"; }
  std::int64_t width() const override { return config_.hidden_size; }
  std::int64_t max_length() const override { return max_length_; }
  void set_max_length(std::int64_t n);  // 0 restores max_position_embeddings
  std::vector<TokenIds> token_ids(const std::vector<std::string>& texts) const override;
  std::int64_t pad_id() const override { return config_.pad_token_id; }
  EncoderOutput forward(const TokenBatch& batch, Pooling pooling = Pooling::kDefault) override;
  torch::nn::Module& module() override { return *model_; }
  // Six linears per layer in forward order, then "pooler.dense".
  std::vector<std::pair<std::string, LoraLinear>> adaptable_linears() override;
  bool default_target(const std::string& path) const override { return path != "pooler.dense"; }
  // Per layer and sequence of n tokens: n (4 H^2 + 2 H I) for the projections and feed-forward
  // plus 2 n^2 H for the attention scores and context; the embeddings and pooling not counted.
  double multiply_adds(const std::vector<std::int64_t>& lengths) const override;

  const BertConfig& config() const { return config_; }
  BertModel& model() { return model_; }

 private:
  EncoderOutput run(const TokenBatch& batch, Pooling pooling);

  BertConfig config_;
  BertModel model_;
  std::shared_ptr<const WordPieceTokenizer> tokenizer_;
  std::int64_t max_length_;
};

// Loads config.json, vocab.txt and model.safetensors from a Hugging Face BERT directory.
std::unique_ptr<BertEncoder> load_bert_encoder(const std::string& dir,
                                               const BertEncoderOptions& options = {});

}  // namespace loid
