// Prometheus text exposition of the service's request metrics (see metrics.h).
#include "serve/metrics.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace loid {

namespace {

const char* const kEndpoints[] = {
    "/v1/predict", "/v1/recommend", "/v1/explain", "/v1/model", "/healthz", "/metrics", "/"};

std::string number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", x);
  return buf;
}

}  // namespace

std::string endpoint_label(const std::string& path) {
  for (const char* e : kEndpoints)
    if (path == e) return e;
  return "other";
}

std::uint64_t resident_memory_bytes() {
  std::ifstream in("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

void ServeMetrics::observe(const std::string& path, int status, double seconds) {
  const std::string label = endpoint_label(path);
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{label, status}];
  if (seconds < 0) return;
  Histogram& h = latency_[label];
  std::size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  ++h.counts[b];
  h.sum += seconds;
  ++h.count;
}

void ServeMetrics::add_predictions(std::uint64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  predictions_ += n;
}

std::uint64_t ServeMetrics::requests(const std::string& endpoint, int status) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = requests_.find({endpoint, status});
  return it == requests_.end() ? 0 : it->second;
}

std::string ServeMetrics::prometheus() const {
  std::ostringstream o;
  std::lock_guard<std::mutex> lock(mutex_);
  o << "# HELP loid_requests_total HTTP requests answered, by endpoint and status code.\n"
    << "# TYPE loid_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    o << "loid_requests_total{endpoint=\"" << key.first << "\",status=\"" << key.second << "\"} "
      << n << "\n";
  o << "# HELP loid_request_duration_seconds Time from routing a request to its response.\n"
    << "# TYPE loid_request_duration_seconds histogram\n";
  for (const auto& [label, h] : latency_) {
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b <= kBuckets.size(); ++b) {
      cumulative += h.counts[b];
      o << "loid_request_duration_seconds_bucket{endpoint=\"" << label << "\",le=\""
        << (b < kBuckets.size() ? number(kBuckets[b]) : "+Inf") << "\"} " << cumulative << "\n";
    }
    o << "loid_request_duration_seconds_sum{endpoint=\"" << label << "\"} " << number(h.sum)
      << "\n";
    o << "loid_request_duration_seconds_count{endpoint=\"" << label << "\"} " << h.count << "\n";
  }
  o << "# HELP loid_predictions_total Ratings predicted or items ranked in successful answers.\n"
    << "# TYPE loid_predictions_total counter\n"
    << "loid_predictions_total " << predictions_ << "\n";
  o << "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
    << "# TYPE process_resident_memory_bytes gauge\n"
    << "process_resident_memory_bytes " << resident_memory_bytes() << "\n";
  return o.str();
}

}  // namespace loid
