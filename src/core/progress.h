// Progress reporting for long loops: a redrawn bar with rate, ETA and a running metric on a
// terminal, plain periodic log lines otherwise (CI logs, pipes).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace loid {

class Progress {
 public:
  // label: what is being counted ("encode", "epoch 3"); total: expected steps (0 = unknown).
  Progress(std::string label, std::int64_t total, bool enabled = true);
  ~Progress();

  // Advances by n steps; `note` (e.g. "loss 0.812") is shown beside the bar.
  void advance(std::int64_t n = 1, const std::string& note = "");
  void finish(const std::string& note = "");

  // Globally silences all progress output (tests, --quiet).
  static void set_quiet(bool quiet);

 private:
  void draw(bool final);

  std::string label_;
  std::int64_t total_;
  std::int64_t done_ = 0;
  bool enabled_;
  bool tty_;
  bool finished_ = false;
  std::string note_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// Log line to stderr with elapsed time since process start.
void log_info(const std::string& message);
void log_warn(const std::string& message);

// Formats a duration in seconds as "1h02m", "3m05s" or "4.2s".
std::string format_duration(double seconds);

}  // namespace loid
