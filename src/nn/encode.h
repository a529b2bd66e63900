// Batch encoding of many texts with any Encoder (length-bucketed batches, progress bar), and the
// `loid encode` pipeline: read texts from a reviews or {"text": ...} JSON-lines file, encode, and
// write one "vectors" tensor to a safetensors file.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/device.h"
#include "nn/encoder.h"
#include "nn/precision.h"

namespace loid {

struct EncodeOptions {
  Pooling pooling = Pooling::kDefault;          // how each text becomes one vector
  std::int64_t batch_size = 32;                 // texts per forward pass
  bool progress = true;                         // show a progress bar (texts done, rate, ETA)
  ComputeDtype dtype = ComputeDtype::kFloat32;  // bf16: the forward passes under bf16 autocast
  // Fold the encoder's LoRA adapters into its weights for the call and unfold them after (the
  // original weights come back bit for bit, also on an exception): the forward passes then cost
  // what the bare encoder's do. Vectors move by float rounding only (about 1e-6). Changes the
  // encoder's weights during the call, so not for an encoder other threads use at the same time.
  bool fold_adapters = false;
};

// Folds every adapted linear layer of the encoder (LoraLinear::fold) and returns those it folded;
// layers without adapters or already folded are left as they are.
std::vector<LoraLinear> fold_encoder_adapters(Encoder& encoder);
// Unfolds what fold_encoder_adapters returned.
void unfold_encoder_adapters(const std::vector<LoraLinear>& layers);

// Encodes `texts` in batches of texts of similar token length (sorted by length, each batch padded
// only to its own longest), returning (N, D) float32 on the CPU in the order of `texts`. Runs on
// the device of the encoder's module (the encoders move each batch there).
torch::Tensor encode_texts(Encoder& encoder, const std::vector<std::string>& texts,
                           const EncodeOptions& options = {});

// Limits the encoder's tokens per text (0 = the encoder's own limit). BERT encoders truncate to it;
// other encoders keep their own limit and a warning says so.
void limit_max_length(Encoder& encoder, std::int64_t max_length);

struct TextsFile {
  std::vector<std::string> texts;  // in file order
  std::string format;              // "text-jsonl" or the reviews format ("json", "tsv", ...)
};

// Reads the texts to encode. A file whose first non-blank line is a JSON object with a "text" key
// and no "reviewerID" is read as JSON lines of {"text": "..."} (blank lines skipped; any other
// line is an InputError naming file and line); anything else goes through read_reviews() and
// yields each review's text.
TextsFile read_texts_to_encode(const std::string& path);

struct EncodeFileOptions {
  std::string encoder_dir;          // model directory; "" = models_dir() + "/use_lite"
  std::string input;                // reviews file or {"text": ...} JSON lines
  std::string output;               // safetensors file to write ("vectors", N x D, F32)
  std::string pooling = "default";  // cls, pooler, mean, sentence or default
  std::int64_t batch_size = 32;     // texts per forward pass
  std::int64_t max_length = 0;      // tokens per text; 0 = the encoder's own limit
  bool progress = true;             // show a progress bar
  ComputeDtype dtype = ComputeDtype::kFloat32;
  DeviceSpec device;  // where the encoder runs (cpu); vectors come back to the CPU
  int threads = 0;    // intra-op threads (0 = all cores, or this process's share of them)
  // Several processes (train/distributed.h): how the texts are encoded (default encode_texts;
  // the CLI gives encode_texts_sharded) and whether this process writes the file (rank 0 only).
  std::function<torch::Tensor(Encoder&, const std::vector<std::string>&, const EncodeOptions&)>
      encode;
  bool write = true;
};

struct EncodeFileResult {
  std::int64_t count = 0;  // N, texts encoded
  std::int64_t width = 0;  // D, vector width
};

// `loid encode`: loads the encoder, reads the input, encodes and writes the output atomically.
EncodeFileResult encode_file(const EncodeFileOptions& options);

}  // namespace loid
