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
                  "Mean reviews per user (>= --min-reviews, <= items)")
      ->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed (same seed and options give identical files)")
      ->capture_default_str();
  cmd->add_option("--min-reviews", opts->min_reviews,
                  "Reviews every user writes at least (5 = 5-core; lower for sparser users)")
      ->check(CLI::Range(1, 5))
      ->capture_default_str();
  cmd->add_option("--bias-scale", opts->bias_scale,
                  "Std of user and item rating biases (what rating averages can learn)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--interaction", opts->interaction,
                  "Weight of user taste x item aspect quality in the rating (what the review words "
                  "about aspects explain)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--noise", opts->noise, "Std of the per-review rating noise")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--centered-quality", opts->centered_quality,
                "Centre each item's aspect qualities: the taste x quality part then leaves user "
                "and item rating averages alone, and only factors or the texts can see it");
  cmd->add_option("--rating-words", opts->rating_words,
                  "How much the rating itself shows in the words, 0..1 (1: sentiment leans to the "
                  "rating, rating-specific summaries and closings; 0: words follow only the "
                  "item's aspect qualities)")
      ->check(CLI::Range(0.0, 1.0))
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
