// PLACEHOLDER (replaced by its owner): registers `demo` so the executable links during development.
#include "commands.h"
#include "core/error.h"

namespace loid::cli {
void add_demo(CLI::App& app) {
  app.add_subcommand("demo", "(not yet implemented)")->callback([] {
    throw loid::UsageError("'demo' is not implemented yet");
  });
}
}  // namespace loid::cli
