// PLACEHOLDER (replaced by its owner): registers `stats` so the executable links during development.
#include "commands.h"
#include "core/error.h"

namespace loid::cli {
void add_data_stats(CLI::App& data) {
  data.add_subcommand("stats", "(not yet implemented)")->callback([] {
    throw loid::UsageError("'stats' is not implemented yet");
  });
}
}  // namespace loid::cli
