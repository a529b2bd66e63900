// Helpers of the end-to-end tests that run the `loid` executable: a small synthetic corpus, a
// command run to its end with a bound, and a JSON file read back.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/fs.h"
#include "data/synth.h"
#include "support/child_process.h"
#include "support/test_paths.h"

namespace loid::testing {

// DIR/corpus.json: a one-domain synthetic corpus of `users` x `items` (seed 3).
inline std::string make_cli_corpus(const std::string& dir, std::int64_t users, std::int64_t items) {
  SynthOptions so;
  so.users = users;
  so.items = items;
  so.seed = 3;
  so.progress = false;
  so.out = dir + "/corpus.json";
  write_synth_corpus(so);
  return so.out;
}

// Runs argv (argv[0] the executable) to its end, its output appended to `log`; its exit code, or
// -1 when it ran past `seconds`.
inline int run_cli_to_end(const std::vector<std::string>& argv, const std::string& log,
                          int seconds = 300) {
  ChildProcess child(argv, log);
  if (!child.wait_for(std::chrono::seconds(seconds))) return -1;
  return child.exit_code();
}

// The LoID flags of the end-to-end tests: the tiny BERT (tests/golden/bert/tiny), LoRA rank 4,
// Re-LoRA for `relora_steps` steps of one epoch, a small model (k 3, 2 heads, hidden 8), one
// thread, `epochs` LoID epochs, no progress bars.
inline std::vector<std::string> tiny_loid_flags(const std::string& epochs,
                                                const std::string& relora_steps) {
  return {"--encoder",
          golden("bert/tiny"),
          "--rank",
          "4",
          "--alpha",
          "8",
          "--relora-epochs",
          "1",
          "--relora-max-steps",
          relora_steps,
          "-k",
          "3",
          "--heads",
          "2",
          "--hidden",
          "8",
          "--epochs",
          epochs,
          "--threads",
          "1",
          "--no-progress"};
}

inline nlohmann::json read_json_file(const std::string& path) {
  return nlohmann::json::parse(read_file(path));
}

}  // namespace loid::testing
