// `loid bench --train-fractions` (see bench_curve.h).
#include "train/bench_curve.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "eval/report.h"
#include "eval/svg.h"
#include "train/distributed.h"

namespace loid {

using json = nlohmann::json;

namespace {

// The cold-start subsets of results.json, in the order of the curve table.
const std::vector<std::pair<std::string, std::string>>& cold_columns() {
  static const std::vector<std::pair<std::string, std::string>> c = {
      {"users_fewer_than_3_train_reviews", "users < 3"},
      {"users_without_train_reviews", "users 0"},
      {"items_fewer_than_3_train_reviews", "items < 3"},
      {"items_without_train_reviews", "items 0"}};
  return c;
}

double number(const json& j) {
  return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

std::string fixed4(double x) {
  if (!std::isfinite(x)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.4f", x);
  return b;
}

std::string signed4(double x) {
  if (!std::isfinite(x)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%+.4f", x);
  return b;
}

// "0.7412 [0.7301, 0.7523]" from a stats object (mean and 95% interval), "-" parts when absent.
std::string mean_interval(const json& s, bool sign = false) {
  const auto f = sign ? signed4 : fixed4;
  std::string out = f(number(s.at("mean")));
  if (std::isfinite(number(s.at("ci95_low"))))
    out += " [" + f(number(s.at("ci95_low"))) + ", " + f(number(s.at("ci95_high"))) + "]";
  return out;
}

}  // namespace

std::string bench_fraction_dir(double fraction) {
  char b[48];
  std::snprintf(b, sizeof b, "fraction_%g", fraction);
  return b;
}

json bench_curve_json(const std::vector<std::pair<double, json>>& results) {
  json points = json::array();
  for (const auto& [fraction, r] : results) {
    json models = json::array();
    for (const json& row : r.at("rows")) {
      json cold = json::object();
      for (const auto& [key, label] : cold_columns()) cold[key] = row.at("cold_start").at(key);
      models.push_back({{"model", row.at("model")},
                        {"seeds", row.at("seeds")},
                        {"test_mse", row.at("test_mse")},
                        {"test_mse_minus_mf", row.at("test_mse_minus_mf")},
                        {"cold_start", cold}});
    }
    points.push_back({{"train_fraction", fraction}, {"models", models}});
  }
  return {{"points", points},
          {"statistics",
           "per fraction, an ordinary bench: mean and 95% t-interval over seeds of the test MSE, "
           "and of the paired difference against mf on the same splits"}};
}

std::string bench_curve_markdown(const json& curve) {
  std::string md = "# loid bench: learning curve over the training reviews kept\n\n";
  md +=
      "Each fraction is its own bench (a seeded sample of each split's training reviews; "
      "validation and test untouched). Test MSE: mean [95% interval] over seeds.\n\n";
  std::vector<std::vector<std::string>> rows, cold_rows;
  for (const json& p : curve.at("points")) {
    const std::string f = fixed4(p.at("train_fraction").get<double>()).substr(0, 6);
    for (const json& m : p.at("models")) {
      const json& d = m.at("test_mse_minus_mf");
      rows.push_back({f, m.at("model").get<std::string>(), std::to_string(m.at("seeds").size()),
                      mean_interval(m.at("test_mse")), d.is_null() ? "-" : mean_interval(d, true)});
      std::vector<std::string> c = {f, m.at("model").get<std::string>()};
      for (const auto& [key, label] : cold_columns()) {
        const json& sub = m.at("cold_start").at(key);
        const double n = number(sub.at("rows").at("mean"));
        c.push_back(!(n > 0) ? "no rows"
                             : fixed4(number(sub.at("test_mse").at("mean"))) + " (" +
                                   fixed4(n).substr(0, fixed4(n).size() - 3) + " rows)");
      }
      cold_rows.push_back(c);
    }
  }
  md += markdown_table({"fraction", "model", "seeds", "test MSE", "ΔMSE vs mf"}, rows) + "\n";
  md +=
      "Cold-start test rows (users or items with fewer than 3 / no training reviews in the kept "
      "sample): mean test MSE over seeds (mean rows a seed).\n\n";
  std::vector<std::string> header = {"fraction", "model"};
  for (const auto& [key, label] : cold_columns()) header.push_back(label);
  md += markdown_table(header, cold_rows);
  return md;
}

std::string bench_curve_svg(const json& curve) {
  std::vector<CurveSeries> series;
  std::map<std::string, std::size_t> index;
  for (const json& p : curve.at("points")) {
    const double f = p.at("train_fraction").get<double>();
    for (const json& m : p.at("models")) {
      const std::string name = m.at("model").get<std::string>();
      if (!index.count(name)) {
        index[name] = series.size();
        series.push_back({name, {}, {}});
      }
      CurveSeries& s = series[index[name]];
      s.x.push_back(f);
      s.y.push_back(number(m.at("test_mse").at("mean")));
    }
  }
  return learning_curve_svg(series, "Test MSE (mean over seeds) against the training reviews kept",
                            "fraction of training reviews", "test MSE");
}

json run_bench_curve(const BenchOptions& options, const std::vector<double>& fractions,
                     std::ostream& log) {
  if (fractions.empty()) throw UsageError("bench: --train-fractions needs at least one fraction");
  std::set<double> seen;
  for (double f : fractions) {
    if (!(f > 0.0 && f <= 1.0))
      throw UsageError("bench: every --train-fractions value must be in (0, 1], got " +
                       std::to_string(f));
    if (!seen.insert(f).second)
      throw UsageError("bench: --train-fractions repeats " + std::to_string(f));
  }
  if (options.out.empty()) throw UsageError("bench: an output directory (--out) is required");
  if (options.split.train_fraction < 1.0)
    throw UsageError("bench: give either --train-fraction or --train-fractions, not both");
  if (distributed().main()) make_dirs(options.out);  // rank 0 writes for a job
  BenchOptions o = options;
  std::vector<std::pair<double, json>> results;
  for (double f : fractions) {
    BenchOptions b = o;
    b.split.train_fraction = f;
    b.out = options.out + "/" + bench_fraction_dir(f);
    log << "bench curve: training fraction " << f << " -> " << b.out << std::endl;
    results.emplace_back(f, run_bench(b, log).results);
    // A plugin pretrained by this bench serves the later fractions (it reads only the sources).
    if (o.plugins.empty() && file_exists(b.out + "/plugin.json")) o.plugins = {b.out + "/plugin"};
  }
  if (!distributed().main()) return json();
  const json curve = bench_curve_json(results);
  write_file_atomic(options.out + "/" + kBenchCurveJson, curve.dump(2) + "\n");
  write_file_atomic(options.out + "/" + kBenchCurveMd, bench_curve_markdown(curve));
  write_file_atomic(options.out + "/" + kBenchCurveSvg, bench_curve_svg(curve));
  log << "bench curve: wrote " << options.out << "/" << kBenchCurveMd << std::endl;
  return curve;
}

}  // namespace loid
