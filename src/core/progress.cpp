#include "core/progress.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <unistd.h>

namespace loid {

namespace {
std::atomic<bool> g_quiet{false};
const auto g_process_start = std::chrono::steady_clock::now();

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

std::string format_duration(double s) {
  char buf[32];
  if (s < 0) s = 0;
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600,
                  (static_cast<int>(s) % 3600) / 60);
  }
  return buf;
}

void log_info(const std::string& message) {
  if (g_quiet) return;
  std::fprintf(stderr, "[%7.1fs] %s\n", seconds_since(g_process_start), message.c_str());
}

void log_warn(const std::string& message) {
  std::fprintf(stderr, "[%7.1fs] warning: %s\n", seconds_since(g_process_start), message.c_str());
}

void Progress::set_quiet(bool quiet) {
  g_quiet = quiet;
}

Progress::Progress(std::string label, std::int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled && !g_quiet),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (!finished_) finish();
}

void Progress::advance(std::int64_t n, const std::string& note) {
  done_ += n;
  if (!note.empty()) note_ = note;
  if (!enabled_) return;
  const double since = seconds_since(last_draw_);
  // Terminals redraw ~10 times a second; logs get a line every 10 seconds.
  if ((tty_ && since >= 0.1) || (!tty_ && since >= 10.0)) draw(false);
}

void Progress::finish(const std::string& note) {
  if (finished_) return;
  finished_ = true;
  if (!note.empty()) note_ = note;
  if (enabled_) draw(true);
}

void Progress::draw(bool final) {
  last_draw_ = std::chrono::steady_clock::now();
  const double elapsed = seconds_since(start_);
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  std::string line = label_ + " ";
  if (total_ > 0) {
    const double frac = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    const int width = 28;
    const int filled = static_cast<int>(frac * width);
    line += "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
    char buf[96];
    std::snprintf(buf, sizeof buf, "%lld/%lld %3.0f%%", static_cast<long long>(done_),
                  static_cast<long long>(total_), 100.0 * frac);
    line += buf;
    if (!final && rate > 0) {
      line += " eta " + format_duration(static_cast<double>(total_ - done_) / rate);
    }
  } else {
    line += std::to_string(done_);
  }
  char rbuf[48];
  std::snprintf(rbuf, sizeof rbuf, " %.1f/s %s", rate, format_duration(elapsed).c_str());
  line += rbuf;
  if (!note_.empty()) line += " " + note_;
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace loid
