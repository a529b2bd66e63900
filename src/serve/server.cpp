// The HTTP layer of `loid serve` (see server.h): routes, body limits, JSON errors for everything
// cpp-httplib refuses itself, and request metrics.
#include "serve/server.h"

#include <dlfcn.h>
#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "core/error.h"
#include "serve/page.h"
#include "serve/service.h"

namespace loid {

namespace {

using Clock = std::chrono::steady_clock;

// When the request this worker thread is handling reached routing (a worker handles one request
// at a time, start to finish); unset for requests refused before routing.
thread_local bool t_started = false;
thread_local Clock::time_point t_start;

const char* const kJson = "application/json";

const char* allowed_method(const std::string& path) {
  if (path == "/v1/predict" || path == "/v1/recommend" || path == "/v1/explain") return "POST";
  if (path == "/healthz" || path == "/v1/model" || path == "/metrics" || path == "/") return "GET";
  return nullptr;
}

// The JSON error for a response cpp-httplib made without a body (no route, unreadable request).
void fill_error(const httplib::Request& req, httplib::Response& res) {
  std::string field, message;
  const char* allowed = allowed_method(req.path);
  if ((res.status == 404 || res.status == 400) && allowed && req.method != allowed &&
      !(req.method == "HEAD" && std::string(allowed) == "GET")) {
    res.status = 405;
    res.set_header("Allow", allowed);
    field = "method";
    message = req.method + " is not allowed on " + req.path + "; use " + allowed;
  } else if (res.status == 404) {
    field = "path";
    message = "no endpoint " + req.path.substr(0, 200) +
              "; endpoints: POST /v1/predict, POST /v1/recommend, POST /v1/explain, GET /healthz, "
              "GET /v1/model, GET /metrics, GET / (a page)";
  } else if (res.status == 413) {
    field = "body";
    message = "request body too large";
  } else if (res.status == 414) {
    field = "path";
    message = "request URI too long";
  } else if (res.status >= 500) {
    message = "internal error";
  } else {
    field = "request";
    message = "malformed HTTP request";
  }
  res.set_content(error_json(field, message), kJson);
}

void send(httplib::Response& res, const Reply& r) {
  res.status = r.status;
  res.set_content(r.body, kJson);
}

}  // namespace

struct Server::Impl {
  Impl(LoadedRun& run, const ServerOptions& o) : options(o), service(run, o.limits) {}

  // Reads the body through `reader` up to the body limit; on failure puts the error in `res`.
  bool read_body(const httplib::Request& req, httplib::Response& res,
                 const httplib::ContentReader& reader, std::string& body) const {
    if (req.is_multipart_form_data()) {
      send(res,
           {415, error_json("body", "multipart bodies are not accepted; send a JSON object"), 0});
      res.set_header("Connection", "close");  // the unread body must not pass for a request
      return false;
    }
    if (!req.has_header("Content-Length") &&
        req.get_header_value("Transfer-Encoding").find("chunked") == std::string::npos)
      return true;  // no body at all: the parser says what is missing
    const std::size_t max = options.limits.max_body_bytes;
    // An oversized chunked body is read on and dropped up to this much, so that the connection
    // stays usable for the next request (cpp-httplib itself skips oversized Content-Length bodies).
    const std::size_t drain = 4 * max + (64u << 10);
    std::size_t seen = 0;
    bool too_big = false;
    const bool ok = reader([&](const char* data, std::size_t n) {
      seen += n;
      if (seen > max) {
        too_big = true;
        std::string().swap(body);
        return seen <= drain;
      }
      body.append(data, n);
      return true;
    });
    if (ok && !too_big) return true;
    if (too_big || res.status == 413) {
      send(res, {413,
                 error_json("body", "request body larger than " + std::to_string(max) +
                                        " bytes (--max-body-bytes)"),
                 0});
      // Past the drain limit the rest of the body is still on the connection: close it.
      if (!ok && too_big) res.set_header("Connection", "close");
    } else {
      send(res, {400, error_json("body", "could not read the request body"), 0});
      res.set_header("Connection", "close");
    }
    return false;
  }

  template <class Handle>
  void post(const std::string& path, Handle handle) {
    http.Post(path, [this, handle](const httplib::Request& req, httplib::Response& res,
                                   const httplib::ContentReader& reader) {
      std::string body;
      if (!read_body(req, res, reader, body)) return;
      const Reply r = handle(body);
      metrics.add_predictions(r.status == 200 ? r.predictions : 0);
      send(res, r);
    });
  }

  void routes() {
    post("/v1/predict", [this](const std::string& b) { return service.predict(b); });
    post("/v1/recommend", [this](const std::string& b) { return service.recommend(b); });
    post("/v1/explain", [this](const std::string& b) { return service.explain(b); });
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(explain_page_html(), "text/html; charset=utf-8");
    });
    http.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      send(res, service.health());
    });
    http.Get("/v1/model", [this](const httplib::Request&, httplib::Response& res) {
      send(res, service.model_info());
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics.prometheus(), "text/plain; version=0.0.4");
    });
    http.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
      t_started = true;
      t_start = Clock::now();
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          fill_error(req, res);
          return httplib::Server::HandlerResponse::Handled;
        }));
    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "unknown exception";
          try {
            std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          send(res, {500, error_json("", "internal error: " + what), 0});
        });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      const double seconds =
          t_started ? std::chrono::duration<double>(Clock::now() - t_start).count() : -1.0;
      t_started = false;
      metrics.observe(req.path, res.status, seconds);
    });
  }

  ServerOptions options;
  ScoringService service;
  ServeMetrics metrics;
  httplib::Server http;
  std::thread thread;
  std::atomic<bool> listening_done{false};
  int port = -1;
};

Server::Server(LoadedRun& run, const ServerOptions& options)
    : impl_(std::make_unique<Impl>(run, options)) {
  if (options.threads < 1) throw UsageError("serve: threads must be >= 1");
  if (options.keep_alive_requests < 1) throw UsageError("serve: keep-alive requests must be >= 1");
  if (options.port < 0 || options.port > 65535)
    throw UsageError("serve: port must be 0..65535, got " + std::to_string(options.port));
  const auto threads = static_cast<std::size_t>(options.threads);
  impl_->http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl_->http.set_payload_max_length(options.limits.max_body_bytes);
  impl_->http.set_keep_alive_max_count(static_cast<std::size_t>(options.keep_alive_requests));
  // Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm holds the
  // body until the client's delayed ACK (tens of milliseconds per request).
  impl_->http.set_tcp_nodelay(true);
  // cpp-httplib's default sets SO_REUSEPORT, which lets a second server bind a port in use and
  // silently take half its connections; SO_REUSEADDR alone still allows a quick restart.
  impl_->http.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  impl_->routes();
}

Server::~Server() {
  stop();
}

int Server::start() {
  Impl& m = *impl_;
  if (m.port >= 0) throw UsageError("serve: the server is already started");
  const std::string where = m.options.host + ":" + std::to_string(m.options.port);
  if (m.options.port == 0) {
    m.port = m.http.bind_to_any_port(m.options.host);
  } else if (m.http.bind_to_port(m.options.host, m.options.port)) {
    m.port = m.options.port;
  }
  if (m.port < 0)
    throw UsageError("serve: cannot listen on " + where +
                     " (port in use, or not an address of this machine?)");
  m.thread = std::thread([&m] {
    m.http.listen_after_bind();
    m.listening_done = true;
  });
  // stop() only reaches a server that is running: wait until the accept loop has started.
  while (!m.http.is_running() && !m.listening_done)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return m.port;
}

void Server::stop() {
  Impl& m = *impl_;
  if (!m.thread.joinable()) return;
  m.http.stop();
  m.thread.join();
}

void set_blas_threads(int threads) {
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    f(std::max(1, threads));
}

int Server::port() const {
  return impl_->port;
}
const ServeMetrics& Server::metrics() const {
  return impl_->metrics;
}

}  // namespace loid
