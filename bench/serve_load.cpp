// A bounded load generator for `loid serve`: N client threads on keep-alive connections POST
// /v1/predict with (user, item) pairs taken from the run's own data file (all known to the model)
// for a fixed time, then report requests and predictions per second, latency percentiles, errors,
// and the server's resident memory (from its /metrics) at the start, during and at the end.
//
//   loid_serve_load --run RUN_DIR --port 8080 [--clients 4] [--seconds 10] [--pairs-per-request 1]
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "data/reader.h"

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct LoadOptions {
  std::string run;  // run directory (its config names the data file)
  std::string host = "127.0.0.1";
  int port = 8080;
  int clients = 4;            // client threads, one keep-alive connection each
  double seconds = 10;        // measured duration
  double warmup_seconds = 1;  // unmeasured load before it
  int pairs_per_request = 1;  // pairs in each /v1/predict body
  double rss_every = 0;       // also sample the server's RSS every this many seconds (0 = no)
};

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// process_resident_memory_bytes from the server's /metrics, in MiB (-1 when unavailable).
double server_rss_mib(const LoadOptions& o) {
  httplib::Client c(o.host, o.port);
  const auto res = c.Get("/metrics");
  if (!res || res->status != 200) return -1;
  std::istringstream in(res->body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("process_resident_memory_bytes ", 0) == 0)
      return std::stod(line.substr(line.find(' ') + 1)) / (1024.0 * 1024.0);
  return -1;
}

// Request bodies cycling through every (user, item) pair of the data file.
std::vector<std::string> make_bodies(const LoadOptions& o) {
  const json config = json::parse(loid::read_file(o.run + "/config.json"));
  const std::string data = config.at("settings").at("data");
  const loid::ReviewFile f = loid::read_reviews(data);
  if (f.reviews.empty()) throw loid::InputError(data, 0, "no reviews");
  std::vector<std::string> bodies;
  std::size_t next = 0;
  const std::size_t n = std::max<std::size_t>(f.reviews.size() / o.pairs_per_request, 1);
  for (std::size_t b = 0; b < std::min<std::size_t>(n, 4096); ++b) {
    json pairs = json::array();
    for (int p = 0; p < o.pairs_per_request; ++p, next = (next + 1) % f.reviews.size())
      pairs.push_back({{"user", f.reviews[next].user}, {"item", f.reviews[next].item}});
    bodies.push_back(json{{"pairs", pairs}}.dump());
  }
  return bodies;
}

struct ClientResult {
  std::vector<float> latency_ms;
  std::uint64_t errors = 0;
};

// Sends bodies until `stop`, recording latencies once `measure` is set.
void client_loop(const LoadOptions& o, const std::vector<std::string>& bodies, int id,
                 const std::atomic<bool>& measure, const std::atomic<bool>& stop,
                 ClientResult& out) {
  httplib::Client c(o.host, o.port);
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);
  c.set_read_timeout(10, 0);
  std::size_t b = static_cast<std::size_t>(id) * 7919 % bodies.size();
  while (!stop) {
    const bool counted = measure;
    const auto t0 = Clock::now();
    const auto res = c.Post("/v1/predict", bodies[b], "application/json");
    const auto t1 = Clock::now();
    b = (b + 1) % bodies.size();
    if (!counted) continue;
    if (!res || res->status != 200 || res->body.find("\"rating\"") == std::string::npos) {
      ++out.errors;
      continue;
    }
    out.latency_ms.push_back(std::chrono::duration<float, std::milli>(t1 - t0).count());
  }
}

double percentile(std::vector<float>& v, double q) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

int run_load(const LoadOptions& o) {
  const auto bodies = make_bodies(o);
  const double rss_start = server_rss_mib(o);
  if (rss_start < 0) {
    std::cerr << "serve_load: no loid serve answering at " << o.host << ":" << o.port << "\n";
    return 1;
  }
  const std::string load_start = load_average();
  std::atomic<bool> measure{false}, stop{false};
  std::vector<ClientResult> results(static_cast<std::size_t>(o.clients));
  std::vector<std::thread> threads;
  for (int t = 0; t < o.clients; ++t)
    threads.emplace_back(client_loop, std::cref(o), std::cref(bodies), t, std::cref(measure),
                         std::cref(stop), std::ref(results[static_cast<std::size_t>(t)]));
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup_seconds));
  measure = true;
  const auto t0 = Clock::now();
  json rss_series = json::array();
  auto span = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  const Clock::time_point end = t0 + span(o.seconds);
  while (Clock::now() < end) {
    std::this_thread::sleep_until(
        std::min(end, Clock::now() + span(o.rss_every > 0 ? o.rss_every : o.seconds)));
    if (o.rss_every > 0)
      rss_series.push_back({{"t", std::chrono::duration<double>(Clock::now() - t0).count()},
                            {"rss_mib", server_rss_mib(o)}});
  }
  stop = true;
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& th : threads) th.join();
  std::vector<float> all;
  std::uint64_t errors = 0;
  for (auto& r : results) {
    all.insert(all.end(), r.latency_ms.begin(), r.latency_ms.end());
    errors += r.errors;
  }
  const double rss_end = server_rss_mib(o);
  const auto requests = static_cast<double>(all.size());
  json out = {{"clients", o.clients},
              {"pairs_per_request", o.pairs_per_request},
              {"seconds", elapsed},
              {"requests_ok", all.size()},
              {"errors", errors},
              {"requests_per_s", requests / elapsed},
              {"predictions_per_s", requests * o.pairs_per_request / elapsed},
              {"latency_ms",
               {{"p50", percentile(all, 0.50)},
                {"p90", percentile(all, 0.90)},
                {"p99", percentile(all, 0.99)},
                {"max", all.empty() ? 0.0f : *std::max_element(all.begin(), all.end())}}},
              {"server_rss_mib", {{"start", rss_start}, {"end", rss_end}}},
              {"load_average", {{"start", load_start}, {"end", load_average()}}}};
  if (!rss_series.empty()) out["server_rss_mib"]["series"] = rss_series;
  std::cout << out.dump(2) << std::endl;
  return errors == 0 ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  LoadOptions o;
  CLI::App app{"Load generator for `loid serve` (known pairs from the run's data file)"};
  app.add_option("--run", o.run, "Run directory the server serves")->required();
  app.add_option("--host", o.host, "Server address")->capture_default_str();
  app.add_option("--port", o.port, "Server port")->capture_default_str();
  app.add_option("--clients", o.clients, "Client threads (one connection each)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "Measured seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup-seconds", o.warmup_seconds, "Unmeasured seconds before")
      ->capture_default_str();
  app.add_option("--pairs-per-request", o.pairs_per_request, "Pairs in each request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--rss-every", o.rss_every, "Sample the server's RSS every this many seconds")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return run_load(o);
  } catch (const std::exception& e) {
    std::cerr << "serve_load: " << e.what() << "\n";
    return 1;
  }
}
