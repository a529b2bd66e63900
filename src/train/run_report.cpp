// Run report rendering (see run_report.h).
#include "train/run_report.h"

#include <sstream>

#include "core/fs.h"
#include "core/paths.h"
#include "eval/report.h"

namespace loid {

using json = nlohmann::json;

namespace {

std::string num(const json& j, const char* key, int digits = 4) {
  if (!j.contains(key) || !j[key].is_number()) return "-";
  return format_number(j[key].get<double>(), digits);
}

std::vector<std::string> metric_row(const std::string& name, const json& m) {
  // A subset without rows has no error to show (its zeros would read as a perfect score).
  if (m.contains("n") && m["n"].get<long long>() == 0) return {name, "0", "no rows", "-", "-"};
  return {name, m.contains("n") ? std::to_string(m["n"].get<long long>()) : "-", num(m, "mse"),
          num(m, "rmse"), num(m, "mae")};
}

}  // namespace

void write_run_report(const std::string& dir, const json& config, const json& metrics) {
  const bool leaky = metrics.value("leaky", false);
  const json& s = config.at("settings");
  std::ostringstream md;
  md << "# LoID run" << (leaky ? " (LEAKY: paper-leaky protocol)" : "") << "\n\n";
  if (leaky)
    md << "**LEAKY.** This run used the authors' released protocol: user and item histories were "
          "built from all reviews before the split, so test reviews were visible to the model. Its "
          "metrics are not an honest estimate of rating-prediction error.\n\n";
  md << "- data: `" << s.value("data", "") << "` (" << metrics["data"].value("reviews", 0)
     << " reviews; train / validation / test " << metrics["data"].value("train", 0) << " / "
     << metrics["data"].value("validation", 0) << " / " << metrics["data"].value("test", 0)
     << ", split seed " << s["split"].value("seed", 0) << ")\n";
  const std::string encoder = s.value("encoder", "");
  md << "- encoder: "
     << (encoder.empty() ? "the installed default, USE-Lite (`" + models_dir() + "/use_lite`)"
                         : "`" + encoder + "`")
     << " (" << s.value("encoder_mode", "") << " mode); plugins: " << s["plugins"]["dirs"].size()
     << " (" << s["plugins"].value("merge", "stack") << ")\n";
  md << "- protocol: " << metrics.value("protocol", "") << "; code " << config.value("version", "")
     << " (" << config.value("git", "") << "), " << config.value("threads_used", 0) << " threads, "
     << format_number(metrics.value("seconds", 0.0), 1) << " s\n";
  md << "- best epoch " << metrics.value("best_epoch", 0) << " of "
     << metrics.value("epochs_run", 0) << " (chosen on validation MSE)\n\n";

  md << "## Metrics\n\n";
  std::vector<std::vector<std::string>> rows;
  rows.push_back(metric_row("test", metrics["test"]));
  rows.push_back(metric_row("validation", metrics["validation"]));
  const json& cold = metrics["cold_start"];
  for (auto it = cold.begin(); it != cold.end(); ++it)
    rows.push_back(metric_row("test, " + it.key(), it.value()));
  md << markdown_table({"subset", "n", "MSE", "RMSE", "MAE"}, rows) << "\n";
  const json& t = metrics["test"];
  md << "Rounded-rating classification on test (weighted): precision " << num(t, "precision")
     << ", recall " << num(t, "recall") << ", F1 " << num(t, "f1") << ".\n\n";

  CurveSeries train{"train MSE", {}, {}}, val{"validation MSE", {}, {}};
  for (const auto& e : metrics["curve"]) {
    train.x.push_back(e["epoch"].get<double>());
    train.y.push_back(e["train_mse"].get<double>());
    val.x.push_back(e["epoch"].get<double>());
    val.y.push_back(e["validation_mse"].get<double>());
  }
  const std::string svg = learning_curve_svg(
      {train, val}, std::string("LoID learning curve") + (leaky ? " (LEAKY)" : ""), "epoch", "MSE",
      metrics.value("best_epoch", -1));
  write_file_atomic(dir + "/learning_curve.svg", svg);
  md << "## Learning curve\n\n![learning curve](learning_curve.svg)\n\n";
  std::vector<std::vector<std::string>> curve_rows;
  for (const auto& e : metrics["curve"])
    curve_rows.push_back({std::to_string(e["epoch"].get<int>()), num(e, "train_mse"),
                          num(e, "train_triplet"), num(e, "validation_mse"),
                          format_number(e.value("seconds", 0.0), 1)});
  md << markdown_table({"epoch", "train MSE", "train triplet", "validation MSE", "seconds"},
                       curve_rows)
     << "\n";
  if (metrics.contains("relora") && metrics["relora"].value("epochs_run", 0) > 0) {
    const json& r = metrics["relora"];
    md << "Re-LoRA target adapter: validation MSE of the review-rating head "
       << num(r, "validation_mse_before") << " before training, " << num(r, "validation_mse")
       << " at epoch " << r.value("best_epoch", 0) << ".\n";
  }
  write_file_atomic(dir + "/report.md", md.str());
}

}  // namespace loid
