// `loid bench --train-fractions`: the same bench at several fractions of the training reviews (a
// learning curve over data size). Each fraction is an ordinary bench in its own subdirectory
// (resumable as any bench); the curve files gather their results: test MSE (mean and 95% interval
// over seeds) and the cold-start rows per model and fraction.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "train/bench_run.h"

namespace loid {

// Subdirectory of the bench directory for one fraction: "fraction_0.25".
std::string bench_fraction_dir(double fraction);

// Runs options' bench at each fraction (each in out/fraction_F with split.train_fraction = F;
// a plugin pretrained by the first one is reused by the rest), then writes out/curve.json,
// curve.md and curve.svg. Fractions must be in (0, 1], distinct; they are run in the order given.
nlohmann::json run_bench_curve(const BenchOptions& options, const std::vector<double>& fractions,
                               std::ostream& log);

// The pure part: (fraction, results.json of that bench) pairs -> curve.json.
nlohmann::json bench_curve_json(const std::vector<std::pair<double, nlohmann::json>>& results);
std::string bench_curve_markdown(const nlohmann::json& curve);
std::string bench_curve_svg(const nlohmann::json& curve);

constexpr const char* kBenchCurveJson = "curve.json";
constexpr const char* kBenchCurveMd = "curve.md";
constexpr const char* kBenchCurveSvg = "curve.svg";

}  // namespace loid
