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

inline nlohmann::json read_json_file(const std::string& path) {
  return nlohmann::json::parse(read_file(path));
}

}  // namespace loid::testing
