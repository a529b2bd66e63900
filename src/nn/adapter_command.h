// `loid adapter info` and `loid adapter merge`: inspect a PEFT adapter directory and merge several
// into one. The CLI only parses flags into these options; all checks and output live here.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace loid {

// Prints what `dir` holds: peft_type, r, alpha, scale, dropout, target modules, the number of
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

}  // namespace loid
