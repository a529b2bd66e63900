// PLACEHOLDER (replaced by its owner): registers `encode` so the executable links during development.
#include "commands.h"
#include "core/error.h"

namespace loid::cli {
void add_encode(CLI::App& app) {
  app.add_subcommand("encode", "(not yet implemented)")->callback([] {
    throw loid::UsageError("'encode' is not implemented yet");
  });
}
}  // namespace loid::cli
