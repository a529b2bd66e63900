// `loid serve` end to end: a server on a free loopback port over a tiny trained run, every endpoint
// and every refusal checked through an HTTP client (status, JSON error naming the field), answers
// equal to the run's own predictions, concurrent clients, metrics, and start/stop; a stop with
// requests in flight (in process, and the `loid serve` executable on SIGTERM); and the executable
// serving the run's test predictions (their MSE is the one `loid train` recorded).
#include "serve/server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/progress.h"
#include "data/synth.h"
#include "core/fs.h"
#include "support/child_process.h"
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

// ---- Stopping with requests in flight ----------------------------------------------------------
// Raw HTTP/1.1 on one socket, so that a request can be held open in the middle: its head sent with
// "Expect: 100-continue", the server's interim "100 Continue" read (a worker is then inside that
// request, waiting for its body), the body sent only later.

// A socket connected to the loopback port, or -1 when the connection is refused (nobody listens).
int connect_local(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{30, 0};  // a server that never answers fails the test instead of hanging it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

bool send_all(int fd, const std::string& s) {
  for (std::size_t done = 0; done < s.size();) {
    const ssize_t n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

struct RawResponse {
  int status = 0;         // 0 when no complete head arrived
  bool complete = false;  // the head and all Content-Length bytes of the body arrived
  std::size_t bytes = 0;  // bytes received for this response
  std::string body;
};

// Reads one response from fd (`buffer` keeps what arrived beyond it). An interim 1xx response has
// no body.
RawResponse read_response(int fd, std::string& buffer) {
  RawResponse r;
  const std::size_t start = buffer.size();
  char chunk[4096];
  const auto fill = [&] {
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  };
  std::size_t head_end;
  while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) {
      r.bytes = buffer.size() - start;
      return r;
    }
  }
  const std::string head = buffer.substr(0, head_end);
  if (head.rfind("HTTP/1.1 ", 0) == 0) r.status = std::atoi(head.c_str() + 9);
  std::size_t length = 0;
  std::string lower = head;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::size_t cl = lower.find("\r\ncontent-length:");
  if (cl != std::string::npos) length = std::stoul(head.substr(cl + 17));
  if (r.status >= 100 && r.status < 200) length = 0;
  while (buffer.size() < head_end + 4 + length) {
    if (!fill()) {
      r.bytes = buffer.size();
      return r;
    }
  }
  r.body = buffer.substr(head_end + 4, length);
  r.bytes = head_end + 4 + length;
  r.complete = r.status != 0;
  buffer.erase(0, head_end + 4 + length);
  return r;
}

std::string request_head(const std::string& path, std::size_t body_bytes, const char* extra) {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body_bytes) + "\r\n" + extra + "\r\n";
}

// One request and what its answer must be.
struct Expected {
  std::string path, body;
  // What is wrong with a 200 answer's body ("" when it is the expected one).
  std::function<std::string(const json&)> check;
};

std::string checked(const Expected& q, const std::string& body) {
  try {
    return q.check(json::parse(body));
  } catch (const json::exception& e) {
    return std::string("unreadable answer: ") + e.what() + ": " + body.substr(0, 200);
  }
}

std::string near_or_why(double got, double want, const std::string& what) {
  return std::abs(got - want) <= 1e-6
             ? ""
             : what + ": " + std::to_string(got) + " instead of " + std::to_string(want);
}

// Requests of every kind, each with its expected answer from the run itself: pairs (precomputed
// tables), cold users (the encoder) and recommendations.
std::vector<Expected> varied_requests(LoadedRun& run) {
  std::vector<Expected> out;
  const std::int64_t nu = run.dataset().num_users(), ni = run.dataset().num_items();
  for (int k = 0; k < 3; ++k) {
    std::vector<std::int64_t> u, i;
    json pairs = json::array();
    for (int j = 0; j < 6; ++j) {
      u.push_back((k * 7 + j * 5) % nu);
      i.push_back((k * 3 + j * 11) % ni);
      pairs.push_back({{"user", run.dataset().user_name(u.back())},
                       {"item", run.dataset().item_name(i.back())}});
    }
    const std::vector<float> want = run.predict_precomputed(u, i);
    out.push_back({"/v1/predict", json{{"pairs", pairs}}.dump(), [want](const json& r) {
                     if (r.at("predictions").size() != want.size()) return std::string("count");
                     std::string why;
                     for (std::size_t j = 0; j < want.size() && why.empty(); ++j)
                       why = near_or_why(r["predictions"][j].at("rating").get<double>(), want[j],
                                         "pair " + std::to_string(j));
                     return why;
                   }});
  }
  for (const auto& texts : {std::vector<std::string>{"great sound , love it", "bad cable"},
                            std::vector<std::string>{"nice tone", "good price", "fine"}}) {
    const float want = run.predict_for_texts(texts, {2})[0];
    out.push_back(
        {"/v1/predict", json{{"user_reviews", texts}, {"item", run.dataset().item_name(2)}}.dump(),
         [want](const json& r) {
           if (r.at("predictions").size() != 1u) return std::string("count");
           return near_or_why(r["predictions"][0].at("rating").get<double>(), want, "cold user");
         }});
  }
  const auto top = run.recommend(3, 5, true);
  std::vector<std::string> names;
  for (const auto& [item, score] : top) names.push_back(run.dataset().item_name(item));
  out.push_back({"/v1/recommend", json{{"user", run.dataset().user_name(3)}, {"top", 5}}.dump(),
                 [names](const json& r) {
                   std::vector<std::string> got;
                   for (const auto& x : r.at("items")) got.push_back(x.at("item"));
                   return got == names ? std::string() : std::string("other items");
                 }});
  return out;
}

// Requests held in flight on a server at `port`: each has sent its head and received "100
// Continue", so a server worker is inside it. finish() sends the bodies and checks every answer.
class HeldRequests {
 public:
  explicit HeldRequests(std::vector<Expected> requests) : requests_(std::move(requests)) {}
  // Sends every head and waits for its interim response.
  void open(int port) {
    for (const auto& q : requests_) {
      const int fd = connect_local(port);
      fds_.push_back(fd);
      buffers_.emplace_back();
      ASSERT_GE(fd, 0) << "cannot connect to port " << port;
      ASSERT_TRUE(send_all(fd, request_head(q.path, q.body.size(), "Expect: 100-continue\r\n")));
      const RawResponse interim = read_response(fd, buffers_.back());
      ASSERT_EQ(interim.status, 100) << "no interim response: the request is not in flight";
    }
  }
  ~HeldRequests() {
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
  }
  // Sends the bodies; each request must get its complete, correct answer.
  void finish() {
    ASSERT_EQ(fds_.size(), requests_.size());
    for (std::size_t k = 0; k < fds_.size(); ++k) ASSERT_TRUE(send_all(fds_[k], requests_[k].body));
    for (std::size_t k = 0; k < fds_.size(); ++k) {
      SCOPED_TRACE(requests_[k].path + " " + requests_[k].body.substr(0, 80));
      const RawResponse r = read_response(fds_[k], buffers_[k]);
      EXPECT_TRUE(r.complete) << "the request in flight got " << r.bytes << " bytes, status "
                              << r.status;
      if (!r.complete) continue;
      EXPECT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(checked(requests_[k], r.body), "");
    }
  }

 private:
  std::vector<Expected> requests_;
  std::vector<int> fds_;
  std::vector<std::string> buffers_;
};

// Clients that keep sending whole requests (one per connection) until a connection is refused
// (or the test ends).
// Each request must get a complete, correct answer or a clean connection error: closed or reset
// before any byte of a response, never a partial or wrong one. The constructor returns once every
// client has had one answer.
class Hammer {
 public:
  Hammer(int port, const Expected& request, int threads) {
    for (int t = 0; t < threads; ++t)
      threads_.emplace_back([this, port, request] {
        bool first = true;
        while (!quit_) {
          const int fd = connect_local(port);
          if (fd < 0) return;  // refused: the server stopped listening
          std::string buffer;
          const bool sent = send_all(
              fd, request_head(request.path, request.body.size(), "Connection: close\r\n") +
                      request.body);
          const RawResponse r = read_response(fd, buffer);
          ::close(fd);
          if (r.bytes == 0) {
            ++clean_errors_;
          } else if (!sent || !r.complete || r.status != 200) {
            ++bad_;
          } else if (const std::string why = checked(request, r.body); !why.empty()) {
            ++bad_;
          } else {
            ++answered_;
            if (first) ++ready_;
            first = false;
          }
        }
      });
    testing::poll_until([&] { return ready_ == threads; }, std::chrono::seconds(60));
  }
  void join() {
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  ~Hammer() {
    quit_ = true;  // a test that ends early does not wait for the server to stop
    join();
  }
  int answered() const { return answered_; }
  int ready() const { return ready_; }
  int bad() const { return bad_; }

 private:
  std::vector<std::thread> threads_;
  std::atomic<int> answered_{0}, clean_errors_{0}, bad_{0}, ready_{0};
  std::atomic<bool> quit_{false};
};

// Waits until a new connection to `port` is refused (the listening socket is closed).
bool refuses_connections(int port) {
  return testing::poll_until(
      [port] {
        const int fd = connect_local(port);
        if (fd < 0) return true;
        ::close(fd);
        return false;
      },
      std::chrono::seconds(30));
}

TEST_F(ServeServer, StopFinishesTheRequestsInFlightAndRefusesNewOnes) {
  Server s(*run_, test_options());
  const int port = s.start();
  const std::vector<Expected> requests = varied_requests(*run_);
  Hammer hammer(port, requests[0], 3);
  ASSERT_EQ(hammer.ready(), 3) << "the clients got no answer before the stop";
  HeldRequests held(requests);
  held.open(port);
  if (HasFatalFailure()) return;

  auto stopped = std::async(std::launch::async, [&] { s.stop(); });
  ASSERT_TRUE(refuses_connections(port)) << "still accepting connections after stop()";
  // The held requests are not answered yet, so stop() must still be waiting for them.
  EXPECT_NE(stopped.wait_for(std::chrono::seconds(0)), std::future_status::ready)
      << "stop() returned with requests in flight";
  held.finish();
  // A bound against a hang, not a speed requirement.
  ASSERT_EQ(stopped.wait_for(std::chrono::seconds(60)), std::future_status::ready)
      << "stop() did not return after the requests in flight were answered";
  hammer.join();
  EXPECT_EQ(hammer.bad(), 0);
  EXPECT_EQ(s.metrics().requests("/v1/recommend", 200), 1u);
  EXPECT_LT(connect_local(port), 0);
  s.stop();  // idempotent after a stop with requests in flight
}

// ---- The `loid serve` executable
// -----------------------------------------------------------------

class ServeCommand : public ServeServer {};

// Starts `loid serve` on the tiny run and a free port; returns the port from its start line, or -1
// (the log says why).
int start_loid_serve(std::unique_ptr<testing::ChildProcess>& child, const std::string& run,
                     const std::string& log) {
  child = std::make_unique<testing::ChildProcess>(
      std::vector<std::string>{testing::cli_path(), "serve", "--run", run, "--port", "0",
                               "--threads", "10"},
      log);
  const std::string marker = "listening on http://127.0.0.1:";
  int port = -1;
  testing::poll_until(
      [&] {
        if (!child->running()) return true;
        std::ifstream in(log);
        const std::string text((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
        const std::size_t at = text.find(marker);
        if (at == std::string::npos) return false;
        port = std::atoi(text.c_str() + at + marker.size());
        return true;
      },
      std::chrono::seconds(60));
  return port;
}

TEST_F(ServeCommand, ServesTheTestPredictionsTrainRecordedAndStopsOnSigint) {
  LOID_REQUIRE_CLI();
  const std::string log = testing::temp_dir("serve_cli_a") + "/serve.log";
  std::unique_ptr<testing::ChildProcess> child;
  const int port = start_loid_serve(child, tiny_run(), log);
  ASSERT_GT(port, 0) << read_file(log);

  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30, 0);
  const json h = ok_json(c.Get("/healthz"));
  EXPECT_EQ(h["users"], run_->dataset().num_users());
  // Every test row of the run's split, scored by the served model: their MSE against the data
  // file's ratings is the test MSE that `loid train` wrote to metrics.json.
  const json metrics = json::parse(read_file(tiny_run() + "/metrics.json"));
  const std::vector<std::int64_t>& test = run_->split().test;
  ASSERT_GT(test.size(), 5u);
  json pairs = json::array();
  for (std::int64_t id : test)
    pairs.push_back(
        {{"user", user(run_->dataset().user_of(id))}, {"item", item(run_->dataset().item_of(id))}});
  const json r = ok_json(c.Post("/v1/predict", json{{"pairs", pairs}}.dump(), "application/json"));
  ASSERT_EQ(r["predictions"].size(), test.size());
  double se = 0.0;
  for (std::size_t j = 0; j < test.size(); ++j)
    se += std::pow(
        r["predictions"][j]["rating"].get<double>() - run_->dataset().review(test[j]).rating, 2);
  EXPECT_NEAR(se / static_cast<double>(test.size()), metrics["test"]["mse"].get<double>(), 1e-5);

  child->signal(SIGINT);
  ASSERT_TRUE(child->wait_for(std::chrono::seconds(60))) << "loid serve did not stop on SIGINT";
  EXPECT_EQ(child->exit_code(), 0) << read_file(log);
  EXPECT_NE(read_file(log).find("stopping (signal 2)"), std::string::npos) << read_file(log);
  EXPECT_LT(connect_local(port), 0);
}

TEST_F(ServeCommand, SigtermFinishesTheRequestsInFlight) {
  LOID_REQUIRE_CLI();
  const std::string log = testing::temp_dir("serve_cli_b") + "/serve.log";
  std::unique_ptr<testing::ChildProcess> child;
  const int port = start_loid_serve(child, tiny_run(), log);
  ASSERT_GT(port, 0) << read_file(log);
  const std::vector<Expected> requests = varied_requests(*run_);
  Hammer hammer(port, requests[1], 2);
  ASSERT_EQ(hammer.ready(), 2) << "the clients got no answer before the stop";
  HeldRequests held(requests);
  held.open(port);
  if (HasFatalFailure()) return;

  child->signal(SIGTERM);
  ASSERT_TRUE(refuses_connections(port)) << "still accepting connections after SIGTERM";
  EXPECT_TRUE(child->running()) << "exited with requests in flight: " << read_file(log);
  held.finish();
  ASSERT_TRUE(child->wait_for(std::chrono::seconds(60)))
      << "loid serve did not exit after the requests in flight were answered";
  EXPECT_EQ(child->exit_code(), 0) << "signal " << child->term_signal() << "\n" << read_file(log);
  EXPECT_NE(read_file(log).find("stopping (signal 15)"), std::string::npos) << read_file(log);
  hammer.join();
  EXPECT_EQ(hammer.bad(), 0);
}

}  // namespace
}  // namespace loid
