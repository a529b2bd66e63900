// Shared set-up of the training commands: a reviews file read, numbered and split by seed, and an
// encoder loaded with source plugins (stacked or merged) and a fresh trainable LoRA target.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/reader.h"
#include "data/split.h"
#include "nn/encoder.h"
#include "nn/lora.h"
#include "nn/threads.h"  // set_threads, used by every training command

namespace loid {

// One domain's reviews with their seeded split (identical to `loid data split --seed`).
struct DomainData {
  std::string path;
  ReadReport report;
  Dataset dataset;
  Split split;
  std::vector<std::string> texts(const std::vector<std::int64_t>& ids) const;
  std::vector<float> ratings(const std::vector<std::int64_t>& ids) const;
};
// `read` chooses the review text (summary+review, review, summary), the duplicate policy and the
// rest of the reader's settings (data/reader.h); the same choice must be made again wherever the
// run's data is re-read (config.json records it, see read_options_json).
DomainData load_domain(const std::string& path, const SplitOptions& split,
                       const ReadOptions& read = {});

// The reader settings that change which reviews and texts a model sees, as recorded in config
// files: {"text", "duplicates", "repeated_texts", "invalid_utf8", "max_line_bytes", "strict"}.
// From JSON, a missing object (files written before it was recorded) or missing key means the
// default; a bad name is a UsageError naming the valid ones.
nlohmann::json read_options_json(const ReadOptions& read);
ReadOptions read_options_from_json(const nlohmann::json& j);

// Validation/test reviews whose text is identical to some training review's text. Amazon 2018 files
// repeat one review across an item's variants (different asins), so most of their held-out texts
// also occur in training: a text-only model then scores memorised answers.
std::int64_t held_out_texts_seen_in_train(const DomainData& d);

// A one-line account of a domain for logs and reports.
std::string describe_domain(const DomainData& d);

// "" -> the installed default encoder (models_dir()/use_lite), with a hint when it is missing.
std::string resolve_encoder_dir(const std::string& dir);

// How source plugins join the encoder.
struct PluginOptions {
  std::vector<std::string> dirs;  // PEFT adapter directories
  std::string merge = "stack";    // "stack" or a merge method (linear, cat, svd, ties, ...)
  std::vector<double> weights;    // per plugin: stack scale or merge weight (empty = 1.0 each)
  double density = 0.5;           // ties / dare
  std::uint64_t seed = 1;         // dare masks
};

// Loads the encoder, attaches the plugins as frozen sources (validated against the encoder's
// shapes and name), returns it. Records what was attached in `record` when given.
std::unique_ptr<Encoder> load_encoder_with_plugins(const std::string& encoder_dir,
                                                   const PluginOptions& plugins,
                                                   nlohmann::json* record = nullptr);

// The configuration of a LoRA target as JSON (for configs and adapter metadata).
nlohmann::json lora_json(const LoraConfig& c);

// The process settings that change speed but not results, for a run's record: the thread-wait
// variables (core/thread_wait.h) and LOID_MALLOC as this process sees them (null when unset).
nlohmann::json runtime_environment_json();

}  // namespace loid
