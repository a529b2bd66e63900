// `loid data split FILE --seed S --out DIR`: the seeded train/validation/test split as
// DIR/split.tsv.
#include <iostream>
#include <memory>

#include "commands.h"
#include "data/split.h"
#include "data/split_command.h"
#include "read_options.h"

namespace loid::cli {

void add_data_split(CLI::App& data) {
  auto opts = std::make_shared<loid::DataSplitOptions>();
  auto ratios = std::make_shared<std::string>(loid::kDefaultSplitRatios);
  CLI::App* cmd = data.add_subcommand(
      "split",
      "Split a reviews file into train/validation/test with a seed (the same split every "
      "command with that --seed uses) and write DIR/split.tsv");
  cmd->add_option("file", opts->input, "Reviews file")->required();
  cmd->add_option("--seed", opts->split.seed, "Split seed")->capture_default_str();
  cmd->add_option("--train-fraction", opts->split.train_fraction,
                  "Keep this fraction of the training reviews (a seeded sample, the rest written "
                  "as 'unused'); validation and test untouched")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--out", opts->out_dir, "Output directory (created if needed)")->required();
  cmd->add_option("--ratios", *ratios, "Fractions train,validation,test (each > 0, sum 1)")
      ->capture_default_str();
  add_read_options(*cmd, opts->read);
  cmd->callback([opts, ratios] {
    loid::parse_split_ratios(*ratios, opts->split);
    const loid::DataSplitResult result = loid::run_data_split(*opts);
    std::cout << loid::describe_split_result(result, opts->split);
  });
}

}  // namespace loid::cli
