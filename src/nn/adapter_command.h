// `loid adapter info`, `loid adapter merge` and `loid adapter fold`: inspect a PEFT adapter
// directory, merge several into one, or fold adapters into an encoder's weights. The CLI only
// parses flags into these options; all checks and output live here.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace loid {

// Prints what `dir` holds: peft_type, r, alpha, scale, dropout, fan_in_fan_out (whether the
// adapted layers are Conv1D, as GPT-2's, or Linear, as BERT's), target modules, the number of
// adapted modules and LoRA parameters, modules saved whole, base model, task type and our
// loid_metadata.json provenance. With `json`, one JSON object instead of text. Throws InputError
// for a missing or invalid directory (as load_peft does).
void run_adapter_info(const std::string& dir, bool json, std::ostream& out);

struct AdapterMergeOptions {
  std::vector<std::string> inputs;  // adapter directories, at least one, same modules and shapes
  std::string out_dir;              // output adapter directory (created; must not be an input)
  std::string method = "linear";    // linear, cat, svd, ties, dare_linear or dare_ties
  std::vector<double> weights;      // one per input; empty = 1.0 each (a plain sum, as merge.h)
  int rank = 0;                     // output rank (not for cat); 0 = the largest input rank
  double density = 0.5;             // ties / dare: fraction of entries kept, in (0, 1]
  std::uint64_t seed = 0;           // dare: seed of the drop masks
};

// Validates the options (UsageError naming the flag), loads every input with load_peft, merges
// with merge_adapters, saves the result with save_peft (its loid_metadata.json also lists the
// input directories) and prints a one-paragraph summary to `out`.
void run_adapter_merge(const AdapterMergeOptions& options, std::ostream& out);

// The provenance file a folded model directory carries beside its config.json.
constexpr const char* kFoldMetadataFile = "loid_fold.json";

struct AdapterFoldOptions {
  std::string encoder_dir;            // model directory load_encoder reads (BERT or USE-Lite)
  std::vector<std::string> adapters;  // PEFT adapter directories made for that encoder, >= 1
  std::vector<double> scales;         // one per adapter, times its alpha / r; empty = 1.0 each
  std::string out_dir;                // the folded model directory to write
  bool force = false;                 // replace out_dir when it exists and is not empty
};

struct AdapterFoldResult {
  std::vector<std::string> modules;  // module paths whose weight changed, in the encoder's order
  std::vector<std::string> copied;   // files copied unchanged from encoder_dir (config, tokenizer)
};

// Loads the encoder, attaches every adapter as a frozen source (attach_source; each validated by
// load_peft against the encoder's base_shapes, with the encoder directory's name as the expected
// base model) and writes out_dir as a plain model directory of the same kind: config.json and the
// tokenizer files copied, model.safetensors with every tensor the loader expects in float32, each
// adapted weight replaced by W + sum_i scale_i (alpha_i / r_i) B_i A_i and no LoRA tensors, and
// kFoldMetadataFile recording the adapters' directories, scales and loid_metadata.json. The
// directory is built beside out_dir, reloaded with load_encoder as a check, then renamed into
// place, so a failure leaves no partial output. Throws UsageError for bad options or a non-empty
// out_dir without `force`, InputError for an unreadable encoder or an adapter for another base.
// Prints a short summary to `out`.
AdapterFoldResult fold_adapters(const AdapterFoldOptions& options, std::ostream& out);

}  // namespace loid
