// Entry point of the `loid` executable: builds the command tree and is the one place where library
// errors become messages and exit codes.
#include <cstdio>
#include <exception>

#include "commands.h"
#include "loid_flags.h"
#include "core/allocator.h"
#include "core/error.h"
#include "core/launch.h"
#include "core/thread_wait.h"
#include "core/version.h"

int main(int argc, char** argv) {
  // First of all: idle worker threads sleep instead of spinning (core/thread_wait.h). This may
  // re-execute the program once, with two variables added to the environment.
  try {
    loid::apply_thread_wait_from_environment(argv);
  } catch (const loid::UsageError& e) {
    std::fprintf(stderr, "loid: usage error: %s\n", e.what());
    return 2;
  }
  loid::cli::set_program_args(argc, argv);
  CLI::App app{"loid: LoRA plugins and ID-text attention for review-based rating prediction"};
  app.set_version_flag("--version",
                       std::string(loid::version()) + " (" + loid::git_version() + ")");
  app.require_subcommand(1);
  app.fallthrough(false);

  CLI::App* data = app.add_subcommand("data", "Read, inspect, split and synthesise review data");
  data->require_subcommand(1);
  loid::cli::add_data_stats(*data);
  loid::cli::add_data_split(*data);
  loid::cli::add_data_synth(*data);
  loid::cli::add_adapter(app);
  loid::cli::add_demo(app);
  loid::cli::add_encode(app);
  loid::cli::add_models(app);
  loid::cli::add_pretrain(app);
  loid::cli::add_train(app);
  loid::cli::add_eval(app);
  loid::cli::add_predict(app);
  loid::cli::add_recommend(app);
  loid::cli::add_serve(app);
  loid::cli::add_bench(app);
  loid::cli::add_similarity(app);

  try {
    // Before any thread starts: LOID_MALLOC=tuned keeps training's large per-step buffers in the
    // process (core/allocator.h; opt-in, no wall-time gain measured).
    loid::tune_allocator_from_environment();
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const loid::cli::ExitCode& e) {
    return e.code;
  } catch (const loid::PeerLostError& e) {
    std::fprintf(stderr, "%s: error: %s\n", loid::cli::program_name().c_str(), e.what());
    return loid::kPeerLostExitCode;
  } catch (const loid::InputError& e) {
    std::fprintf(stderr, "%s: error: %s\n", loid::cli::program_name().c_str(), e.what());
    return 2;
  } catch (const loid::UsageError& e) {
    std::fprintf(stderr, "%s: usage error: %s\n", loid::cli::program_name().c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", loid::cli::program_name().c_str(), e.what());
    return 1;
  }
  return 0;
}
