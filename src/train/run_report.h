// report.md and learning_curve.svg of a training run directory, from its config and metrics.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace loid {

// Writes RUN_DIR/report.md (settings, metrics table, cold-start rows, learning curve) and
// RUN_DIR/learning_curve.svg, atomically. A paper-leaky run is marked LEAKY in both.
void write_run_report(const std::string& run_dir, const nlohmann::json& config,
                      const nlohmann::json& metrics);

}  // namespace loid
