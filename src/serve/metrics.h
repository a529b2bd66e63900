// Request metrics of the scoring service in the Prometheus text format: requests by endpoint and
// status, a latency histogram per endpoint, predictions served, and the process's resident memory.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace loid {

class ServeMetrics {
 public:
  // Upper bounds (seconds) of the latency histogram's buckets; +Inf is implied.
  static constexpr std::array<double, 14> kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

  // One answered request. `path` is the request path: the service's endpoints are labelled as
  // they are, every other path as "other" (so a scan of random paths cannot grow the label set).
  // `seconds` < 0 counts the request without a latency (it never reached a handler).
  void observe(const std::string& path, int status, double seconds);
  // Predictions (or recommended items) a successful request returned.
  void add_predictions(std::uint64_t n);

  // The whole exposition, "# HELP" / "# TYPE" lines included.
  std::string prometheus() const;

  // Requests counted so far for (endpoint label, status); for tests.
  std::uint64_t requests(const std::string& endpoint, int status) const;

 private:
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size() + 1> counts{};  // per bucket, last = +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::uint64_t predictions_ = 0;
};

// The label of a request path: one of the service's endpoints, or "other".
std::string endpoint_label(const std::string& path);

// Resident set size of this process in bytes (from /proc/self/statm; 0 where unavailable).
std::uint64_t resident_memory_bytes();

}  // namespace loid
