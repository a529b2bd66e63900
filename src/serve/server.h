// `loid serve`: an HTTP/JSON scoring service for a loaded run (cpp-httplib underneath).
// POST /v1/predict takes {"pairs": [{"user": U, "item": I}, ...]} or {"user_reviews": [...],
// "item": I}; POST /v1/recommend takes {"user": U, "top": 10, "exclude_rated": true}; GET /healthz,
// GET /v1/model (config, metrics, adapters) and GET /metrics (Prometheus text) take nothing.
// Every refused request is a 4xx with {"error": {"field": ..., "message": ...}}.
#pragma once

#include <memory>
#include <string>

#include "serve/metrics.h"
#include "serve/request.h"
#include "train/run.h"

namespace loid {

struct ServerOptions {
  std::string host = "127.0.0.1";  // address to bind; loopback unless asked otherwise
  int port = 8080;                 // TCP port; 0 = any free port (Server::start returns it)
  int threads = 8;                 // HTTP worker threads; each holds one keep-alive connection
                                   // while it is open, so give at least the concurrent clients
  int keep_alive_requests = 1000;  // requests one connection may send before it is closed
  RequestLimits limits;            // body, pairs, texts and text sizes
};

class Server {
 public:
  // `run` must outlive the server.
  Server(LoadedRun& run, const ServerOptions& options);
  ~Server();  // stops

  // Binds and serves on background threads; returns the bound port. Throws UsageError when the
  // address cannot be bound (in use, not an address of this machine) or when called twice.
  int start();
  // Stops accepting, finishes the requests in flight and joins the threads. Idempotent.
  void stop();

  int port() const;  // -1 before start()
  const ServeMetrics& metrics() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Caps OpenBLAS's own thread pool (Debian's libtorch does its float GEMMs there, and
// torch::set_num_threads does not reach it). Several serving threads each calling GEMM with a pool
// per call spend most of the CPU spinning in sched_yield; 1 per call is the serving choice. No-op
// when OpenBLAS is not loaded. threads >= 1.
void set_blas_threads(int threads);

}  // namespace loid
