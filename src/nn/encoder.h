// The one interface every text encoder implements (BERT family, USE-Lite). LoID only talks to
// encoders through it: tokenize a batch, run forward, get per-text vectors and token states, and
// reach the linear layers (LoraLinear) that LoRA adapters attach to.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/lora.h"

namespace loid {

// How a text becomes one vector.
enum class Pooling {
  kDefault,   // the encoder's own default (cls for BERT, sentence for USE-Lite, last for GPT-2)
  kCls,       // hidden state of the first token ([CLS])
  kPooler,    // tanh(W h_cls + b) (BERT only)
  kMean,      // mean of non-padding token states
  kSentence,  // the model's own normalised sentence embedding (USE-Lite)
  kLast,      // hidden state of the last real token (decoders, which read left to right)
};
// "cls", "pooler", "mean", "sentence", "last" or "default".
Pooling pooling_from_name(const std::string& name);

// One text's token ids (special tokens included, truncated to the encoder's max_length), unpadded.
using TokenIds = std::vector<std::int64_t>;

struct TokenBatch {
  torch::Tensor input_ids;       // (B, T) int64, padded to the longest text of the batch
  torch::Tensor attention_mask;  // (B, T) int64, 1 for real tokens, 0 for padding
};

struct EncoderOutput {
  torch::Tensor token_states;  // (B, T, H) last layer states, 0 at padding positions
  torch::Tensor vectors;       // (B, D) one vector per text, as chosen by Pooling
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  virtual std::string kind() const = 0;         // "bert", "gpt2" or "use_lite"
  virtual std::int64_t width() const = 0;       // D of the vectors under the default pooling
  virtual std::int64_t max_length() const = 0;  // longest token sequence accepted
  // Token ids of every text, unpadded, tokenized on as many threads as torch uses
  // (parallel_token_ids).
  virtual std::vector<TokenIds> token_ids(const std::vector<std::string>& texts) const = 0;
  // The id written into padding positions (masked, never read as a token).
  virtual std::int64_t pad_id() const { return 0; }
  // Whether the per-token layers run on the real tokens packed in row order (nn/token_rows.h;
  // BERT, USE-Lite) rather than on the padded (B * T) rows (GPT-2). A rank of a data-parallel
  // step needs it to place its rows in the global batch's dropout masks (nn/dropout.h).
  virtual bool packs_tokens() const { return true; }
  // Pads rows to the longest (at least one column, so a batch of empty texts still runs):
  // input_ids hold pad_id() and attention_mask 0 past each row's end.
  // min_columns: pad to at least this many (a rank's rows of a global batch pad to its longest).
  TokenBatch pad(const std::vector<TokenIds>& rows, std::size_t min_columns = 1) const;
  // Tokenizes texts and pads them to the batch's longest: pad(token_ids(texts)).
  TokenBatch tokenize(const std::vector<std::string>& texts) const { return pad(token_ids(texts)); }
  virtual EncoderOutput forward(const TokenBatch& batch, Pooling pooling = Pooling::kDefault) = 0;
  // The root module (parameters, train/eval mode, to(device)).
  virtual torch::nn::Module& module() = 0;
  // The layers LoRA adapters attach to, by module path under module() (HF names for BERT, e.g.
  // "encoder.layer.0.attention.self.query"), in forward order.
  virtual std::vector<std::pair<std::string, LoraLinear>> adaptable_linears() = 0;
  // Whether an adaptable layer is one of the encoder's default targets (an empty target_modules
  // list): every layer unless the encoder says otherwise (BERT leaves its pooler out, since only
  // pooling "pooler" uses it).
  virtual bool default_target(const std::string& path) const {
    (void)path;
    return true;
  }
  // Rewrites tensors named as module()'s parameters ("h.0.attn.c_attn.weight") into the layout
  // of the encoder's checkpoint files, for writing a model directory its loader reads back: GPT-2
  // holds its Conv1D weights as (out, in) like every linear map and stores them (in, out). The
  // identity for encoders whose parameters are stored as they are held.
  virtual void to_checkpoint_layout(std::map<std::string, torch::Tensor>& tensors) const {
    (void)tensors;
  }
  // Multiply-adds of one inference forward over sequences of these real-token counts (padding
  // excluded; adapters folded or absent): what "effective GFLOP/s" counts (2 FLOPs each).
  // 0 when the encoder does not say.
  virtual double multiply_adds(const std::vector<std::int64_t>& lengths) const {
    (void)lengths;
    return 0.0;
  }
};

// Token ids of n texts, text i from one(i), on up to torch's thread count of threads in contiguous
// blocks (the tokenizers are const and keep no state, so texts are independent); an exception
// from one() reaches the caller.
std::vector<TokenIds> parallel_token_ids(std::size_t n,
                                         const std::function<TokenIds(std::size_t)>& one);

// A LoraLinear without adapters, initialised like torch::nn::Linear(in, out): what encoders hold
// in place of every linear map that LoRA may target (same outputs and parameter names).
LoraLinear adaptable_linear(std::int64_t in, std::int64_t out);

// Loads an encoder from a model directory; the kind comes from config.json ("model_type").
std::unique_ptr<Encoder> load_encoder(const std::string& dir);

}  // namespace loid
