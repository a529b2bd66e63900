// `loid serve` end to end: a server on a free loopback port over a tiny trained run, every endpoint
// and every refusal checked through an HTTP client (status, JSON error naming the field), answers
// equal to the run's own predictions, concurrent clients, metrics, and start/stop.
#include "serve/server.h"

#include <httplib.h>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/progress.h"
#include "data/synth.h"
#include "support/error_of.h"
#include "support/test_paths.h"
#include "support/tiny_run.h"
#include "train/loid_train.h"

namespace loid {
namespace {

using json = nlohmann::json;

// One tiny run (random tiny BERT), trained once per process.
const std::string& tiny_run() {
  static const std::string dir = testing::make_tiny_run("serve_test", 40, 20, 8);
  return dir;
}

ServerOptions test_options() {
  ServerOptions o;
  o.port = 0;
  o.threads = 12;
  o.limits.max_body_bytes = 64 << 10;
  o.limits.max_pairs = 100;
  o.limits.max_texts = 4;
  o.limits.max_text_bytes = 200;
  o.limits.max_top = 50;
  return o;
}

class ServeServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    run_ = new LoadedRun(tiny_run());
    server_ = new Server(*run_, test_options());
    port_ = server_->start();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete run_;
  }
  static httplib::Client client() {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    c.set_tcp_nodelay(true);
    return c;
  }
  static httplib::Result post(const std::string& path, const std::string& body) {
    return client().Post(path.c_str(), body, "application/json");
  }
  static std::string user(std::int64_t u) { return run_->dataset().user_name(u); }
  static std::string item(std::int64_t i) { return run_->dataset().item_name(i); }

  static LoadedRun* run_;
  static Server* server_;
  static int port_;
};
LoadedRun* ServeServer::run_ = nullptr;
Server* ServeServer::server_ = nullptr;
int ServeServer::port_ = 0;

json ok_json(const httplib::Result& res) {
  EXPECT_TRUE(res) << "no response";
  if (!res) return json();
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  return json::parse(res->body);
}

// A 4xx whose JSON error names `field`; returns the message.
std::string expect_error(const httplib::Result& res, int status, const std::string& field) {
  EXPECT_TRUE(res) << "no response";
  if (!res) return "";
  EXPECT_EQ(res->status, status) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  json j;
  try {
    j = json::parse(res->body);
  } catch (const json::exception&) {
    ADD_FAILURE() << "not JSON: " << res->body;
    return "";
  }
  EXPECT_EQ(j["error"]["field"], field) << res->body;
  const std::string message = j["error"].value("message", "");
  EXPECT_FALSE(message.empty()) << res->body;
  return message;
}

std::string pairs_body(const std::vector<std::pair<std::string, std::string>>& pairs) {
  json p = json::array();
  for (const auto& [u, i] : pairs) p.push_back({{"user", u}, {"item", i}});
  return json{{"pairs", p}}.dump();
}

TEST_F(ServeServer, HealthAndModel) {
  const json h = ok_json(client().Get("/healthz"));
  EXPECT_EQ(h["status"], "ok");
  EXPECT_EQ(h["users"], run_->dataset().num_users());
  const json m = ok_json(client().Get("/v1/model"));
  EXPECT_EQ(m["run"], tiny_run());
  EXPECT_EQ(m["config"], run_->config());
  EXPECT_EQ(m["metrics"], run_->metrics());
  EXPECT_EQ(m["k"], 3);
  EXPECT_FALSE(m["leaky"].get<bool>());
  EXPECT_TRUE(m["adapters"].contains("plugins"));
  EXPECT_EQ(m["adapters"]["target"]["config"]["r"], 4);
  EXPECT_EQ(m["limits"]["max_pairs"], 100);
}

TEST_F(ServeServer, PredictsKnownPairsLikeTheRunInOrder) {
  const std::vector<std::int64_t> u = {0, 3, 7, 0, 12}, i = {0, 5, 1, 19, 2};
  std::vector<std::pair<std::string, std::string>> names;
  for (std::size_t j = 0; j < u.size(); ++j) names.emplace_back(user(u[j]), item(i[j]));
  const json r = ok_json(post("/v1/predict", pairs_body(names)));
  const auto expected = run_->predict_precomputed(u, i);  // the serving path
  ASSERT_EQ(r["predictions"].size(), u.size());
  for (std::size_t j = 0; j < u.size(); ++j) {
    EXPECT_EQ(r["predictions"][j]["user"], names[j].first);
    EXPECT_EQ(r["predictions"][j]["item"], names[j].second);
    EXPECT_NEAR(r["predictions"][j]["rating"].get<double>(), expected[j], 1e-6);
  }
  EXPECT_FALSE(r.contains("warning"));
}

TEST_F(ServeServer, PredictsAColdUserFromReviewTexts) {
  const std::vector<std::string> texts = {"great sound , love it", "nice tone", "good price",
                                          "bad cable"};
  const json r =
      ok_json(post("/v1/predict", json{{"user_reviews", texts}, {"item", item(4)}}.dump()));
  const auto expected = run_->predict_for_texts(texts, {4});
  ASSERT_EQ(r["predictions"].size(), 1u);
  EXPECT_EQ(r["predictions"][0]["item"], item(4));
  EXPECT_NEAR(r["predictions"][0]["rating"].get<double>(), expected[0], 1e-6);
  EXPECT_FALSE(r["known_user"].get<bool>());
  EXPECT_EQ(r["user_reviews_used"], 3);  // k = 3
}

TEST_F(ServeServer, RecommendsLikeTheRun) {
  const json r = ok_json(post("/v1/recommend", json{{"user", user(2)}, {"top", 4}}.dump()));
  const auto expected = run_->recommend(2, 4, true);
  ASSERT_EQ(r["items"].size(), expected.size());
  for (std::size_t j = 0; j < expected.size(); ++j) {
    EXPECT_EQ(r["items"][j]["item"], item(expected[j].first));
    EXPECT_NEAR(r["items"][j]["score"].get<double>(), expected[j].second, 1e-6);
  }
  const json all = ok_json(
      post("/v1/recommend", json{{"user", user(2)}, {"top", 50}, {"exclude_rated", false}}.dump()));
  EXPECT_EQ(all["items"].size(), static_cast<std::size_t>(run_->dataset().num_items()));
}

TEST_F(ServeServer, ExplainsAPairWithItsPartsAndWeightedTrainingReviews) {
  std::set<std::int64_t> train_lines;  // the run's training reviews, by source line
  for (std::int64_t id : run_->split().train) train_lines.insert(run_->dataset().review(id).line);
  for (const auto& [u, i] : std::vector<std::pair<std::int64_t, std::int64_t>>{{2, 5}, {7, 1}}) {
    const json x = ok_json(post("/v1/explain", json{{"user", user(u)}, {"item", item(i)}}.dump()));
    EXPECT_EQ(x["user"], user(u));
    EXPECT_EQ(x["item"], item(i));
    // The rating is the one /v1/predict serves, and the parts add up to it.
    EXPECT_NEAR(x["rating"].get<double>(), run_->predict_precomputed({u}, {i})[0], 1e-5);
    double sum = 0.0;
    for (const auto& [name, v] : x["parts"].items()) sum += v.get<double>();
    EXPECT_NEAR(sum, x["unclamped"].get<double>(), 1e-5);
    EXPECT_TRUE(x["parts"].contains("mean") && x["parts"].contains("text"));
    const auto heads = x["heads"].get<std::size_t>();
    EXPECT_EQ(heads, static_cast<std::size_t>(run_->settings().heads));
    // The user's context: the user's own training reviews (leak-free), at most k, heaviest first,
    // each head's weights summing to 1 over them.
    for (const char* side : {"user_reviews", "item_reviews"}) {
      const json& reviews = x[side];
      EXPECT_GE(reviews.size(), 1u) << side;
      EXPECT_LE(reviews.size(), run_->k()) << side;
      std::vector<double> head_sum(heads, 0.0);
      double previous = 2.0, total = 0.0;
      for (const auto& r : reviews) {
        EXPECT_EQ(train_lines.count(r["line"].get<std::int64_t>()), 1u) << r.dump();
        const std::int64_t id = [&] {
          for (std::int64_t j : run_->split().train)
            if (run_->dataset().review(j).line == r["line"].get<std::int64_t>()) return j;
          return std::int64_t{-1};
        }();
        ASSERT_GE(id, 0);
        const Review& rev = run_->dataset().review(id);
        if (std::string(side) == "user_reviews") {
          EXPECT_EQ(rev.user, user(u));
          EXPECT_EQ(r["item"], rev.item);
        } else {
          EXPECT_EQ(rev.item, item(i));
          EXPECT_EQ(r["user"], rev.user);
        }
        EXPECT_EQ(r["text"], rev.text);
        EXPECT_LE(r["weight"].get<double>(), previous + 1e-9);
        previous = r["weight"].get<double>();
        total += previous;
        ASSERT_EQ(r["weight_by_head"].size(), heads);
        double mean = 0.0;
        for (std::size_t h = 0; h < heads; ++h) {
          head_sum[h] += r["weight_by_head"][h].get<double>();
          mean += r["weight_by_head"][h].get<double>() / static_cast<double>(heads);
        }
        EXPECT_NEAR(r["weight"].get<double>(), mean, 1e-5);
      }
      for (double s : head_sum) EXPECT_NEAR(s, 1.0, 1e-5) << side;
      EXPECT_NEAR(total, 1.0, 1e-5) << side;
    }
  }
  expect_error(post("/v1/explain", json{{"user", "nobody"}, {"item", item(1)}}.dump()), 404,
               "user");
  expect_error(post("/v1/explain", json{{"user", user(1)}, {"item", "nothing"}}.dump()), 404,
               "item");
  expect_error(post("/v1/explain", json{{"user", user(1)}}.dump()), 400, "item");
}

TEST_F(ServeServer, ServesTheExplainPage) {
  const auto res = client().Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  // The page calls the three endpoints and never inserts review text as HTML.
  for (const char* s : {"/v1/model", "/v1/recommend", "/v1/explain", "textContent"})
    EXPECT_NE(res->body.find(s), std::string::npos) << s;
  EXPECT_EQ(res->body.find("innerHTML"), std::string::npos);
  const json m = ok_json(client().Get("/v1/model"));
  ASSERT_FALSE(m["example_users"].empty());
  EXPECT_EQ(m["example_users"][0], user(0));
}

TEST_F(ServeServer, UnknownUsersAndItemsAre404NamingFieldAndValue) {
  EXPECT_NE(expect_error(post("/v1/predict", pairs_body({{user(0), item(0)}, {"nobody", item(1)}})),
                         404, "pairs[1].user")
                .find("'nobody'"),
            std::string::npos);
  EXPECT_NE(expect_error(post("/v1/predict", pairs_body({{user(0), "no-such-item"}})), 404,
                         "pairs[0].item")
                .find("'no-such-item'"),
            std::string::npos);
  expect_error(post("/v1/predict", R"({"user_reviews": ["good"], "item": "no-such-item"})"), 404,
               "item");
  EXPECT_NE(expect_error(post("/v1/recommend", R"({"user": "nobody"})"), 404, "user")
                .find("user_reviews"),
            std::string::npos);
}

TEST_F(ServeServer, RefusesBadBodiesWithJsonErrors) {
  struct Case {
    std::string path, body;
    int status;
    std::string field;
  };
  const std::string p = "/v1/predict", r = "/v1/recommend";
  const std::vector<Case> cases = {
      {p, "", 400, "body"},
      {p, "{\"pairs\": [", 400, "body"},
      {p, "[]", 400, "body"},
      {p, std::string(40, '[') + std::string(40, ']'), 400, "body"},
      {p, "{}", 400, "pairs"},
      {p, R"({"pairs": "u:i"})", 400, "pairs"},
      {p, R"({"pairs": [{"user": 1, "item": "i"}]})", 400, "pairs[0].user"},
      {p, R"({"pairs": [{"user": "u"}]})", 400, "pairs[0].item"},
      {p, R"({"pairs": [{"user": "u", "item": "i"}], "extra": 1})", 400, "extra"},
      {p, json{{"pairs", json::array()}}.dump(), 400, "pairs"},
      {p, pairs_body(std::vector<std::pair<std::string, std::string>>(101, {"u", "i"})), 413,
       "pairs"},
      {p, json{{"user_reviews", std::vector<std::string>(5, "good")}, {"item", "i"}}.dump(), 413,
       "user_reviews"},
      {p,
       json{{"user_reviews", std::vector<std::string>{"ok", std::string(201, 'x')}}, {"item", "i"}}
           .dump(),
       413, "user_reviews[1]"},
      {p, R"({"user_reviews": [""], "item": "i"})", 400, "user_reviews[0]"},
      {p, "{\"pairs\": [{\"user\": \"\xff\", \"item\": \"i\"}]}", 400, "body"},
      {r, R"({"top": 3})", 400, "user"},
      {r, R"({"user": "u", "top": 0})", 400, "top"},
      {r, R"({"user": "u", "top": 51})", 400, "top"},
      {r, R"({"user": "u", "exclude_rated": 1})", 400, "exclude_rated"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path + " " + c.body.substr(0, 100));
    expect_error(post(c.path, c.body), c.status, c.field);
  }
}

TEST_F(ServeServer, RefusesOversizedBodiesAndKeepsTheConnection) {
  auto c = client();
  // Declared length over the limit: cpp-httplib refuses it before reading; the error is JSON.
  const std::string big = "{\"pairs\": [], \"x\": \"" + std::string(70 << 10, 'x') + "\"}";
  expect_error(c.Post("/v1/predict", big, "application/json"), 413, "body");
  // Chunked, no declared length: cut at the limit by the service.
  const std::string chunked = "{\"x\": \"" + std::string(65 << 10, 'x') + "\"}";
  expect_error(c.Post(
                   "/v1/predict",
                   [&](std::size_t offset, httplib::DataSink& sink) {
                     const std::size_t n = std::min<std::size_t>(8192, chunked.size() - offset);
                     sink.write(chunked.data() + offset, n);
                     if (offset + n == chunked.size()) sink.done();
                     return true;
                   },
                   "application/json"),
               413, "body");
  // The same client goes on working.
  ok_json(c.Get("/healthz"));
  ok_json(c.Post("/v1/predict", pairs_body({{user(1), item(1)}}), "application/json"));
  // Multipart forms are refused.
  expect_error(c.Post("/v1/predict", httplib::MultipartFormDataItems{{"pairs", "x", "", ""}}), 415,
               "body");
}

TEST_F(ServeServer, WrongMethodIs405AndUnknownPathIs404) {
  auto c = client();
  const auto get = c.Get("/v1/predict");
  expect_error(get, 405, "method");
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  expect_error(c.Post("/healthz", "{}", "application/json"), 405, "method");
  expect_error(c.Delete("/v1/model"), 405, "method");
  expect_error(c.Put("/v1/predict", "{}", "application/json"), 405, "method");
  EXPECT_NE(expect_error(c.Post("/v1/predict"), 400, "body").find("empty"), std::string::npos);
  expect_error(c.Get("/v2/predict"), 404, "path");
  expect_error(c.Get("/index.html"), 404, "path");
  expect_error(c.Get("/v1/explain"), 405, "method");
}

TEST_F(ServeServer, ConcurrentClientsGetTheSameAnswers) {
  const std::int64_t nu = run_->dataset().num_users(), ni = run_->dataset().num_items();
  std::vector<std::int64_t> all_u, all_i;
  for (std::int64_t u = 0; u < nu; ++u)
    for (std::int64_t i = 0; i < ni; i += 3) {
      all_u.push_back(u);
      all_i.push_back(i);
    }
  const auto expected = run_->predict_precomputed(all_u, all_i);
  const std::vector<std::string> texts = {"great sound", "love it"};
  const float cold_expected = run_->predict_for_texts(texts, {1})[0];
  std::atomic<int> failures{0}, answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      auto c = client();
      for (int q = 0; q < 30; ++q) {
        if (t >= 6) {  // two threads score cold users (the encoder is shared)
          const auto res =
              c.Post("/v1/predict", json{{"user_reviews", texts}, {"item", item(1)}}.dump(),
                     "application/json");
          if (!res || res->status != 200 ||
              std::abs(json::parse(res->body)["predictions"][0]["rating"].get<double>() -
                       cold_expected) > 1e-6)
            ++failures;
          ++answered;
          continue;
        }
        std::vector<std::pair<std::string, std::string>> names;
        std::vector<std::size_t> rows;
        for (std::size_t j = (t * 31 + q * 7) % all_u.size(), n = 0; n < 5;
             j = (j + 13) % all_u.size(), ++n) {
          names.emplace_back(user(all_u[j]), item(all_i[j]));
          rows.push_back(j);
        }
        const auto res = c.Post("/v1/predict", pairs_body(names), "application/json");
        if (!res || res->status != 200) {
          ++failures;
          continue;
        }
        const json r = json::parse(res->body);
        for (std::size_t n = 0; n < rows.size(); ++n)
          if (std::abs(r["predictions"][n]["rating"].get<double>() - expected[rows[n]]) > 1e-6)
            ++failures;
        ++answered;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(answered.load(), 8 * 30);
}

TEST_F(ServeServer, MetricsCountRequestsByEndpointAndStatus) {
  Server s(*run_, test_options());
  const int port = s.start();
  httplib::Client c("127.0.0.1", port);
  ok_json(c.Post("/v1/predict", pairs_body({{user(0), item(0)}, {user(1), item(1)}}),
                 "application/json"));
  ok_json(c.Post("/v1/predict", pairs_body({{user(0), item(2)}}), "application/json"));
  expect_error(c.Post("/v1/predict", "{", "application/json"), 400, "body");
  expect_error(c.Get("/nothing/here"), 404, "path");
  // Requests are counted after their response is written (httplib's logger), possibly on another
  // server thread than the next request: wait until the last one has been counted.
  const auto counted = [&] {
    return s.metrics().requests("other", 404) >= 1 &&
           s.metrics().requests("/v1/predict", 200) >= 2 &&
           s.metrics().requests("/v1/predict", 400) >= 1;
  };
  for (int tries = 0; tries < 200 && !counted(); ++tries)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto res = c.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  const std::string& t = res->body;
  EXPECT_NE(t.find("loid_requests_total{endpoint=\"/v1/predict\",status=\"200\"} 2\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("loid_requests_total{endpoint=\"/v1/predict\",status=\"400\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("loid_requests_total{endpoint=\"other\",status=\"404\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("loid_request_duration_seconds_count{endpoint=\"/v1/predict\"} 3\n"),
            std::string::npos);
  EXPECT_NE(t.find("loid_predictions_total 3\n"), std::string::npos);
  EXPECT_NE(t.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_EQ(s.metrics().requests("/v1/predict", 200), 2u);
}

TEST_F(ServeServer, PortInUseIsAUsageErrorAndStopIsIdempotent) {
  ServerOptions o = test_options();
  o.port = port_;
  Server clash(*run_, o);
  EXPECT_NE(testing::error_of<UsageError>([&] { clash.start(); }).find("cannot listen"),
            std::string::npos);
  Server s(*run_, test_options());
  const int port = s.start();
  EXPECT_GT(port, 0);
  EXPECT_EQ(s.port(), port);
  EXPECT_NE(testing::error_of<UsageError>([&] { s.start(); }).find("already"), std::string::npos);
  s.stop();
  s.stop();
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1, 0);
  EXPECT_FALSE(c.Get("/healthz"));  // nobody listens any more
  ServerOptions bad = test_options();
  bad.threads = 0;
  EXPECT_NE(testing::error_of<UsageError>([&] { Server x(*run_, bad); }).find("threads"),
            std::string::npos);
}

}  // namespace
}  // namespace loid
