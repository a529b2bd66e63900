// `loid adapter info DIR`, `loid adapter merge` and `loid adapter fold`: inspect PEFT adapter
// directories, merge several into one (linear, cat, svd, ties, dare_linear, dare_ties), or fold
// adapters into an encoder's weights.
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "nn/adapter_command.h"

namespace loid::cli {
namespace {

struct InfoFlags {
  std::string dir;    // adapter directory
  bool json = false;  // print JSON instead of text
};

}  // namespace

void add_adapter(CLI::App& app) {
  auto* adapter =
      app.add_subcommand("adapter", "Inspect, merge and fold PEFT LoRA adapter directories");
  adapter->require_subcommand(1);

  auto info_flags = std::make_shared<InfoFlags>();
  auto* info = adapter->add_subcommand(
      "info", "Show an adapter's config (r, alpha, targets), size, base model and provenance");
  info->add_option("dir", info_flags->dir, "adapter directory (adapter_config.json + weights)")
      ->required();
  info->add_flag("--json", info_flags->json, "print one JSON object instead of text");
  info->callback([info_flags] { run_adapter_info(info_flags->dir, info_flags->json, std::cout); });

  auto merge_flags = std::make_shared<AdapterMergeOptions>();
  auto* merge = adapter->add_subcommand(
      "merge",
      "Merge adapters of the same modules into one (PEFT add_weighted_adapter methods, exact "
      "deltas)");
  merge->add_option("inputs", merge_flags->inputs, "input adapter directories")->required();
  merge->add_option("--out", merge_flags->out_dir, "output adapter directory")->required();
  merge
      ->add_option("--method", merge_flags->method,
                   "linear, cat, svd, ties, dare_linear or dare_ties")
      ->capture_default_str();
  merge
      ->add_option("--weights", merge_flags->weights,
                   "comma-separated weight per input (default 1 each: a plain sum)")
      ->delimiter(',');
  merge
      ->add_option("--rank", merge_flags->rank,
                   "output rank, not for cat (0 = the largest input rank)")
      ->capture_default_str();
  merge
      ->add_option("--density", merge_flags->density,
                   "ties: fraction of entries kept; dare: keep probability (0, 1]")
      ->capture_default_str();
  merge->add_option("--seed", merge_flags->seed, "dare: seed of the drop masks")
      ->capture_default_str();
  merge->callback([merge_flags] { run_adapter_merge(*merge_flags, std::cout); });

  auto fold_flags = std::make_shared<AdapterFoldOptions>();
  auto* fold = adapter->add_subcommand(
      "fold",
      "Write a plain model directory with adapters folded into the weights (W + sum of scaled "
      "B A), for inference without LoRA overhead; load it with --encoder like any other");
  fold->add_option("--encoder", fold_flags->encoder_dir,
                   "model directory the adapters were made for (BERT or USE-Lite); an adapter's "
                   "base_model_name_or_path, when set, must end in this directory's name")
      ->required();
  fold->add_option("--adapter", fold_flags->adapters,
                   "PEFT adapter directory; repeat to fold several (their deltas add up)")
      ->required();
  fold->add_option("--scale", fold_flags->scales,
                   "comma-separated factor per --adapter, times its alpha/r (default 1 each)")
      ->delimiter(',');
  fold->add_option("--out", fold_flags->out_dir,
                   "output model directory: config.json and tokenizer files copied, "
                   "model.safetensors (float32, no LoRA tensors), loid_fold.json provenance")
      ->required();
  fold->add_flag("--force", fold_flags->force, "replace --out when it exists and is not empty");
  fold->callback([fold_flags] { fold_adapters(*fold_flags, std::cout); });
}

}  // namespace loid::cli
