// `loid bench` (see bench_run.h): cells, resume, fingerprints and the statistics over seeds.
#include "train/bench_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/paths.h"
#include "core/progress.h"
#include "core/temp_files.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "eval/stats.h"
#include "nn/encoder.h"
#include "rec/alfm.h"
#include "rec/bigi.h"
#include "rec/id_model.h"
#include "rec/mf.h"
#include "rec/rgcl.h"
#include "rec/text_baselines.h"
#include "train/run.h"
#include "train/loid_stages.h"
#include "train/run_config.h"
#include "train/setup.h"
#include "train/distributed.h"
#include "io/json_file.h"

namespace loid {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const char* const kClassicalModels[] = {"mean", "bias", "mf"};
// loid-mf and loid-mf+plugin: the mf+text predictor (a fitted biased MF plus the text part).
const char* const kLoidModels[] = {"loid", "loid+plugin", "loid-mf", "loid-mf+plugin"};

bool is_text_model(const std::string& m) {
  return is_text_baseline(m);
}

// A LoID model under the paper-leaky protocol is the model's name with this suffix
// ("loid@paper-leaky"): its own row and cells, every output marked LEAKY.
const char* const kLeakySuffix = "@paper-leaky";

// The model name without a protocol suffix.
std::string base_model(const std::string& m) {
  const std::string suffix = kLeakySuffix;
  if (m.size() > suffix.size() && m.compare(m.size() - suffix.size(), suffix.size(), suffix) == 0)
    return m.substr(0, m.size() - suffix.size());
  return m;
}

bool is_leaky_model(const std::string& m) {
  return base_model(m) != m;
}

bool is_loid_model(const std::string& m) {
  const std::string b = base_model(m);
  return std::find(std::begin(kLoidModels), std::end(kLoidModels), b) != std::end(kLoidModels);
}

bool uses_plugin(const std::string& m) {
  const std::string b = base_model(m);
  return b == "loid+plugin" || b == "loid-mf+plugin";
}

bool is_mf_text_model(const std::string& m) {
  const std::string b = base_model(m);
  return b == "loid-mf" || b == "loid-mf+plugin";
}

// ---- small helpers -----------------------------------------------------------------------------

std::string fixed(double x, int digits = 4) {
  return format_finite(x, digits);
}

std::string signed_fixed(double x, int digits = 4) {
  if (!std::isfinite(x)) return "n/a";
  const std::string s = format_number(x, digits);
  return s[0] == '-' || s.find_first_not_of("0.") == std::string::npos ? s : "+" + s;
}

// Short durations with enough digits to compare models that take milliseconds.
std::string seconds_text(double s) {
  if (!std::isfinite(s)) return "n/a";
  if (s < 1.0) return format_number(s, 3) + "s";
  if (s < 60.0) return format_number(s, 1) + "s";
  return format_duration(s);
}

double number_of(const json& j) {
  return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

json stats_json(const SeedStats& s) {
  return {{"n", s.n},
          {"mean", number_or_null(s.mean)},
          {"std", number_or_null(s.std)},
          {"ci95_low", number_or_null(s.ci_low)},
          {"ci95_high", number_or_null(s.ci_high)}};
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json file_fingerprint_json(const std::string& path) {
  const FileFingerprint f = file_fingerprint(path);
  return {{"bytes", f.bytes}, {"crc32", f.crc32}};
}

// Every regular file of a directory (sorted by name) with its fingerprint.
json dir_fingerprint_json(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InputError(dir, 0, "plugin directory not found");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  json files = json::object();
  for (const auto& n : names) files[n] = file_fingerprint_json(dir + "/" + n);
  return files;
}

void write_json_atomic(const std::string& path, const json& j) {
  write_file_atomic(path, j.dump(2) + "\n");
}

// Test-row subsets for the cold-start rows (the same definitions as loid train's metrics.json).
struct ColdSubset {
  const char* name;
  bool user;     // counts the user's training reviews (else the item's)
  bool without;  // zero training reviews (else fewer than 3)
};
constexpr ColdSubset kColdSubsets[] = {
    {"users_fewer_than_3_train_reviews", true, false},
    {"users_without_train_reviews", true, true},
    {"items_fewer_than_3_train_reviews", false, false},
    {"items_without_train_reviews", false, true},
};

// One seed's split of the target and the rows every model is scored on.
struct SeedData {
  std::uint64_t seed = 0;
  SplitOptions split_options;
  Split split;
  RatingRows train, validation, test;
  std::vector<std::int64_t> user_train_count, item_train_count;
};

SeedData seed_data(const Dataset& dataset, SplitOptions options, std::uint64_t seed) {
  SeedData s;
  s.seed = seed;
  options.seed = seed;
  s.split_options = options;
  s.split = make_split(dataset, options);
  s.train = rating_rows(dataset, s.split.train);
  s.validation = rating_rows(dataset, s.split.validation);
  s.test = rating_rows(dataset, s.split.test);
  s.user_train_count.assign(dataset.num_users(), 0);
  s.item_train_count.assign(dataset.num_items(), 0);
  for (std::size_t j = 0; j < s.train.size(); ++j) {
    ++s.user_train_count[s.train.user[j]];
    ++s.item_train_count[s.train.item[j]];
  }
  return s;
}

json cold_start_json(const SeedData& s, const std::vector<float>& test_pred) {
  json out = json::object();
  for (const ColdSubset& c : kColdSubsets) {
    std::vector<float> p, t;
    for (std::size_t j = 0; j < s.test.size(); ++j) {
      const std::int64_t count =
          c.user ? s.user_train_count[s.test.user[j]] : s.item_train_count[s.test.item[j]];
      if (c.without ? count == 0 : count < 3) {
        p.push_back(test_pred[j]);
        t.push_back(s.test.rating[j]);
      }
    }
    out[c.name] = metrics_json(rating_metrics(p, t));
  }
  return out;
}

// A finished cell from its predictions.
json make_cell(const std::string& model, const SeedData& s, const std::vector<float>& val_pred,
               const std::vector<float>& test_pred, double seconds, json details) {
  if (val_pred.size() != s.validation.size() || test_pred.size() != s.test.size())
    throw Error("bench: model " + model + " returned " + std::to_string(val_pred.size()) + "/" +
                std::to_string(test_pred.size()) + " validation/test predictions for " +
                std::to_string(s.validation.size()) + "/" + std::to_string(s.test.size()) +
                " rows");
  json preds = json::array();
  for (float p : test_pred) preds.push_back(p);
  json val_preds = json::array();
  for (float p : val_pred) val_preds.push_back(p);
  return {
      {"model", model},
      {"seed", s.seed},
      {"test", metrics_json(rating_metrics(test_pred, s.test.rating))},
      {"validation", metrics_json(rating_metrics(val_pred, s.validation.rating))},
      {"cold_start", cold_start_json(s, test_pred)},
      {"seconds", seconds},
      {"details", std::move(details)},
      {"finished", utc_now()},
      {"test_predictions_order", "the split's test review ids, ascending (file order)"},
      {"test_predictions", std::move(preds)},
      {"validation_predictions_order", "the split's validation review ids, ascending (file order)"},
      {"validation_predictions", std::move(val_preds)}};
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The sections of the settings that the requested models depend on.
std::set<std::string> sections_needed(const std::vector<std::string>& models) {
  std::set<std::string> s = {"data", "read", "split"};
  for (const auto& m : models) {
    if (m == "bias" || m == "mf" || is_mf_text_model(m)) s.insert("mf");
    if (is_loid_model(m)) s.insert("loid");
    if (uses_plugin(m)) s.insert("plugin");
    if (is_text_model(m)) s.insert("text");
    if (is_id_baseline(m)) s.insert("id");
    if (m == "rgcl") s.insert("rgcl");
  }
  return s;
}

}  // namespace

// ---- models ------------------------------------------------------------------------------------

std::vector<std::string> bench_model_names() {
  std::vector<std::string> names(std::begin(kClassicalModels), std::end(kClassicalModels));
  for (const auto& m : text_baseline_names()) names.push_back(m);
  for (const auto& m : id_baseline_names()) names.push_back(m);
  names.insert(names.end(), std::begin(kLoidModels), std::end(kLoidModels));
  return names;
}

void validate_bench_models(const std::vector<std::string>& models) {
  if (models.empty()) throw UsageError("bench: --models is empty");
  const std::vector<std::string> known = bench_model_names();
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  std::set<std::string> seen;
  for (const auto& m : models) {
    if (is_leaky_model(m) && !is_loid_model(m))
      throw UsageError("bench: '" + m + "': only the LoID models (" + std::string(kLoidModels[0]) +
                       ", ...) have a paper-leaky protocol");
    const bool ok = std::find(known.begin(), known.end(), m) != known.end() || is_text_model(m) ||
                    is_loid_model(m);
    if (!ok)
      throw UsageError("bench: unknown model '" + m + "'; valid models: " + list +
                       " (LoID models also as NAME" + kLeakySuffix + ")");
    if (!seen.insert(m).second) throw UsageError("bench: model '" + m + "' is listed twice");
  }
}

std::vector<std::string> bench_models_for_protocols(const std::vector<std::string>& models,
                                                    const std::vector<std::string>& protocols) {
  bool leak_free = false, leaky = false;
  for (const auto& p : protocols) {
    if (p == "leak-free")
      leak_free = true;
    else if (p == "paper-leaky")
      leaky = true;
    else
      throw UsageError("bench: unknown protocol '" + p + "' (leak-free, paper-leaky)");
  }
  if (!leak_free && !leaky) throw UsageError("bench: --protocols is empty");
  std::vector<std::string> out;
  for (const auto& m : models) {
    if (!is_loid_model(m) || is_leaky_model(m)) {
      out.push_back(m);
      continue;
    }
    if (leak_free) out.push_back(m);
    if (leaky) out.push_back(m + kLeakySuffix);
  }
  return out;
}

std::string bench_cell_name(const std::string& model, std::uint64_t seed) {
  return model + "_s" + std::to_string(seed);
}

namespace {

// The settings sections named in `needed` (data, split, mf, loid, plugin, text).
json settings_sections(const BenchOptions& o, const std::set<std::string>& needed) {
  json s = json::object();
  if (needed.count("data")) s["data"] = file_fingerprint_json(o.data);
  if (needed.count("read")) s["read"] = read_options_json(o.read);
  if (needed.count("split")) {
    s["split"] = {o.split.train, o.split.validation, o.split.test};
    // Recorded only below 1, so benches of all the training reviews read as before.
    if (o.split.train_fraction < 1.0) s["train_fraction"] = o.split.train_fraction;
  }
  if (needed.count("mf"))
    s["mf"] = {{"factors", o.mf_factors}, {"regularization", o.mf_regularization}};
  if (needed.count("loid")) {
    LoidTrainOptions t = o.loid;
    t.data.clear();
    t.out.clear();
    t.split = o.split;
    t.split.seed = 0;
    t.plugins.dirs.clear();
    s["loid"] = train_config_json(t);
    s["loid"].erase("read");  // its own section, shared by every model
  }
  if (needed.count("plugin")) {
    json plugin = json::object();
    if (!o.plugins.empty()) {
      json dirs = json::array();
      for (const auto& d : o.plugins) dirs.push_back(dir_fingerprint_json(d));
      plugin["given"] = dirs;
    } else {
      json sources = json::array();
      for (const auto& src : o.sources) sources.push_back(file_fingerprint_json(src));
      const PretrainOptions& p = o.pretrain;
      plugin["pretrain"] = {{"sources", sources},
                            {"split_seed", p.split.seed},
                            {"epochs", p.train.epochs},
                            {"patience", p.train.patience},
                            {"batch_size", p.train.batch_size},
                            {"learning_rate", p.train.learning_rate},
                            {"max_steps", p.train.max_steps},
                            {"max_train_reviews", p.max_train_reviews},
                            {"head_hidden", p.head_hidden},
                            {"head_dropout", p.head_dropout}};
    }
    s["plugin"] = plugin;
  }
  if (needed.count("text"))
    s["text"] = {{"max_epochs", o.text_max_epochs},
                 {"word_vectors",
                  o.word_vectors.empty() ? json(nullptr) : file_fingerprint_json(o.word_vectors)},
                 {"threads", o.threads}};
  if (needed.count("id")) s["id"] = {{"max_epochs", o.id_max_epochs}, {"threads", o.threads}};
  if (needed.count("rgcl"))  // the encoder of the review vectors
    s["rgcl"] = {{"encoder", o.loid.encoder_dir.empty() ? json("default (use_lite)")
                                                        : json(o.loid.encoder_dir)}};
  return s;
}

}  // namespace

json bench_settings_json(const BenchOptions& o) {
  return settings_sections(o, {"data", "split", "mf", "loid", "plugin", "text", "id", "rgcl"});
}

// ---- results -----------------------------------------------------------------------------------

json bench_results_json(const std::vector<json>& cells, const std::vector<std::string>& models,
                        const std::vector<std::uint64_t>& seeds) {
  std::map<std::pair<std::string, std::uint64_t>, const json*> by_key;
  for (const auto& c : cells)
    by_key[{c.at("model").get<std::string>(), c.at("seed").get<std::uint64_t>()}] = &c;
  auto find = [&](const std::string& m, std::uint64_t s) -> const json* {
    auto it = by_key.find({m, s});
    return it == by_key.end() ? nullptr : it->second;
  };
  const bool have_mf = std::find(models.begin(), models.end(), "mf") != models.end();
  json rows = json::array();
  double total_seconds = 0.0;
  for (const auto& m : models) {
    std::vector<double> mse, rmse, mae, val, secs, diff;
    json seeds_done = json::array(), missing = json::array(), diff_seeds = json::array();
    std::map<std::string, std::vector<double>> cold_mse;
    std::map<std::string, std::vector<double>> cold_n;
    for (std::uint64_t s : seeds) {
      const json* c = find(m, s);
      if (!c) {
        missing.push_back(s);
        continue;
      }
      seeds_done.push_back(s);
      mse.push_back(c->at("test").at("mse").get<double>());
      rmse.push_back(c->at("test").at("rmse").get<double>());
      mae.push_back(c->at("test").at("mae").get<double>());
      val.push_back(c->at("validation").at("mse").get<double>());
      secs.push_back(c->at("seconds").get<double>());
      for (const ColdSubset& cs : kColdSubsets) {
        const json& sub = c->at("cold_start").at(cs.name);
        cold_n[cs.name].push_back(sub.at("n").get<double>());
        if (sub.at("n").get<std::int64_t>() > 0)
          cold_mse[cs.name].push_back(sub.at("mse").get<double>());
      }
      if (have_mf && m != "mf") {
        if (const json* b = find("mf", s)) {
          diff.push_back(mse.back() - b->at("test").at("mse").get<double>());
          diff_seeds.push_back(s);
        }
      }
    }
    double sum_secs = 0.0;
    for (double x : secs) sum_secs += x;
    total_seconds += sum_secs;
    json cold = json::object();
    for (const ColdSubset& cs : kColdSubsets) {
      cold[cs.name] = {{"test_mse", stats_json(seed_stats(cold_mse[cs.name]))},
                       {"rows", stats_json(seed_stats(cold_n[cs.name]))}};
    }
    json row = {{"model", m},
                {"seeds", seeds_done},
                {"missing_seeds", missing},
                {"test_mse", stats_json(seed_stats(mse))},
                {"test_rmse", stats_json(seed_stats(rmse))},
                {"test_mae", stats_json(seed_stats(mae))},
                {"validation_mse", stats_json(seed_stats(val))},
                {"per_seed",
                 {{"test_mse", mse},
                  {"test_rmse", rmse},
                  {"test_mae", mae},
                  {"validation_mse", val},
                  {"seconds", secs}}},
                {"cold_start", cold},
                {"seconds", {{"per_cell", stats_json(seed_stats(secs))}, {"total", sum_secs}}}};
    if (have_mf && m != "mf") {
      json d = stats_json(seed_stats(diff));
      d["seeds"] = diff_seeds;
      d["per_seed"] = diff;
      row["test_mse_minus_mf"] = d;
    } else {
      row["test_mse_minus_mf"] = nullptr;
    }
    rows.push_back(row);
  }
  return {{"models", models},
          {"seeds", seeds},
          {"rows", rows},
          {"cells_seconds_total", total_seconds},
          {"statistics",
           "mean and sample standard deviation (n - 1) over seeds; test_mse_minus_mf: per seed, "
           "the model's test MSE minus mf's on the same split, with the 95% t-interval of its "
           "mean (Student's t, n - 1 degrees of freedom)"}};
}

std::string bench_results_markdown(const json& r) {
  auto pm = [](const json& st) {
    const double mean = number_of(st.at("mean")), sd = number_of(st.at("std"));
    if (!std::isfinite(mean)) return std::string("n/a");
    return fixed(mean) + (std::isfinite(sd) ? " ± " + fixed(sd) : std::string());
  };
  std::ostringstream md;
  md << "# loid bench results\n\n";
  if (r.contains("data")) md << "Target: `" << r["data"].get<std::string>() << "`";
  if (r.contains("split_ratios")) {
    const auto& q = r["split_ratios"];
    md << ", split " << q[0].get<double>() << "/" << q[1].get<double>() << "/"
       << q[2].get<double>();
  }
  md << "; seeds";
  for (const auto& s : r.at("seeds")) md << " " << s.get<std::uint64_t>();
  md << " (one split per seed, the same for every model).\n";
  if (r.contains("encoder") && r["encoder"].is_string())
    md << "Encoder of the LoID models: " << r["encoder"].get<std::string>() << ".\n";
  if (r.contains("plugin") && r["plugin"].is_object()) {
    const json& p = r["plugin"];
    if (p.contains("given")) {
      md << "Plugin(s) for loid+plugin, given:";
      for (const auto& d : p["given"]) md << " `" << d.get<std::string>() << "`";
      md << ".\n";
    } else if (p.contains("pretrained")) {
      md << "Plugin for loid+plugin pretrained into `" << p["pretrained"].get<std::string>()
         << "` from";
      for (const auto& d : p.value("sources", json::array()))
        md << " `" << d.get<std::string>() << "`";
      if (p.contains("source_test"))
        md << " (its own task, a review's rating from its text: source test MSE "
           << fixed(number_of(p["source_test"].value("mse", json(nullptr)))) << ")";
      md << ".\n";
    }
  }
  bool any_leaky = false;
  for (const auto& row : r.at("rows")) any_leaky = any_leaky || is_leaky_model(row.at("model"));
  if (any_leaky)
    md << "\nRows marked **LEAKY** ran under the paper-leaky protocol (the authors' released "
          "code: histories built from all reviews before the split, first k in file order, the "
          "row's own review included), so validation and test reviews were visible to the model: "
          "they are not honest estimates, only a measure of what the leak is worth.\n";
  md << "\nMean ± sample standard deviation over seeds. ΔMSE vs mf: per seed, the model's test MSE "
        "minus mf's on the same split; mean and 95% t-interval over seeds (negative = better "
        "than mf).\n\n";

  std::vector<std::vector<std::string>> rows;
  for (const auto& row : r.at("rows")) {
    std::string delta = "-";
    if (!row.at("test_mse_minus_mf").is_null()) {
      const json& d = row["test_mse_minus_mf"];
      const double lo = number_of(d.at("ci95_low")), hi = number_of(d.at("ci95_high"));
      delta = signed_fixed(number_of(d.at("mean")));
      if (std::isfinite(lo)) delta += " [" + signed_fixed(lo) + ", " + signed_fixed(hi) + "]";
    }
    const double per_cell = number_of(row.at("seconds").at("per_cell").at("mean"));
    const std::string name = row.at("model").get<std::string>();
    rows.push_back({is_leaky_model(name) ? name + " **LEAKY**" : name,
                    std::to_string(row.at("seeds").size()), pm(row.at("test_mse")),
                    pm(row.at("test_rmse")), pm(row.at("test_mae")), delta,
                    pm(row.at("validation_mse")), seconds_text(per_cell)});
  }
  md << markdown_table({"model", "seeds", "test MSE", "test RMSE", "test MAE",
                        "ΔMSE vs mf [95% CI]", "validation MSE", "time per seed"},
                       rows);

  md << "\nCold-start test rows (training reviews of the row's user or item in that seed's "
        "split): test MSE mean ± std over seeds, with the mean number of rows.\n\n";
  std::vector<std::vector<std::string>> cold_rows;
  for (const auto& row : r.at("rows")) {
    const std::string name = row.at("model").get<std::string>();
    std::vector<std::string> cells = {is_leaky_model(name) ? name + " **LEAKY**" : name};
    for (const ColdSubset& cs : kColdSubsets) {
      const json& c = row.at("cold_start").at(cs.name);
      const double n = number_of(c.at("rows").at("mean"));
      // A subset without rows in any seed has no score (not a perfect one).
      cells.push_back(!(n > 0) ? std::string("no rows")
                               : pm(c.at("test_mse")) + " (" + fixed(n, 1) + " rows)");
    }
    cold_rows.push_back(cells);
  }
  md << markdown_table({"model", "users < 3 train reviews", "users without train reviews",
                        "items < 3 train reviews", "items without train reviews"},
                       cold_rows);
  bool missing = false;
  for (const auto& row : r.at("rows")) missing = missing || !row.at("missing_seeds").empty();
  if (missing) {
    md << "\nMissing cells (not finished): ";
    for (const auto& row : r.at("rows"))
      for (const auto& s : row.at("missing_seeds"))
        md << row.at("model").get<std::string>() << " seed " << s.get<std::uint64_t>() << "; ";
    md << "\n";
  }
  if (r.contains("wall_seconds"))
    md << "\nCells took " << seconds_text(r.at("cells_seconds_total").get<double>())
       << " in all (summed over every call that computed them); this call "
       << seconds_text(r.at("wall_seconds").get<double>()) << ".\n";
  return md.str();
}

// ---- the run -----------------------------------------------------------------------------------

namespace {

// Checks bench_config.json against the settings of this call and records the sections it adds.
// With record = false (--table-only) it checks only.
void check_and_record_config(const BenchOptions& o, const std::vector<std::string>& models,
                             bool record) {
  const std::string path = o.out + "/" + kBenchConfig;
  const std::set<std::string> needed = sections_needed(models);
  const json settings = settings_sections(o, needed);
  json config = {{"settings", json::object()}, {"paths", json::object()}};
  if (file_exists(path)) {
    try {
      config = json::parse(read_file(path));
    } catch (const json::exception& e) {
      throw InputError(path, 0, std::string("not a bench configuration: ") + e.what());
    }
    if (!config.contains("settings") || !config["settings"].is_object())
      throw InputError(path, 0, "not a bench configuration (no \"settings\" object)");
    std::vector<std::string> differ;
    for (const auto& name : needed) {
      if (config["settings"].contains(name) && config["settings"][name] != settings[name])
        differ.push_back(name);
    }
    if (!differ.empty()) {
      std::string list;
      for (const auto& d : differ) list += (list.empty() ? "" : ", ") + d;
      throw UsageError("bench: " + o.out + " holds cells made with other settings (" + list +
                       (std::find(differ.begin(), differ.end(), "data") != differ.end()
                            ? ": the data file's contents differ"
                            : "") +
                       "); use another --out, or delete " + o.out + " to start over");
    }
  }
  if (!record) return;
  for (const auto& name : needed) config["settings"][name] = settings[name];
  config["paths"]["data"] = o.data;
  if (needed.count("plugin")) {
    config["paths"]["sources"] = o.sources;
    config["paths"]["plugins"] = o.plugins;
  }
  config["updated"] = utc_now();
  write_json_atomic(path, config);
}

// The plugin directories for loid+plugin: the given ones, or one pretrained from the sources into
// out/plugin (reused when out/plugin.json says it finished).
std::vector<std::string> ensure_plugin(const BenchOptions& o, std::ostream& log, json* record) {
  if (!o.plugins.empty()) {
    *record = {{"given", o.plugins}};
    return o.plugins;
  }
  const std::string dir = o.out + "/plugin";
  const std::string done = o.out + "/plugin.json";
  if (file_exists(done)) {
    *record = json::parse(read_file(done));
    log << "plugin: reusing " << dir << " (pretrained by an earlier call)" << std::endl;
    return {dir};
  }
  PretrainOptions p = o.pretrain;
  p.train.dtype = o.loid.compute_dtype;  // the plugin is trained as the LoID cells run
  p.data = o.sources;
  p.read = o.read;
  p.encoder_dir = o.loid.encoder_dir;
  p.out = dir;
  p.lora = o.loid.lora;
  p.train.seed = p.split.seed;
  p.train.progress = o.progress;
  p.threads = o.threads;
  p.device = o.device;
  p.force = true;
  log << "plugin: pretraining on " << o.sources.size() << " source file(s) -> " << dir << std::endl;
  const PretrainResult r = run_pretrain(p);
  *record = {{"pretrained", dir},
             {"sources", o.sources},
             {"source_test", metrics_json(r.test, &r.test_classes)},
             {"best_epoch", r.fit.best_epoch},
             {"seconds", r.seconds}};
  if (distributed().main()) write_json_atomic(done, *record);
  log << "plugin: source test MSE " << fixed(r.test.mse) << " in " << format_duration(r.seconds)
      << std::endl;
  return {dir};
}

json run_classical(const std::string& model, const SeedData& s, const Dataset& dataset,
                   const BenchOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  if (model == "mean") {
    const float mu = global_mean(s.train);
    return make_cell(model, s, std::vector<float>(s.validation.size(), mu),
                     std::vector<float>(s.test.size(), mu), seconds_since(t0),
                     {{"global_mean", mu}});
  }
  MfOptions base;
  base.seed = s.seed;
  MfOptions chosen;
  const std::vector<int> factors = model == "bias" ? std::vector<int>{0} : o.mf_factors;
  const BiasedMf mf = select_mf(s.train, s.validation, dataset.num_users(), dataset.num_items(),
                                factors, o.mf_regularization, base, &chosen);
  return make_cell(model, s, mf.predict(s.validation), mf.predict(s.test), seconds_since(t0),
                   {{"factors", chosen.factors},
                    {"regularization", chosen.regularization},
                    {"best_epoch", mf.best_epoch()}});
}

json run_loid_cell(const std::string& model, const SeedData& s, const BenchOptions& o,
                   const std::vector<std::string>& plugin_dirs) {
  const auto t0 = std::chrono::steady_clock::now();
  LoidTrainOptions t = o.loid;
  t.data = o.data;
  t.read = o.read;
  t.split = s.split_options;
  t.relora.seed = s.seed;
  t.plugins.dirs = uses_plugin(model) ? plugin_dirs : std::vector<std::string>{};
  t.protocol = is_leaky_model(model) ? Protocol::kPaperLeaky : Protocol::kLeakFree;
  if (is_mf_text_model(model)) {
    // The MF part is chosen on validation over the mf baseline's grid.
    t.predictor = LoidPredictor::kMfText;
    t.fit_id_biases = false;
    t.mf_factors = o.mf_factors;
    t.mf_regularization = o.mf_regularization;
  }
  t.out = o.out + "/runs/" + bench_cell_name(model, s.seed);
  t.threads = o.threads;
  t.device = o.device;
  t.progress = o.progress;
  // An interrupted cell continues from its checkpoint; a fresh one starts in an empty directory.
  t.resume = file_exists(t.out + "/" + kRunConfig);
  t.force = true;
  if (is_mf_text_model(model) && !t.resume && t.encoder_mode == EncoderMode::kFrozen) {
    // The same text stage as the mlp cell of this seed (same plugins, adapter and vectors): take
    // it from that cell when it has finished (the reuse check compares every setting it needs).
    const std::string partner =
        o.out + "/runs/" +
        bench_cell_name(std::string(uses_plugin(model) ? "loid+plugin" : "loid") +
                            (is_leaky_model(model) ? kLeakySuffix : ""),
                        s.seed);
    if (file_exists(partner + "/" + kRunMetrics) && file_exists(partner + "/" + kRunVectors))
      t.reuse_text_stage = partner;
  }
  const LoidTrainResult r = run_loid_train(t);
  if (r.interrupted || r.metrics.is_null())
    throw Error("bench: LoID run " + t.out + " did not finish");
  if (!distributed().main()) return json();  // rank 0 scores and writes the cell

  // The run's own predictions, row for row on the same test split.
  const LoadedRun run(t.out);
  if (run.split().test != s.split.test || run.split().validation != s.split.validation)
    throw Error("bench: run " + t.out + " was split differently from the bench (seed " +
                std::to_string(s.seed) + ")");
  std::vector<std::int64_t> vu, vi, tu, ti;
  for (std::int64_t id : s.split.validation) {
    vu.push_back(run.dataset().user_of(id));
    vi.push_back(run.dataset().item_of(id));
  }
  for (std::int64_t id : s.split.test) {
    tu.push_back(run.dataset().user_of(id));
    ti.push_back(run.dataset().item_of(id));
  }
  const std::vector<float> val_pred = run.predict(vu, vi);
  const std::vector<float> test_pred = run.predict(tu, ti);
  const double mse = rating_metrics(test_pred, s.test.rating).mse;
  const double recorded = r.metrics.at("test").at("mse").get<double>();
  if (std::fabs(mse - recorded) > 1e-4 * std::max(1.0, recorded))
    throw Error("bench: run " + t.out + " predicts test MSE " + std::to_string(mse) +
                " when reloaded, its metrics.json says " + std::to_string(recorded));
  return make_cell(model, s, val_pred, test_pred, seconds_since(t0),
                   {{"run_dir", t.out},
                    {"best_epoch", r.metrics.value("best_epoch", 0)},
                    {"epochs_run", r.metrics.value("epochs_run", 0)},
                    {"plugins", t.plugins.dirs},
                    {"run_seconds", r.metrics.value("seconds", 0.0)}});
}

json run_text_cell(const std::string& model, const SeedData& s, const Dataset& dataset,
                   const BenchOptions& o) {
  TextBaselineOptions t;
  t.model = model;
  t.seed = s.seed;
  t.threads = o.threads;
  t.progress = o.progress;
  t.max_epochs = o.text_max_epochs;
  t.word_vectors = o.word_vectors;
  const auto t0 = std::chrono::steady_clock::now();
  const TextBaselineResult r = train_text_baseline(dataset, s.split, t);
  return make_cell(model, s, r.validation_predictions, r.test_predictions, seconds_since(t0),
                   {{"best_epoch", r.best_epoch},
                    {"best_validation_mse", r.best_validation_mse},
                    {"vocabulary_size", r.vocabulary_size},
                    {"pretrained_words", r.pretrained_words},
                    {"train_seconds", r.seconds}});
}

json grid_json(const IdBaselineResult& r) {
  return {{"dim", r.chosen.dim},
          {"weight_decay", r.chosen.weight_decay},
          {"best_epoch", r.fit.best_epoch},
          {"epochs_run", r.fit.epoch_losses.size()},
          {"best_validation_mse", r.fit.best_validation_mse},
          {"train_seconds", r.seconds}};
}

json run_id_cell(const std::string& model, const SeedData& s, const DomainData& domain,
                 const BenchOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  IdBaselineResult r;
  if (model == "bigi") {
    BigiOptions b;
    b.seed = s.seed;
    b.threads = o.threads;
    b.progress = o.progress;
    if (o.id_max_epochs > 0) b.max_epochs = o.id_max_epochs;
    r = train_bigi(domain.dataset, s.split, b);
  } else if (model == "alfm") {
    AlfmOptions a;
    a.seed = s.seed;
    a.threads = o.threads;
    a.progress = o.progress;
    if (o.id_max_epochs > 0) a.max_epochs = o.id_max_epochs;
    r = train_alfm(domain.dataset, s.split, a);
  } else {
    RgclOptions g;
    g.seed = s.seed;
    g.threads = o.threads;
    g.progress = o.progress;
    if (o.id_max_epochs > 0) g.max_epochs = o.id_max_epochs;
    // Review vectors of the training reviews only: held-out rows stay zero and are never read.
    const std::unique_ptr<Encoder> encoder =
        load_encoder(o.loid.encoder_dir.empty() ? models_dir() + "/use_lite" : o.loid.encoder_dir);
    const torch::Tensor vectors = review_vector_table(*encoder, domain, s.split.train, o.progress);
    r = train_rgcl(domain.dataset, s.split, vectors, g);
  }
  return make_cell(model, s, r.validation_predictions, r.test_predictions, seconds_since(t0),
                   grid_json(r));
}

}  // namespace

namespace {

// Throws UsageError on settings no bench can run with.
void validate_bench_options(const BenchOptions& o) {
  if (o.data.empty()) throw UsageError("bench: --data is required");
  if (o.out.empty()) throw UsageError("bench: --out is required");
  if (o.seeds.empty()) throw UsageError("bench: --seeds is empty");
  validate_bench_models(o.models);
  {
    std::set<std::uint64_t> seen;
    for (auto s : o.seeds)
      if (!seen.insert(s).second)
        throw UsageError("bench: seed " + std::to_string(s) + " is listed twice");
  }
  if (o.mf_factors.empty() || o.mf_regularization.empty())
    throw UsageError("bench: the MF grid (--mf-factors, --mf-reg) must not be empty");
  if (std::any_of(o.models.begin(), o.models.end(), uses_plugin) && o.plugins.empty() &&
      o.sources.empty())
    throw UsageError(
        "bench: loid+plugin and loid-mf+plugin need --source FILE(s) to pretrain a "
        "plugin, or --plugin DIR");
  validate_split_options(o.split);
}

// A finished cell read back from `path`, checked to hold `model` and `seed`.
json read_cell(const std::string& path, const std::string& model, std::uint64_t seed) {
  json cell;
  try {
    cell = json::parse(read_file(path));
    cell.at("test").at("mse").get<double>();
  } catch (const json::exception& e) {
    throw InputError(path, 0,
                     std::string("unreadable bench cell (delete it to recompute): ") + e.what());
  }
  if (cell.value("model", "") != model || cell.value("seed", std::uint64_t{0}) != seed)
    throw InputError(path, 0, "cell file holds another model or seed; delete it to recompute");
  return cell;
}

// results.json, results.md and results.svg from the results.
void write_bench_results(const BenchOptions& o, const json& r) {
  std::vector<Bar> bars;
  bool any_missing = false;
  for (const auto& row : r.at("rows")) {
    any_missing = any_missing || !row.at("missing_seeds").empty();
    bars.push_back({row.at("model").get<std::string>(), number_of(row.at("test_mse").at("mean")),
                    std::isfinite(number_of(row.at("test_mse").at("std")))
                        ? number_of(row.at("test_mse").at("std"))
                        : 0.0});
  }
  write_json_atomic(o.out + "/" + kBenchResultsJson, r);
  write_file_atomic(o.out + "/" + kBenchResultsMd, bench_results_markdown(r));
  write_file_atomic(
      o.out + "/" + kBenchResultsSvg,
      bar_chart_svg(bars,
                    "Test MSE on " + fs::path(o.data).filename().string() + " (mean ± std over " +
                        (any_missing ? "up to " : "") + std::to_string(o.seeds.size()) + " seeds)",
                    "test MSE"));
}

}  // namespace

BenchResult run_bench(const BenchOptions& o, std::ostream& main_log) {
  const auto start = std::chrono::steady_clock::now();
  validate_bench_options(o);
  const bool want_plugin = std::any_of(o.models.begin(), o.models.end(), uses_plugin);
  // Several processes: every rank runs the LoID cells together (each spreads its work over the
  // ranks); rank 0 alone runs the other models, writes every file and speaks.
  Distributed& dist = distributed();
  if (dist.active() && o.table_only)
    throw UsageError("bench --table-only trains nothing; run it as one process");
  std::ostream silent(nullptr);
  std::ostream& log = dist.main() ? main_log : silent;
  const auto cell_path = [&o](const std::string& name) {
    return o.out + "/" + kBenchCells + "/" + name + ".json";
  };

  if (o.table_only) {
    if (!file_exists(o.out + "/" + kBenchConfig))
      throw UsageError("bench --table-only: " + o.out + " holds no bench (no " + kBenchConfig +
                       "); run the bench without --table-only first");
  } else if (dist.main()) {
    make_dirs(o.out + "/" + kBenchCells);
  }
  if (dist.main()) check_and_record_config(o, o.models, /*record=*/!o.table_only);
  if (!o.table_only && dist.main()) {
    // What an earlier call killed while writing left (LoID cell runs clean their own on resume).
    remove_stale_temp_files(o.out);
    remove_stale_temp_files(o.out + "/" + kBenchCells);
  }
  // The cells finished by earlier calls, seen alike by every rank before any is computed.
  std::set<std::string> finished;
  for (std::uint64_t seed : o.seeds)
    for (const auto& model : o.models)
      if (file_exists(cell_path(bench_cell_name(model, seed))))
        finished.insert(bench_cell_name(model, seed));
  // Through the store without the collective timeout: a rank may arrive here from a previous
  // bench of a curve while rank 0 still computes that bench's last cells.
  dist.meet("starting the bench", 7 * 24 * 3600.0);

  const DomainData domain = load_domain(
      o.data,
      [&] {
        SplitOptions s = o.split;
        s.seed = o.seeds.front();
        return s;
      }(),
      o.read);
  log << "bench: " << o.data << ": " << domain.dataset.num_reviews() << " reviews, "
      << domain.dataset.num_users() << " users, " << domain.dataset.num_items() << " items; "
      << o.models.size() << " model(s) x " << o.seeds.size() << " seed(s) -> " << o.out
      << std::endl;

  BenchResult result;
  std::vector<json> cells;
  std::vector<std::string> plugin_dirs;
  json plugin_record = nullptr;
  const std::size_t total = o.models.size() * o.seeds.size();
  std::size_t index = 0;
  for (std::uint64_t seed : o.seeds) {
    std::unique_ptr<SeedData> s;  // built on the first cell of this seed that needs computing
    for (const auto& model : o.models) {
      ++index;
      const std::string name = bench_cell_name(model, seed);
      const std::string path = cell_path(name);
      const std::string tag = "[" + std::to_string(index) + "/" + std::to_string(total) + "] " +
                              model + ", seed " + std::to_string(seed) + ": ";
      if (finished.count(name) != 0) {
        if (!dist.main()) continue;
        json cell = read_cell(path, model, seed);
        log << tag << "finished earlier, test MSE " << fixed(cell["test"]["mse"].get<double>())
            << std::endl;
        result.reused.push_back(name);
        cells.push_back(std::move(cell));
        continue;
      }
      if (o.table_only) {
        log << tag << "missing (--table-only: not trained)" << std::endl;
        continue;
      }
      if (!dist.main() && !is_loid_model(model)) continue;  // rank 0's alone
      if (!s) s = std::make_unique<SeedData>(seed_data(domain.dataset, o.split, seed));
      log << tag << "training" << std::endl;
      json cell;
      if (model == "mean" || model == "bias" || model == "mf") {
        cell = run_classical(model, *s, domain.dataset, o);
      } else if (is_loid_model(model)) {
        // The other ranks wait here while rank 0 computes the cells they skip (for as long as
        // those take: a week at most).
        dist.meet("waiting for rank 0 to reach " + name, 7 * 24 * 3600.0);
        if (uses_plugin(model) && plugin_dirs.empty())
          plugin_dirs = ensure_plugin(o, log, &plugin_record);
        cell = run_loid_cell(model, *s, o, plugin_dirs);
      } else if (is_id_baseline(model)) {
        cell = run_id_cell(model, *s, domain, o);
      } else {
        cell = run_text_cell(model, *s, domain.dataset, o);
      }
      if (!dist.main()) continue;
      write_json_atomic(path, cell);
      log << tag << "test MSE " << fixed(cell["test"]["mse"].get<double>()) << ", validation MSE "
          << fixed(cell["validation"]["mse"].get<double>()) << " ("
          << format_duration(cell["seconds"].get<double>()) << ")" << std::endl;
      result.computed.push_back(name);
      cells.push_back(std::move(cell));
    }
  }
  if (!dist.main()) return result;  // rank 0 writes the results
  if (want_plugin && plugin_record.is_null()) {
    if (!o.plugins.empty())
      plugin_record = {{"given", o.plugins}};
    else if (file_exists(o.out + "/plugin.json"))
      plugin_record = json::parse(read_file(o.out + "/plugin.json"));
  }

  json r = bench_results_json(cells, o.models, o.seeds);
  r["data"] = o.data;
  r["sources"] = o.sources;
  r["split_ratios"] = {o.split.train, o.split.validation, o.split.test};
  r["plugin"] = plugin_record;
  // The text encoder of the LoID models, named even when it is the default.
  r["encoder"] = o.loid.encoder_dir.empty()
                     ? "the installed default, USE-Lite (" + models_dir() + "/use_lite)"
                     : o.loid.encoder_dir;
  r["out"] = o.out;
  result.seconds = seconds_since(start);
  r["wall_seconds"] = result.seconds;
  r["finished"] = utc_now();
  result.results = r;

  write_bench_results(o, r);
  log << "bench: wrote " << o.out << "/" << kBenchResultsMd << ", " << kBenchResultsJson << ", "
      << kBenchResultsSvg << " (" << result.computed.size() << " cell(s) computed, "
      << result.reused.size() << " reused, " << format_duration(result.seconds) << ")" << std::endl;
  return result;
}

}  // namespace loid
