// The flags of the training commands, defined once in cli/loid_flags.cpp and shared by train,
// bench, pretrain and demo: each command's --help lists exactly the flags it had before they were
// shared, plus the flags added since (at the end of each list).
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/fs.h"
#include "support/test_paths.h"

namespace loid {
namespace {

// Per command, its flags as of a4f92be (before cli/loid_flags.cpp), and the flags of several
// processes added to pretrain, train and bench since (issue 23).
const std::map<std::string, std::vector<std::string>> kFlags = {
    {"pretrain",
     {"--alpha",
      "--batch-size",
      "--compute-dtype",
      "--data",
      "--duplicates",
      "--encoder",
      "--epochs",
      "--force",
      "--head-hidden",
      "--invalid-utf8",
      "--lora-dropout",
      "--lr",
      "--max-line-bytes",
      "--max-steps",
      "--max-train-reviews",
      "--no-progress",
      "--out",
      "--patience",
      "--rank",
      "--repeated-texts",
      "--seed",
      "--split-ratios",
      "--strict",
      "--targets",
      "--text",
      "--threads",
      "--train-fraction",
      "--device",
      "--nproc",
      "--world-size",
      "--process-rank",
      "--master",
      "--dist-timeout"}},
    {"train",
     {"--alpha",
      "--batch-size",
      "--compute-dtype",
      "--data",
      "--density",
      "--dropout",
      "--duplicates",
      "--e2e-lr",
      "--embed-size",
      "--encoder",
      "--encoder-mode",
      "--epochs",
      "--fit-id-biases",
      "--force",
      "--heads",
      "--hidden",
      "--id-biases",
      "--invalid-utf8",
      "--lambda",
      "--lora-dropout",
      "--lr",
      "--margin",
      "--max-line-bytes",
      "--merge",
      "--no-progress",
      "--out",
      "--patience",
      "--plugin",
      "--plugin-weights",
      "--protocol",
      "--rank",
      "--relora-batch-size",
      "--relora-epochs",
      "--relora-lr",
      "--relora-max-steps",
      "--relora-patience",
      "--repeated-texts",
      "--resume",
      "--reuse-text-stage",
      "--reviews",
      "--seed",
      "--split-ratios",
      "--strict",
      "--targets",
      "--text",
      "--threads",
      "--weight-decay",
      "--train-fraction",
      "--predictor",
      "--mf-factors",
      "--mf-reg",
      "--text-factors",
      "--text-factor-reg",
      "--device",
      "--nproc",
      "--world-size",
      "--process-rank",
      "--master",
      "--dist-timeout"}},
    {"bench",
     {"--alpha",
      "--batch-size",
      "--compute-dtype",
      "--data",
      "--dropout",
      "--duplicates",
      "--embed-size",
      "--encoder",
      "--encoder-mode",
      "--epochs",
      "--fit-id-biases",
      "--heads",
      "--hidden",
      "--id-biases",
      "--invalid-utf8",
      "--lambda",
      "--lr",
      "--max-line-bytes",
      "--merge",
      "--mf-factors",
      "--mf-reg",
      "--models",
      "--no-progress",
      "--out",
      "--patience",
      "--plugin",
      "--pretrain-epochs",
      "--pretrain-max-steps",
      "--pretrain-max-train-reviews",
      "--rank",
      "--relora-batch-size",
      "--relora-epochs",
      "--relora-max-steps",
      "--repeated-texts",
      "--reviews",
      "--seeds",
      "--source",
      "--split-ratios",
      "--strict",
      "--table-only",
      "--text",
      "--text-max-epochs",
      "--threads",
      "--word-vectors",
      "--id-max-epochs",
      "--train-fraction",
      "--protocols",
      "--train-fractions",
      "--text-factors",
      "--text-factor-reg",
      "--device",
      "--nproc",
      "--world-size",
      "--process-rank",
      "--master",
      "--dist-timeout"}},
    {"demo",
     {"--baselines-only",
      "--data",
      "--duplicates",
      "--encoder",
      "--epochs",
      "--invalid-utf8",
      "--items",
      "--max-line-bytes",
      "--no-progress",
      "--out",
      "--pretrain-epochs",
      "--pretrain-steps",
      "--relora-epochs",
      "--relora-steps",
      "--repeated-texts",
      "--seed",
      "--source",
      "--strict",
      "--text",
      "--threads",
      "--users",
      "--device"}},
};

// The long flags at the start of the option lines of a --help text ("-k,--reviews UINT ..."),
// without --help itself.
std::set<std::string> listed_flags(const std::string& help) {
  std::set<std::string> out;
  std::istringstream lines(help);
  std::string line;
  while (std::getline(lines, line)) {
    const auto start = line.find_first_not_of(' ');
    if (start == std::string::npos || line[start] != '-') continue;
    std::istringstream names(line.substr(start, line.find(' ', start) - start));
    std::string name;
    while (std::getline(names, name, ','))
      if (name.rfind("--", 0) == 0 && name != "--help") out.insert(name);
  }
  return out;
}

TEST(CliFlags, HelpListsTheSameFlagsAsBeforeTheyWereShared) {
  LOID_REQUIRE_CLI();
  const std::string log = testing::temp_dir("cli_flags") + "/help.txt";
  for (const auto& [command, flags] : kFlags) {
    const std::string cmd =
        "'" + testing::cli_path() + "' " + command + " --help > '" + log + "' 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << command;
    const std::string help = read_file(log);
    EXPECT_EQ(listed_flags(help), std::set<std::string>(flags.begin(), flags.end()))
        << command << ":\n"
        << help;
  }
}

}  // namespace
}  // namespace loid
