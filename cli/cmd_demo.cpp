// `loid demo`: flags -> DemoOptions -> run_demo.
#include <iostream>

#include "commands.h"
#include "train/demo.h"

namespace loid::cli {

void add_demo(CLI::App& app) {
  auto opts = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "End-to-end run on a synthetic two-domain corpus (or --data/--source files)");
  cmd->add_option("--data", opts->data, "Target-domain reviews file (default: synthesise)");
  cmd->add_option("--source", opts->sources, "Source-domain reviews file(s)");
  cmd->add_option("--out", opts->out, "Working directory")->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Split (and corpus) seed")->capture_default_str();
  cmd->add_option("--users", opts->synth_users, "Users per synthetic domain")
      ->capture_default_str()
      ->check(CLI::Range(5, 1000000));
  cmd->add_option("--items", opts->synth_items, "Items per synthetic domain")
      ->capture_default_str()
      ->check(CLI::Range(5, 1000000));
  cmd->callback([opts] { run_demo(*opts, std::cout); });
}

}  // namespace loid::cli
