// `loid demo`: flags -> DemoOptions -> run_demo.
#include <iostream>

#include "commands.h"
#include "loid_flags.h"
#include "read_options.h"
#include "train/demo.h"

namespace loid::cli {

void add_demo(CLI::App& app) {
  auto opts = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "End-to-end run: synthetic two-domain corpus (or --data/--source files) -> leak-free split "
      "-> baselines -> source plugin -> LoID with and without it, and MF + text factors -> one "
      "table");
  cmd->add_option("--data", opts->data, "Target-domain reviews file (default: synthesise)");
  cmd->add_option("--source", opts->sources, "Source-domain reviews file(s) for the plugin");
  cmd->add_option("--out", opts->out, "Working directory")->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Split (and corpus) seed")->capture_default_str();
  add_read_options(*cmd, opts->read);
  cmd->add_option("--users", opts->synth_users, "Users per synthetic domain")
      ->capture_default_str()
      ->check(CLI::Range(5, 1000000));
  cmd->add_option("--items", opts->synth_items, "Items per synthetic domain")
      ->capture_default_str()
      ->check(CLI::Range(5, 1000000));
  add_encoder_flag(*cmd, opts->encoder_dir);
  cmd->add_option("--pretrain-steps", opts->pretrain_steps,
                  "Plugin training steps of 32 reviews per epoch (0 = whole epochs)")
      ->capture_default_str();
  cmd->add_option("--pretrain-epochs", opts->pretrain_epochs, "Plugin epochs")
      ->capture_default_str();
  cmd->add_option("--relora-steps", opts->relora_steps,
                  "Re-LoRA steps of 32 reviews per epoch (0 = whole epochs)")
      ->capture_default_str();
  cmd->add_option("--relora-epochs", opts->relora_epochs, "Re-LoRA epochs (0 skips it)")
      ->capture_default_str();
  cmd->add_option("--epochs", opts->loid_epochs, "LoID epochs at most")->capture_default_str();
  add_threads_flag(*cmd, opts->threads);
  add_device_flag(*cmd, opts->device);
  cmd->add_flag_function(
      "--baselines-only", [opts](std::int64_t) { opts->loid = false; },
      "Only the data pipeline and the classical baselines (seconds)");
  add_no_progress_flag(*cmd, opts->progress);
  cmd->callback([opts] { run_demo(*opts, std::cout); });
}

}  // namespace loid::cli
