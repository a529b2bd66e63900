#include "train/demo.h"

#include <cstdio>
#include <iomanip>
#include <unordered_set>

#include "core/error.h"
#include "core/fs.h"
#include "core/paths.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "data/history.h"
#include "data/reader.h"
#include "data/split.h"
#include "data/synth.h"
#include "eval/metrics.h"
#include "rec/mf.h"
#include "train/loid_train.h"
#include "train/pretrain.h"

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

namespace loid {

namespace {

std::string fmt(double x, int digits = 4) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

// Counts held-out reviews that a history can reach; the index is built from training ids only, so
// this is a runtime proof on the user's own data, not an assumption.
std::int64_t count_leaks(const Dataset& dataset, const Split& split, const HistoryIndex& history) {
  std::unordered_set<std::int64_t> reachable;
  for (std::int64_t u = 0; u < history.num_users(); ++u) {
    for (std::int64_t id : history.user_history(u)) reachable.insert(id);
  }
  for (std::int64_t i = 0; i < history.num_items(); ++i) {
    for (std::int64_t id : history.item_history(i)) reachable.insert(id);
  }
  std::int64_t leaks = 0;
  for (std::int64_t id = 0; id < dataset.num_reviews(); ++id) {
    if (split.part[id] != SplitPart::kTrain && reachable.count(id)) ++leaks;
  }
  return leaks;
}

void describe_file(const ReviewFile& f, std::ostream& out) {
  const ReadReport& r = f.report;
  out << "  " << r.file << " (" << r.format << "): " << r.kept << " reviews kept of " << r.lines
      << " lines";
  if (r.skipped_total() > 0) out << ", " << r.skipped_total() << " skipped";
  if (r.duplicates_dropped > 0) out << ", " << r.duplicates_dropped << " duplicates dropped";
  if (r.repeated_texts_dropped > 0)
    out << ", " << r.repeated_texts_dropped << " repeated texts dropped";
  if (r.empty_text > 0) out << ", " << r.empty_text << " with empty text";
  out << "\n";
}

}  // namespace

namespace {

// Step 1: the target and source files, synthesised when none were given.
std::string demo_files(const DemoOptions& o, std::vector<std::string>& sources, std::ostream& out) {
  sources = o.sources;
  if (!o.data.empty()) {
    out << "1. Using the given review files\n";
    return o.data;
  }
  SynthOptions so;
  so.domains = 2;
  so.users = o.synth_users;
  so.items = o.synth_items;
  so.seed = o.seed;
  so.reviews_per_user = 5;
  so.bias_scale = 0.15;
  so.interaction = 2.0;
  so.centered_quality = true;
  so.rating_words = 0.0;
  so.out = o.out + "/synth.json";
  // The source domain's words show its ratings, as real reviews' do, so that the plugin has
  // something to learn; the target's words show only the items' aspects (see DemoOptions).
  SynthOptions source = so;
  source.rating_words = 1.0;
  source.out = o.out + "/synth_source.json";
  out << "1. Synthesising a two-domain review corpus (seed " << o.seed << ", " << so.users
      << " users and " << so.items << " items per domain)\n";
  const std::vector<std::string> target = write_synth_corpus(so);
  const std::vector<std::string> source_paths = write_synth_corpus(source);
  // Each call writes both domains: keep the source's first and the target's second.
  std::remove(target.front().c_str());
  std::remove(source_paths.back().c_str());
  sources = {source_paths.front()};
  out << "   wrote " << sources.front() << " (source) and " << target.back() << " (target)\n";
  return target.back();
}

// Step 5: the classical baselines on the split, into `result`.
void demo_baselines(const DemoOptions& o, const Dataset& dataset, const Split& split,
                    DemoResult& result, std::ostream& out) {
  out << "5. Baselines (test split read once, models chosen on validation)\n";
  const RatingRows train = rating_rows(dataset, split.train);
  const RatingRows validation = rating_rows(dataset, split.validation);
  const RatingRows test = rating_rows(dataset, split.test);
  const float mu = global_mean(train);
  result.mean_test_mse = rating_metrics(std::vector<float>(test.size(), mu), test.rating).mse;
  MfOptions base;
  base.seed = o.seed;
  MfOptions chosen_bias, chosen_mf;
  BiasedMf bias = select_mf(train, validation, dataset.num_users(), dataset.num_items(), {0},
                            {0.01, 0.05, 0.2}, base, &chosen_bias);
  BiasedMf mf = select_mf(train, validation, dataset.num_users(), dataset.num_items(), {8},
                          {0.01, 0.05, 0.2}, base, &chosen_mf);
  result.bias_test_mse = rating_metrics(bias.predict(test), test.rating).mse;
  result.mf_test_mse = rating_metrics(mf.predict(test), test.rating).mse;
  if (o.loid) return;
  out << "\n   | model | test MSE | chosen on validation |\n";
  out << "   |---|---|---|\n";
  out << "   | global mean | " << fmt(result.mean_test_mse) << " | - |\n";
  out << "   | user + item biases | " << fmt(result.bias_test_mse) << " | reg "
      << chosen_bias.regularization << " |\n";
  out << "   | biased MF (k = 8) | " << fmt(result.mf_test_mse) << " | reg "
      << chosen_mf.regularization << " |\n";
}

// Step 6: the source plugin; returns its directory.
std::string demo_plugin(const DemoOptions& o, const std::vector<std::string>& sources,
                        DemoResult& result, std::ostream& out) {
  PretrainOptions po;
  po.data = sources;
  po.read = o.read;
  po.encoder_dir = o.encoder_dir;
  po.out = o.out + "/plugin";
  po.split.seed = o.seed;
  po.train.seed = o.seed;
  po.train.epochs = o.pretrain_epochs;
  po.train.max_steps = o.pretrain_steps;
  po.train.progress = o.progress;
  po.threads = o.threads;
  po.device = o.device;
  po.force = true;
  if (o.lora_rank > 0) {
    po.lora.r = o.lora_rank;
    po.lora.alpha = o.lora_rank;
  }
  if (o.hidden > 0) po.head_hidden = o.hidden;
  out << "6. Pretraining a source plugin on " << sources.size() << " file(s) -> " << po.out
      << std::endl;
  const PretrainResult pr = run_pretrain(po);
  result.plugin_test_mse = pr.test.mse;
  out << "   plugin's own task (a review's rating from its text), source test MSE "
      << fmt(pr.test.mse) << ", weighted F1 of the rounded rating " << fmt(pr.test_classes.f1, 3)
      << std::endl;
  return po.out;
}

// Steps 7 and 8: `loid train`'s options for the demo's runs.
LoidTrainOptions demo_train_options(const DemoOptions& o, const std::string& target,
                                    const SplitOptions& split, const std::string& dir,
                                    const std::string& plugin) {
  LoidTrainOptions t;
  t.data = target;
  t.read = o.read;
  t.encoder_dir = o.encoder_dir;
  t.out = dir;
  t.split = split;
  if (!plugin.empty()) t.plugins.dirs = {plugin};
  t.relora.epochs = o.relora_epochs;
  t.relora.max_steps = o.relora_steps;
  t.relora.seed = o.seed;
  t.epochs = o.loid_epochs;
  t.threads = o.threads;
  t.device = o.device;
  t.progress = o.progress;
  t.force = true;
  if (o.lora_rank > 0) {
    t.lora.r = o.lora_rank;
    t.lora.alpha = o.lora_rank;
  }
  if (o.heads > 0) t.heads = o.heads;
  if (o.hidden > 0) t.hidden = t.head_hidden = o.hidden;
  return t;
}

// The final table.
void demo_table(const DemoOptions& o, const Split& split, const DemoResult& result,
                double plain_rmse, double plugged_rmse, double seconds, std::ostream& out) {
  out << "\n   Target test split (" << split.counts.test << " reviews, split seed " << o.seed
      << "), leak-free; every model chosen on validation; LoID's encoder: "
      << (o.encoder_dir.empty() ? "the installed default, USE-Lite (" + models_dir() + "/use_lite)"
                                : o.encoder_dir)
      << ":\n\n";
  out << "   | model | test MSE | test RMSE |\n";
  out << "   |---|---|---|\n";
  out << "   | global mean | " << fmt(result.mean_test_mse) << " | "
      << fmt(std::sqrt(result.mean_test_mse)) << " |\n";
  out << "   | user + item biases | " << fmt(result.bias_test_mse) << " | "
      << fmt(std::sqrt(result.bias_test_mse)) << " |\n";
  out << "   | biased MF (k = 8) | " << fmt(result.mf_test_mse) << " | "
      << fmt(std::sqrt(result.mf_test_mse)) << " |\n";
  out << "   | LoID, no plugin | " << fmt(result.loid_test_mse) << " | " << fmt(plain_rmse)
      << " |\n";
  out << "   | LoID + source plugin | " << fmt(result.loid_plugin_test_mse) << " | "
      << fmt(plugged_rmse) << " |\n";
  out << "   | LoID, MF + text factors (+ plugin) | " << fmt(result.loid_mf_test_mse) << " | "
      << fmt(std::sqrt(result.loid_mf_test_mse)) << " |\n\n";
  if (o.data.empty())
    out << "   Why this corpus: a rating here depends on how the item does on the aspects its "
           "user\n"
           "   cares about, which rating averages cannot see, and users have about 5 reviews, too\n"
           "   few for MF to learn their tastes. Their reviews say which aspects they care about:\n"
           "   the paper's LoID (an MLP on attended review vectors) does not turn that into\n"
           "   better predictions here; MF + text factors (mf+text, not in the paper) maps each\n"
           "   user's review vectors into MF's factors and does (BENCHMARKS.md, \"When does text\n"
           "   pay?\"). On Musical Instruments it does not beat MF.\n\n";
  out << "   LoID stages took " << format_duration(seconds)
      << ". One split seed: differences this small need several seeds (loid bench) before "
         "they mean anything.\n";
  out << "   Try: loid predict --run " << result.run_dir << " --user <id> --item <id>; "
      << "loid recommend --run " << result.run_dir << " --user <id>; report: " << result.run_dir
      << "/report.md\n";
  out << "   Why a rating: loid serve --run " << result.run_dir
      << " --port 8080, then open http://127.0.0.1:8080/ (or loid predict ... --explain)\n";
}

}  // namespace

DemoResult run_demo(const DemoOptions& o, std::ostream& out) {
  DemoResult result;
  make_dirs(o.out);
  std::vector<std::string> sources;
  const std::string target = demo_files(o, sources, out);
  if (o.loid && sources.empty())
    throw UsageError("demo: give --source file(s) for the plugin, or run with --baselines-only");
  out << "2. Reading reviews\n";
  for (const auto& s : sources) describe_file(read_reviews(s, o.read), out);
  ReviewFile target_file = read_reviews(target, o.read);
  describe_file(target_file, out);

  Dataset dataset(std::move(target_file.reviews));
  result.target_reviews = dataset.num_reviews();
  SplitOptions split_options;
  split_options.seed = o.seed;
  Split split = make_split(dataset, split_options);
  const SplitCounts& c = split.counts;
  out << "3. Target domain " << target << ": " << dataset.num_users() << " users, "
      << dataset.num_items() << " items; split seed " << o.seed << " -> train " << c.train
      << ", validation " << c.validation << ", test " << c.test
      << " (cold-start held-out reviews: " << c.cold_user_reviews << " by cold users, "
      << c.cold_item_reviews << " of cold items)\n";
  const std::string split_path = o.out + "/split.tsv";
  write_split_tsv(dataset, split, split_path);
  out << "   wrote " << split_path << "\n";

  HistoryIndex history(dataset, split);
  result.leaks_found = count_leaks(dataset, split, history);
  out << "4. Train-only histories built; held-out reviews reachable through any history: "
      << result.leaks_found << "\n";
  if (result.leaks_found != 0) throw Error("history index leaks held-out reviews");
  demo_baselines(o, dataset, split, result, out);
  if (!o.loid) {
    result.loid_test_mse = result.loid_plugin_test_mse = std::nan("");
    return result;
  }

  // LoID: a plugin from the source domain(s), then the target with and without it.
  const auto t0 = std::chrono::steady_clock::now();
  const std::string plugin = demo_plugin(o, sources, result, out);
  out << "7. LoID on the target without a plugin -> " << o.out << "/run_no_plugin" << std::endl;
  const auto plain =
      run_loid_train(demo_train_options(o, target, split_options, o.out + "/run_no_plugin", ""));
  result.loid_test_mse = plain.metrics["test"]["mse"].get<double>();
  out << "8. LoID on the target with the plugin -> " << o.out << "/run_plugin" << std::endl;
  const auto plugged =
      run_loid_train(demo_train_options(o, target, split_options, o.out + "/run_plugin", plugin));
  result.loid_plugin_test_mse = plugged.metrics["test"]["mse"].get<double>();
  result.run_dir = o.out + "/run_plugin";
  out << "9. LoID, MF + text factors, on the plugin run's review vectors -> " << o.out
      << "/run_mf_text" << std::endl;
  LoidTrainOptions mt =
      demo_train_options(o, target, split_options, o.out + "/run_mf_text", plugin);
  mt.predictor = LoidPredictor::kMfText;
  mt.reuse_text_stage = result.run_dir;
  const auto mf_text = run_loid_train(mt);
  result.loid_mf_test_mse = mf_text.metrics["test"]["mse"].get<double>();
  result.mf_run_dir = mt.out;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  demo_table(o, split, result, plain.metrics["test"]["rmse"].get<double>(),
             plugged.metrics["test"]["rmse"].get<double>(), seconds, out);
  return result;
}

}  // namespace loid
