// PLACEHOLDER (replaced by its owner): registers `models` so the executable links during development.
#include "commands.h"
#include "core/error.h"

namespace loid::cli {
void add_models(CLI::App& app) {
  app.add_subcommand("models", "(not yet implemented)")->callback([] {
    throw loid::UsageError("'models' is not implemented yet");
  });
}
}  // namespace loid::cli
