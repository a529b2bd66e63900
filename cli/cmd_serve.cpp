// `loid serve`: the HTTP scoring service on a finished `loid train` run, until SIGINT or SIGTERM.
#include <signal.h>

#include <iostream>
#include <memory>

#include "commands.h"
#include "loid_flags.h"
#include "serve/server.h"
#include "train/run.h"
#include "train/setup.h"

namespace loid::cli {

void add_serve(CLI::App& app) {
  auto run = std::make_shared<std::string>();
  auto o = std::make_shared<loid::ServerOptions>();
  auto torch_threads = std::make_shared<int>(1);
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve a trained run over HTTP/JSON until Ctrl-C.\n"
      "  POST /v1/predict {\"pairs\": [{\"user\": U, \"item\": I}, ...]}: ratings in order;\n"
      "    or {\"user_reviews\": [\"text\", ...], \"item\": I}: a user unknown to the model,\n"
      "    scored from review texts (the first k) on the cold path\n"
      "  POST /v1/recommend {\"user\": U, \"top\": 10, \"exclude_rated\": true}: ranked items\n"
      "  POST /v1/explain {\"user\": U, \"item\": I}: the rating's parts and the context\n"
      "    reviews with their attention weights\n"
      "  GET /: a page showing a user's recommendations and the reviews that weighed most\n"
      "  GET /healthz, GET /v1/model (config, metrics, adapters), GET /metrics (Prometheus)\n"
      "Users and items are named as in the run's data file. An unknown user or item in a\n"
      "request is a 404 naming the field and value (never a silent cold-start guess); every\n"
      "refused request is a 4xx with {\"error\": {\"field\": ..., \"message\": ...}}.\n"
      "Review texts longer than --max-text-bytes are refused; shorter ones are cut to the\n"
      "encoder's token limit, as in training.");
  cmd->add_option("--run", *run, "Run directory written by `loid train`")->required();
  cmd->add_option("--host", o->host, "Address to bind (0.0.0.0 opens it to the network)")
      ->capture_default_str();
  cmd->add_option("--port", o->port, "TCP port; 0 picks a free one (printed at start)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--threads", o->threads,
                  "HTTP worker threads; each holds one keep-alive connection, so give at least "
                  "the number of concurrent clients")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--torch-threads", *torch_threads,
                  "Threads of each model call (0 = all cores); requests already run in parallel")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", o->limits.max_body_bytes, "Largest request body (413 beyond)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-pairs", o->limits.max_pairs, "Most pairs in one /v1/predict (413 beyond)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-texts", o->limits.max_texts,
                  "Most user_reviews in one request (413 beyond)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-text-bytes", o->limits.max_text_bytes,
                  "Longest review text in bytes (413 beyond)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-top", o->limits.max_top, "Largest `top` of /v1/recommend")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto device = std::make_shared<loid::DeviceSpec>();
  add_device_flag(*cmd, *device);
  cmd->callback([run, o, torch_threads, device] {
    // Block the stop signals before any thread starts (threads inherit the mask), then wait for
    // one here, so a stop always finishes the requests in flight.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    loid::set_blas_threads(loid::set_threads(*torch_threads));
    loid::LoadedRun r(*run, *device);  // --device: the encoder of new users' texts
    loid::Server server(r, *o);
    const int port = server.start();
    std::cout << "loid serve: listening on http://" << o->host << ":" << port << " (run " << *run
              << ", " << r.dataset().num_users() << " users, " << r.dataset().num_items()
              << " items, " << r.precomputed().bytes() / 1024 << " KiB precomputed"
              << (r.leaky() ? ", LEAKY paper protocol" : "") << ")" << std::endl;
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::cout << "loid serve: stopping (signal " << sig << ")" << std::endl;
    server.stop();
  });
}

}  // namespace loid::cli
