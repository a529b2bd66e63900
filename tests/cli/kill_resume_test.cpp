// Fault injection: `loid train` and `loid bench` killed with SIGKILL at several points (each when a
// given file appears: a stage has just finished and the next one is under way), then run again
// with the same command until they finish. The final results must equal those of an uninterrupted
// run, every final file must read back, and no temporary file may be left. Skipped in a build
// without the executable.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/fs.h"
#include "data/synth.h"
#include "support/child_process.h"
#include "support/cli_runs.h"
#include "support/test_paths.h"

namespace loid {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::vector<std::string> with_cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {testing::cli_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// Runs the command to completion (bounded); returns its exit code.
int run_to_end(const std::vector<std::string>& args, const std::string& log) {
  return testing::run_cli_to_end(with_cli(args), log);
}

// One kill: the point's name and when it holds.
struct KillPoint {
  std::string name;
  std::function<bool()> reached;
};

// Starts the command, SIGKILLs it as soon as `point` holds; returns true when it was killed, false
// when it exited first (the point came too late in this run).
bool kill_at(const std::vector<std::string>& args, const KillPoint& point, const std::string& log) {
  testing::ChildProcess child(with_cli(args), log);
  bool reached = false;
  testing::poll_until(
      [&] {
        reached = point.reached();
        return reached || !child.running();
      },
      std::chrono::seconds(300));
  if (!reached || !child.running()) return false;
  child.signal(SIGKILL);
  EXPECT_TRUE(child.wait_for(std::chrono::seconds(30)));
  EXPECT_EQ(child.term_signal(), SIGKILL) << point.name;
  return true;
}

json read_json(const std::string& path) {
  return testing::read_json_file(path);
}

bool exists(const std::string& path) {
  return fs::exists(path);
}

// Every file under dir: none with a temporary name, and every JSON file parses.
void expect_clean_final_files(const std::string& dir) {
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    ++files;
    const std::string name = e.path().filename().string();
    EXPECT_EQ(name.find(".tmp"), std::string::npos) << "temporary file left: " << e.path();
    if (e.path().extension() == ".json")
      EXPECT_NO_THROW(read_json(e.path().string())) << "unreadable: " << e.path();
  }
  EXPECT_GT(files, 0) << dir;
}

std::string make_corpus(const std::string& dir, std::int64_t users, std::int64_t items) {
  return testing::make_cli_corpus(dir, users, items);
}

// The LoID flags both commands share: the tiny BERT, Re-LoRA for 2 steps, a small model, one
// thread, `epochs` LoID epochs.
std::vector<std::string> tiny_loid_args(const char* epochs) {
  return testing::tiny_loid_flags(epochs, "2");
}

// `loid train` on the tiny BERT: 4 LoID epochs (no early stop), each stage checkpointed;
// --resume continues whatever a killed call left.
std::vector<std::string> train_args(const std::string& data, const std::string& out) {
  std::vector<std::string> a = {"train", "--data", data, "--patience", "4", "--batch-size", "16"};
  for (auto& x : tiny_loid_args("4")) a.push_back(x);
  for (const char* x : {"--resume", "--out"}) a.push_back(x);
  a.push_back(out);
  return a;
}

TEST(KillAndResume, TrainKilledAtEveryStageFinishesWithTheSameMetrics) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("kill_train");
  const std::string data = make_corpus(dir, 30, 15);
  const std::string log = dir + "/log.txt";
  ASSERT_EQ(run_to_end(train_args(data, dir + "/ref"), log), 0) << read_file(log);
  const json want = read_json(dir + "/ref/metrics.json");

  const std::string out = dir + "/killed";
  const std::string ck = out + "/checkpoint";
  const auto epoch_done = [ck](int epoch) {
    return [ck, epoch] {
      try {
        return exists(ck + "/state.json") && read_json(ck + "/state.json").at("epoch") >= epoch;
      } catch (const std::exception&) {
        return false;
      }
    };
  };
  const std::vector<KillPoint> points = {
      {"run directory started", [&] { return exists(out + "/config.json"); }},
      {"Re-LoRA finished", [&] { return exists(ck + "/relora.json"); }},
      {"review vectors written", [&] { return exists(out + "/review_vectors.safetensors"); }},
      {"LoID epoch 1 checkpointed", epoch_done(1)},
      {"LoID epoch 3 checkpointed", epoch_done(3)},
      {"model written", [&] { return exists(out + "/model.safetensors"); }},
  };
  int killed = 0;
  std::string missed;
  for (const auto& p : points) {
    if (kill_at(train_args(data, out), p, log))
      ++killed;
    else
      missed += " " + p.name;
  }
  // The stages before the last take long enough that a kill lands inside the run.
  EXPECT_GE(killed, 5) << "kill points the run finished before:" << missed;
  ASSERT_EQ(run_to_end(train_args(data, out), log), 0) << read_file(log);

  const json got = read_json(out + "/metrics.json");
  for (const char* part : {"test", "validation"})
    for (const char* m : {"mse", "mae"})
      EXPECT_NEAR(got[part][m].get<double>(), want[part][m].get<double>(), 1e-6) << part << m;
  EXPECT_EQ(got["best_epoch"], want["best_epoch"]);
  EXPECT_EQ(got["epochs_run"], want["epochs_run"]);
  ASSERT_EQ(got["curve"].size(), want["curve"].size());
  for (std::size_t e = 0; e < want["curve"].size(); ++e)
    EXPECT_NEAR(got["curve"][e]["validation_mse"].get<double>(),
                want["curve"][e]["validation_mse"].get<double>(), 1e-6)
        << "epoch " << e + 1;
  EXPECT_EQ(read_file(out + "/model.safetensors"), read_file(dir + "/ref/model.safetensors"));
  expect_clean_final_files(out);
  expect_clean_final_files(dir + "/ref");
}

// `loid bench` with the classical models over three seeds and one LoID cell on the tiny BERT.
std::vector<std::string> bench_args(const std::string& data, const std::string& out) {
  std::vector<std::string> a = {
      "bench", "--data",       data,  "--models", "mean,bias,mf,loid", "--seeds",
      "1,2,3", "--mf-factors", "2,4", "--mf-reg", "0.05,0.2"};
  for (auto& x : tiny_loid_args("2")) a.push_back(x);
  a.push_back("--out");
  a.push_back(out);
  return a;
}

TEST(KillAndResume, BenchKilledBetweenAndInsideCellsFinishesWithTheSameCells) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("kill_bench");
  const std::string data = make_corpus(dir, 40, 20);
  const std::string log = dir + "/log.txt";
  ASSERT_EQ(run_to_end(bench_args(data, dir + "/ref"), log), 0) << read_file(log);

  const std::string out = dir + "/killed";
  const auto cell = [&](const std::string& name) {
    return [&, name] { return exists(out + "/cells/" + name + ".json"); };
  };
  const std::vector<KillPoint> points = {
      {"bench started", [&] { return exists(out + "/bench_config.json"); }},
      {"mean seed 1 done", cell("mean_s1")},
      {"LoID seed 1 run started", [&] { return exists(out + "/runs/loid_s1/config.json"); }},
      {"LoID seed 1 checkpointed",
       [&] { return exists(out + "/runs/loid_s1/checkpoint/state.json"); }},
      {"LoID seed 1 done", cell("loid_s1")},
      {"mf seed 2 done", cell("mf_s2")},
      {"LoID seed 3 vectors written",
       [&] { return exists(out + "/runs/loid_s3/review_vectors.safetensors"); }},
  };
  int killed = 0;
  std::string missed;
  for (const auto& p : points) {
    if (kill_at(bench_args(data, out), p, log))
      ++killed;
    else
      missed += " " + p.name;
  }
  EXPECT_GE(killed, 5) << "kill points the bench finished before:" << missed;
  ASSERT_EQ(run_to_end(bench_args(data, out), log), 0) << read_file(log);

  for (const char* model : {"mean", "bias", "mf", "loid"})
    for (int seed : {1, 2, 3}) {
      const std::string name = std::string(model) + "_s" + std::to_string(seed) + ".json";
      SCOPED_TRACE(name);
      const json got = read_json(out + "/cells/" + name);
      const json want = read_json(dir + "/ref/cells/" + name);
      for (const char* part : {"test", "validation"})
        for (const char* m : {"mse", "mae"})
          EXPECT_NEAR(got[part][m].get<double>(), want[part][m].get<double>(), 1e-6)
              << part << " " << m;
      EXPECT_EQ(got["test_predictions"], want["test_predictions"]);
      EXPECT_EQ(got["validation_predictions"], want["validation_predictions"]);
    }
  const json got = read_json(out + "/results.json"), want = read_json(dir + "/ref/results.json");
  ASSERT_EQ(got["rows"].size(), want["rows"].size());
  for (std::size_t r = 0; r < want["rows"].size(); ++r) {
    EXPECT_EQ(got["rows"][r]["model"], want["rows"][r]["model"]);
    EXPECT_EQ(got["rows"][r]["seeds"], want["rows"][r]["seeds"]);
    EXPECT_EQ(got["rows"][r]["per_seed"]["test_mse"], want["rows"][r]["per_seed"]["test_mse"]);
  }
  expect_clean_final_files(out);
  expect_clean_final_files(dir + "/ref");
}

}  // namespace
}  // namespace loid
