// Small trained LoID runs for tests: a synthetic corpus and `loid train` settings sized for the
// tiny random BERT in tests/golden/bert/tiny (seconds, not minutes). For torch test files only.
#pragma once

#include <string>

#include "core/progress.h"
#include "data/synth.h"
#include "support/test_paths.h"
#include "train/loid_train.h"

namespace loid::testing {

// Writes a one-domain synthetic corpus under a fresh temp dir and returns its path.
inline std::string tiny_corpus(const std::string& name, std::int64_t users, std::int64_t items,
                               std::uint64_t seed) {
  Progress::set_quiet(true);
  SynthOptions so;
  so.users = users;
  so.items = items;
  so.seed = seed;
  so.progress = false;
  so.out = temp_dir(name) + "/synth.json";
  write_synth_corpus(so);
  return so.out;
}

// `loid train` settings for the tiny BERT: r 4, k 3, two heads, small MLPs, one thread.
inline LoidTrainOptions tiny_train_options(const std::string& data, const std::string& out) {
  LoidTrainOptions o;
  o.data = data;
  o.encoder_dir = golden("bert/tiny");
  o.out = out;
  o.lora.r = 4;
  o.lora.alpha = 8;
  o.relora.epochs = 1;
  o.relora.max_steps = 2;
  o.head_hidden = 8;
  o.k = 3;
  o.heads = 2;
  o.hidden = 8;
  o.epochs = 2;
  o.threads = 1;
  o.progress = false;
  return o;
}

// Trains a tiny run named `name` on a fresh corpus and returns its directory.
inline std::string make_tiny_run(const std::string& name, std::int64_t users, std::int64_t items,
                                 std::uint64_t seed) {
  const LoidTrainOptions o = tiny_train_options(tiny_corpus(name + "_corpus", users, items, seed),
                                                temp_dir(name + "_run"));
  run_loid_train(o);
  return o.out;
}

}  // namespace loid::testing
