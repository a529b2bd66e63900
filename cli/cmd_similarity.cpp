// `loid similarity`: flags -> SimilarityOptions -> run_similarity.
#include <iostream>
#include <memory>

#include "commands.h"
#include "loid_flags.h"
#include "train/similarity.h"

namespace loid::cli {

void add_similarity(CLI::App& app) {
  auto o = std::make_shared<loid::SimilarityOptions>();
  CLI::App* cmd = app.add_subcommand(
      "similarity",
      "Domain similarity (the paper's Table 2): per domain, --samples random reviews (seeded, "
      "without replacement; all when fewer) are encoded into sentence vectors and averaged into "
      "one domain vector; each entry is the cosine similarity of two domains' mean vectors (not "
      "a mean of review-to-review cosines). Prints the matrix; writes similarity.json and "
      "similarity.svg with --out; with --gains, each source plugin's MSE gain beside its "
      "similarity to the target");
  cmd->add_option("--data", o->data, "Domain reviews file (repeat: at least two)")->required();
  cmd->add_option("--samples", o->samples, "Reviews sampled per domain")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Sample seed (the same for every domain)")
      ->capture_default_str();
  cmd->add_option("--encoder", o->encoder_dir,
                  "Encoder directory; default: the installed USE-Lite (models/use_lite)");
  cmd->add_option("--pooling", o->pooling,
                  "How a review becomes a vector: auto (USE-Lite's own sentence output, the mean "
                  "of token states for BERT and GPT-2), cls, pooler, mean, sentence or last")
      ->check(CLI::IsMember({"auto", "cls", "pooler", "mean", "sentence", "last"}))
      ->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "Texts per forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Directory for similarity.json and similarity.svg");
  cmd->add_option("--gains", o->gains,
                  "A `loid bench` results.json with loid and loid+plugin rows (repeatable): "
                  "prints the plugin's MSE gain next to its sources' similarity to the target");
  cmd->add_option("--threads", o->threads, "Intra-op threads (0 = all cores)")
      ->capture_default_str();
  add_device_flag(*cmd, o->device);
  cmd->add_flag_function(
      "--no-progress", [o](std::int64_t) { o->progress = false; },
      "Plain log lines instead of progress bars");
  cmd->callback([o] { loid::run_similarity(*o, std::cout); });
}

}  // namespace loid::cli
