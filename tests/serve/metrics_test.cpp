// The Prometheus exposition of the service's request metrics: counters by endpoint and status,
// cumulative latency buckets, unknown paths folded into one label, resident memory.
#include "serve/metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace loid {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(ServeMetrics, CountsRequestsAndBucketsLatency) {
  ServeMetrics m;
  m.observe("/v1/predict", 200, 0.0002);
  m.observe("/v1/predict", 200, 0.003);
  m.observe("/v1/predict", 404, 0.0001);
  m.observe("/wp-admin", 404, 0.00005);
  m.observe("/etc/passwd", 404, -1);  // refused before routing: counted, no latency
  m.add_predictions(7);
  EXPECT_EQ(m.requests("/v1/predict", 200), 2u);
  EXPECT_EQ(m.requests("other", 404), 2u);
  const std::string t = m.prometheus();
  EXPECT_TRUE(has_line(t, "# TYPE loid_requests_total counter"));
  EXPECT_TRUE(has_line(t, "loid_requests_total{endpoint=\"/v1/predict\",status=\"200\"} 2"));
  EXPECT_TRUE(has_line(t, "loid_requests_total{endpoint=\"/v1/predict\",status=\"404\"} 1"));
  EXPECT_TRUE(has_line(t, "loid_requests_total{endpoint=\"other\",status=\"404\"} 2"));
  EXPECT_EQ(t.find("wp-admin"), std::string::npos);
  EXPECT_TRUE(has_line(t, "# TYPE loid_request_duration_seconds histogram"));
  // 0.0001 -> le 0.0001; 0.0002 -> le 0.00025; 0.003 -> le 0.005. Buckets are cumulative.
  const std::string b = "loid_request_duration_seconds_bucket{endpoint=\"/v1/predict\",le=\"";
  EXPECT_TRUE(has_line(t, b + "0.0001\"} 1"));
  EXPECT_TRUE(has_line(t, b + "0.00025\"} 2"));
  EXPECT_TRUE(has_line(t, b + "0.0025\"} 2"));
  EXPECT_TRUE(has_line(t, b + "0.005\"} 3"));
  EXPECT_TRUE(has_line(t, b + "+Inf\"} 3"));
  EXPECT_TRUE(has_line(t, "loid_request_duration_seconds_count{endpoint=\"/v1/predict\"} 3"));
  EXPECT_TRUE(has_line(t, "loid_request_duration_seconds_count{endpoint=\"other\"} 1"));
  EXPECT_TRUE(has_line(t, "loid_predictions_total 7"));
  EXPECT_NE(t.find("process_resident_memory_bytes "), std::string::npos);
}

TEST(ServeMetrics, ResidentMemoryIsPlausible) {
  const auto rss = resident_memory_bytes();
  EXPECT_GT(rss, 1u << 20);
  EXPECT_LT(rss, 1ull << 40);
}

TEST(ServeMetrics, EndpointLabels) {
  EXPECT_EQ(endpoint_label("/v1/predict"), "/v1/predict");
  EXPECT_EQ(endpoint_label("/healthz"), "/healthz");
  EXPECT_EQ(endpoint_label("/v1/predict/"), "other");
  EXPECT_EQ(endpoint_label(""), "other");
}

}  // namespace
}  // namespace loid
