// `loid data synth`: writes a synthetic review corpus (Amazon 2014 JSON lines, one file per
// domain).
#include <iostream>
#include <memory>

#include "commands.h"
#include "data/synth.h"

namespace loid::cli {

void add_data_synth(CLI::App& data) {
  auto opts = std::make_shared<loid::SynthOptions>();
  CLI::App* cmd = data.add_subcommand(
      "synth",
      "Write a synthetic 5-core review corpus whose ratings follow latent user tastes and "
      "item qualities, with review text that reflects them (gzip when FILE ends in .gz; "
      "with --domains N > 1, files <stem>_d1<ext> .. <stem>_dN<ext> beside FILE)");
  cmd->add_option("--out", opts->out, "Output file")->required();
  cmd->add_option("--domains", opts->domains, "Number of domains (1..8)")->capture_default_str();
  cmd->add_option("--users", opts->users, "Users per domain (>= 5)")->capture_default_str();
  cmd->add_option("--items", opts->items, "Items per domain (>= 5)")->capture_default_str();
  cmd->add_option("--reviews-per-user", opts->reviews_per_user,
                  "Mean reviews per user (>= 5, <= items)")
      ->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed (same seed and options give identical files)")
      ->capture_default_str();
  cmd->callback([opts] {
    const std::vector<std::string> paths = loid::write_synth_corpus(*opts);
    for (std::size_t k = 0; k < paths.size(); ++k) {
      std::cout << "wrote " << paths[k] << " (domain " << k + 1 << ", "
                << loid::synth_theme_name(static_cast<int>(k) + 1) << ")\n";
    }
  });
}

}  // namespace loid::cli
