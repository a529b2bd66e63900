// loid bench: the cells and results files on a small synthetic corpus, resume after a deleted
// cell, refusal of changed data or settings, and a LoID cell on the tiny random BERT.
#include "train/bench_run.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "core/fs.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "data/reader.h"
#include "data/split.h"
#include "support/error_of.h"
#include "support/test_paths.h"
#include "support/tiny_run.h"
#include "train/run.h"

namespace loid {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// A cell as run_bench writes it, with the fields the statistics read.
json fake_cell(const std::string& model, std::uint64_t seed, double mse) {
  json cold = json::object();
  for (const char* k : {"users_fewer_than_3_train_reviews", "users_without_train_reviews",
                        "items_fewer_than_3_train_reviews", "items_without_train_reviews"})
    cold[k] = {{"n", 0}, {"mse", 0.0}, {"rmse", 0.0}, {"mae", 0.0}};
  cold["users_fewer_than_3_train_reviews"] = {{"n", 10}, {"mse", 2 * mse}, {"rmse", 0}, {"mae", 0}};
  return {{"model", model},
          {"seed", seed},
          {"test", {{"n", 100}, {"mse", mse}, {"rmse", std::sqrt(mse)}, {"mae", mse / 2}}},
          {"validation", {{"n", 100}, {"mse", mse + 0.01}, {"rmse", 0}, {"mae", 0}}},
          {"cold_start", cold},
          {"seconds", 1.5}};
}

TEST(BenchResults, PairedDifferenceAgainstMfByHand) {
  // mf: 1.0, 1.2, 0.9; x: 0.9, 1.0, 1.0 -> differences -0.1, -0.2, +0.1: mean -0.0666667,
  // sample std sqrt(0.0466667 / 2) = 0.1527525, half-width 4.3026527 * 0.1527525 / sqrt(3)
  // = 0.3794582.
  std::vector<json> cells = {fake_cell("mf", 1, 1.0), fake_cell("mf", 2, 1.2),
                             fake_cell("mf", 3, 0.9), fake_cell("x", 1, 0.9),
                             fake_cell("x", 2, 1.0),  fake_cell("x", 3, 1.0)};
  const json r = bench_results_json(cells, {"mf", "x"}, {1, 2, 3});
  ASSERT_EQ(r["rows"].size(), 2u);
  const json& mf = r["rows"][0];
  const json& x = r["rows"][1];
  EXPECT_TRUE(mf["test_mse_minus_mf"].is_null());
  EXPECT_NEAR(mf["test_mse"]["mean"].get<double>(), 1.0333333, 1e-6);
  // mf std: deviations -0.0333, 0.1667, -0.1333 -> sqrt(0.0466667 / 2) = 0.1527525.
  EXPECT_NEAR(mf["test_mse"]["std"].get<double>(), 0.1527525, 1e-6);
  const json& d = x["test_mse_minus_mf"];
  EXPECT_NEAR(d["mean"].get<double>(), -0.0666667, 1e-6);
  EXPECT_NEAR(d["std"].get<double>(), 0.1527525, 1e-6);
  EXPECT_NEAR(d["ci95_low"].get<double>(), -0.0666667 - 0.3794582, 1e-6);
  EXPECT_NEAR(d["ci95_high"].get<double>(), -0.0666667 + 0.3794582, 1e-6);
  EXPECT_EQ(d["per_seed"].size(), 3u);
  // Cold-start rows: 2 * MSE per seed here.
  EXPECT_NEAR(x["cold_start"]["users_fewer_than_3_train_reviews"]["test_mse"]["mean"].get<double>(),
              2 * 0.9666667, 1e-6);
  EXPECT_EQ(x["cold_start"]["users_without_train_reviews"]["test_mse"]["n"], 0);
  EXPECT_NEAR(x["seconds"]["total"].get<double>(), 4.5, 1e-12);

  // A missing cell is reported and left out of the pairs.
  cells.pop_back();
  const json partial = bench_results_json(cells, {"mf", "x"}, {1, 2, 3});
  EXPECT_EQ(partial["rows"][1]["missing_seeds"], json::array({3}));
  EXPECT_EQ(partial["rows"][1]["test_mse_minus_mf"]["n"], 2);
  const std::string md = bench_results_markdown(partial);
  EXPECT_NE(md.find("x seed 3"), std::string::npos) << md;
  EXPECT_NE(md.find("| mf"), std::string::npos) << md;
}

TEST(BenchModels, UnknownNamesListTheValidOnes) {
  const std::string e = testing::error_of<UsageError>([] {
    validate_bench_models({"mf", "svd++"});
  });
  EXPECT_NE(e.find("svd++"), std::string::npos) << e;
  for (const char* m : {"mean", "bias", "mf", "loid", "loid+plugin", "alfm", "bigi", "rgcl"})
    EXPECT_NE(e.find(m), std::string::npos) << e;
  EXPECT_THROW(validate_bench_models({"mf", "mf"}), UsageError);
  EXPECT_THROW(validate_bench_models({}), UsageError);
}

// ---- run_bench on a synthetic corpus -----------------------------------------------------------

BenchOptions classical(const std::string& data, const std::string& out) {
  BenchOptions o;
  o.data = data;
  o.out = out;
  o.models = {"mean", "bias", "mf"};
  o.seeds = {1, 2};
  o.mf_factors = {2, 4};
  o.mf_regularization = {0.05, 0.2};
  o.progress = false;
  return o;
}

TEST(Bench, ClassicalModelsWriteCellsAndResults) {
  const std::string data = testing::tiny_corpus("bench_a", 80, 40, 3);
  const std::string out = testing::temp_dir("bench_a_out");
  std::ostringstream log;
  const BenchResult r = run_bench(classical(data, out), log);
  EXPECT_EQ(r.computed.size(), 6u);
  EXPECT_TRUE(r.reused.empty());
  for (const char* f : {"results.json", "results.md", "results.svg", "bench_config.json"})
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  const json results = json::parse(read_file(out + "/results.json"));
  EXPECT_EQ(results, r.results);
  EXPECT_NE(read_file(out + "/results.svg").find("<svg"), std::string::npos);
  const std::string md = read_file(out + "/results.md");
  EXPECT_NE(md.find("ΔMSE vs mf"), std::string::npos);
  // The encoder is named, the default too; a cold-start subset without rows reads "no rows",
  // never as a score.
  EXPECT_NE(md.find("Encoder of the LoID models: the installed default, USE-Lite"),
            std::string::npos)
      << md;
  EXPECT_EQ(md.find("(0.0 rows)"), std::string::npos) << md;
  bool empty_subset = false;
  for (const auto& row : results["rows"])
    for (const auto& [name, c] : row["cold_start"].items())
      empty_subset =
          empty_subset || !(c["rows"]["mean"].is_number() && c["rows"]["mean"].get<double>() > 0);
  EXPECT_EQ(md.find("no rows") != std::string::npos, empty_subset) << md;
  EXPECT_NE(log.str().find("[6/6] mf, seed 2"), std::string::npos) << log.str();

  // The mean model's numbers, recomputed here from the split alone.
  Dataset dataset(read_reviews(data).reviews);
  std::map<std::string, std::vector<double>> mse;
  for (std::uint64_t seed : {1, 2}) {
    SplitOptions so;
    so.seed = seed;
    const Split split = make_split(dataset, so);
    double sum = 0.0;
    for (auto id : split.train) sum += dataset.review(id).rating;
    const double mu = static_cast<float>(sum / split.train.size());
    double se = 0.0;
    for (auto id : split.test) se += std::pow(dataset.review(id).rating - mu, 2);
    const json cell =
        json::parse(read_file(out + "/cells/mean_s" + std::to_string(seed) + ".json"));
    EXPECT_NEAR(cell["test"]["mse"].get<double>(), se / split.test.size(), 1e-5);
    ASSERT_EQ(cell["test_predictions"].size(), split.test.size());
    ASSERT_EQ(cell["validation_predictions"].size(), split.validation.size());
    // The stored validation predictions are the ones scored: the mean model predicts mu.
    double vse = 0.0;
    for (std::size_t j = 0; j < split.validation.size(); ++j) {
      EXPECT_NEAR(cell["validation_predictions"][j].get<double>(), mu, 1e-5);
      vse += std::pow(dataset.review(split.validation[j]).rating - mu, 2);
    }
    EXPECT_NEAR(cell["validation"]["mse"].get<double>(), vse / split.validation.size(), 1e-5);
    for (const char* m : {"mean", "bias", "mf"}) {
      const json c = json::parse(
          read_file(out + "/cells/" + std::string(m) + "_s" + std::to_string(seed) + ".json"));
      mse[m].push_back(c["test"]["mse"].get<double>());
      // The cold-start subsets partition nothing away: counts never exceed the test rows.
      EXPECT_LE(c["cold_start"]["users_fewer_than_3_train_reviews"]["n"].get<std::size_t>(),
                split.test.size());
    }
  }
  // The synthetic corpus has user and item effects: biases beat the global mean on average.
  const json& rows = results["rows"];
  EXPECT_LT(rows[1]["test_mse"]["mean"].get<double>(), rows[0]["test_mse"]["mean"].get<double>());
  // Paired differences are the per-seed differences of the cells.
  for (int m : {0, 1}) {
    const std::string name = rows[m]["model"];
    const auto& per = rows[m]["test_mse_minus_mf"]["per_seed"];
    for (int s : {0, 1}) EXPECT_NEAR(per[s].get<double>(), mse[name][s] - mse["mf"][s], 1e-12);
  }
  EXPECT_NEAR(rows[0]["test_mse"]["mean"].get<double>(), (mse["mean"][0] + mse["mean"][1]) / 2,
              1e-12);
}

// The ID baselines run as bench cells: one cell per (model, seed) with the chosen grid point, and
// the same cells again from a fresh directory (deterministic per seed).
TEST(Bench, IdBaselinesWriteCellsThatRepeat) {
  const std::string data = testing::tiny_corpus("bench_id", 60, 25, 5);
  const std::string first = testing::temp_dir("bench_id_out");
  BenchOptions o = classical(data, first);
  o.models = {"mean", "alfm", "bigi", "rgcl"};
  o.seeds = {1};
  o.id_max_epochs = 2;
  o.loid.encoder_dir = testing::golden("bert/tiny");  // rgcl's review vectors
  o.threads = 1;
  std::ostringstream log;
  run_bench(o, log);
  o.out = testing::temp_dir("bench_id_out2");
  run_bench(o, log);
  for (const char* m : {"alfm", "bigi", "rgcl"}) {
    const json a = json::parse(read_file(first + "/cells/" + m + "_s1.json"));
    const json b = json::parse(read_file(o.out + "/cells/" + m + "_s1.json"));
    EXPECT_EQ(a["test_predictions"], b["test_predictions"]) << m;
    EXPECT_TRUE(a["details"].contains("dim")) << m;
    EXPECT_TRUE(a["details"].contains("weight_decay")) << m;
    EXPECT_LE(a["details"]["epochs_run"].get<int>(), 2) << m;
  }
  const json config = json::parse(read_file(o.out + "/bench_config.json"));
  EXPECT_EQ(config["settings"]["id"]["max_epochs"].get<int>(), 2);
  EXPECT_EQ(config["settings"]["rgcl"]["encoder"], o.loid.encoder_dir);
}

TEST(Bench, ResumeRecomputesOnlyTheMissingCell) {
  const std::string data = testing::tiny_corpus("bench_b", 60, 30, 4);
  const std::string out = testing::temp_dir("bench_b_out");
  std::ostringstream log;
  const BenchOptions o = classical(data, out);
  run_bench(o, log);
  std::map<std::string, std::string> before;
  std::map<std::string, fs::file_time_type> mtime;
  for (const auto& e : fs::directory_iterator(out + "/cells")) {
    before[e.path().filename()] = read_file(e.path());
    mtime[e.path().filename()] = fs::last_write_time(e.path());
  }
  ASSERT_EQ(before.size(), 6u);
  const std::string removed = "bias_s2.json";
  const json old_cell = json::parse(before[removed]);
  fs::remove(out + "/cells/" + removed);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  const BenchResult again = run_bench(o, log);
  EXPECT_EQ(again.computed, std::vector<std::string>{"bias_s2"});
  EXPECT_EQ(again.reused.size(), 5u);
  for (const auto& [name, text] : before) {
    const std::string path = out + "/cells/" + name;
    ASSERT_TRUE(fs::exists(path)) << name;
    if (name == removed) {
      const json fresh = json::parse(read_file(path));
      EXPECT_EQ(fresh["test"], old_cell["test"]);  // same seed, same numbers
    } else {
      EXPECT_EQ(read_file(path), text) << name;
      EXPECT_EQ(fs::last_write_time(path), mtime[name]) << name;
    }
  }
  // A third call computes nothing.
  EXPECT_TRUE(run_bench(o, log).computed.empty());
  // A new seed adds only its cells.
  BenchOptions more = o;
  more.seeds = {1, 2, 3};
  EXPECT_EQ(run_bench(more, log).computed.size(), 3u);
}

TEST(Bench, RefusesChangedDataOrSettings) {
  const std::string data = testing::tiny_corpus("bench_c", 60, 30, 5);
  const std::string out = testing::temp_dir("bench_c_out");
  std::ostringstream log;
  BenchOptions o = classical(data, out);
  o.seeds = {1};
  run_bench(o, log);

  BenchOptions other_grid = o;
  other_grid.mf_regularization = {0.01};
  std::string e = testing::error_of<UsageError>([&] { run_bench(other_grid, log); });
  EXPECT_NE(e.find("other settings"), std::string::npos) << e;
  EXPECT_NE(e.find("mf"), std::string::npos) << e;

  BenchOptions other_split = o;
  other_split.split.train = 0.7;
  other_split.split.validation = 0.2;
  EXPECT_THROW(run_bench(other_split, log), UsageError);

  // The same path with other contents (another corpus seed).
  ASSERT_EQ(testing::tiny_corpus("bench_c", 60, 30, 55), data);
  e = testing::error_of<UsageError>([&] { run_bench(o, log); });
  EXPECT_NE(e.find("data file"), std::string::npos) << e;
  // Nothing was recomputed or removed by the refused calls.
  EXPECT_TRUE(fs::exists(out + "/cells/mf_s1.json"));
}

TEST(Bench, TableOnlyTrainsNothingAndListsTheMissingCells) {
  const std::string data = testing::tiny_corpus("bench_t", 60, 30, 7);
  const std::string out = testing::temp_dir("bench_t_out");
  std::ostringstream log;
  BenchOptions o = classical(data, out);
  o.table_only = true;
  // No bench there yet: nothing to tabulate, and nothing is created.
  std::string e = testing::error_of<UsageError>([&] { run_bench(o, log); });
  EXPECT_NE(e.find("holds no bench"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(out + "/cells"));

  BenchOptions first = classical(data, out);
  first.seeds = {1};
  run_bench(first, log);
  const std::string config = read_file(out + "/bench_config.json");

  o.seeds = {1, 2};
  const BenchResult r = run_bench(o, log);
  EXPECT_TRUE(r.computed.empty());
  EXPECT_EQ(r.reused.size(), 3u);
  EXPECT_FALSE(fs::exists(out + "/cells/mf_s2.json"));
  EXPECT_EQ(read_file(out + "/bench_config.json"), config);  // checked, not rewritten
  for (const auto& row : r.results["rows"]) {
    EXPECT_EQ(row["seeds"], json::array({1})) << row["model"];
    EXPECT_EQ(row["missing_seeds"], json::array({2})) << row["model"];
  }
  EXPECT_EQ(json::parse(read_file(out + "/results.json")), r.results);
  EXPECT_NE(read_file(out + "/results.md").find("mf seed 2"), std::string::npos);

  // The settings are still checked.
  BenchOptions other = o;
  other.mf_regularization = {0.01};
  e = testing::error_of<UsageError>([&] { run_bench(other, log); });
  EXPECT_NE(e.find("other settings"), std::string::npos) << e;
}

TEST(Bench, LoidCellOnTinyBert) {
  const std::string data = testing::tiny_corpus("bench_d", 40, 20, 6);
  const std::string out = testing::temp_dir("bench_d_out");
  BenchOptions o = classical(data, out);
  o.models = {"mf", "loid"};
  o.seeds = {1};
  o.loid = testing::tiny_train_options("", "");
  o.threads = 1;
  std::ostringstream log;
  const BenchResult r = run_bench(o, log);
  ASSERT_EQ(r.computed.size(), 2u);
  const json cell = json::parse(read_file(out + "/cells/loid_s1.json"));
  const std::string run_dir = cell["details"]["run_dir"];
  const LoadedRun run(run_dir);
  EXPECT_NEAR(cell["test"]["mse"].get<double>(), run.metrics()["test"]["mse"].get<double>(), 1e-5);
  EXPECT_EQ(cell["test_predictions"].size(), run.split().test.size());
  EXPECT_EQ(run.split().options.seed, 1u);
  EXPECT_FALSE(r.results["rows"][1]["test_mse_minus_mf"].is_null());

  // loid+plugin without a source or a plugin is refused before any work.
  o.models = {"loid+plugin"};
  EXPECT_THROW(run_bench(o, log), UsageError);
}

TEST(BenchCli, UnknownModelExitsWithTheList) {
  const std::string cli = testing::cli_path();
  if (!fs::exists(cli)) GTEST_SKIP() << cli << " not built; skipping CLI test";
  const std::string data = testing::tiny_corpus("bench_e", 30, 20, 7);
  const std::string tmp = testing::temp_dir("bench_e_out");
  const std::string log = tmp + "/log.txt";
  const std::string cmd = "'" + cli + "' bench --data '" + data + "' --models mf,foo --out '" +
                          tmp + "/b' > '" + log + "' 2>&1";
  EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 2) << read_file(log);
  EXPECT_NE(read_file(log).find("unknown model 'foo'"), std::string::npos) << read_file(log);
  EXPECT_NE(read_file(log).find("loid+plugin"), std::string::npos) << read_file(log);
  const std::string ok = "'" + cli + "' bench --data '" + data +
                         "' --models mean,bias --seeds 1,2 --out '" + tmp +
                         "/b' --no-progress > '" + log + "' 2>&1";
  ASSERT_EQ(std::system(ok.c_str()), 0) << read_file(log);
  EXPECT_NE(read_file(log).find("| bias"), std::string::npos) << read_file(log);
  EXPECT_TRUE(fs::exists(tmp + "/b/cells/bias_s2.json"));
}

}  // namespace
}  // namespace loid
