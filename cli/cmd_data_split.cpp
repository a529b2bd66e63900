// PLACEHOLDER (replaced by its owner): registers `split` so the executable links during development.
#include "commands.h"
#include "core/error.h"

namespace loid::cli {
void add_data_split(CLI::App& data) {
  data.add_subcommand("split", "(not yet implemented)")->callback([] {
    throw loid::UsageError("'split' is not implemented yet");
  });
}
}  // namespace loid::cli
