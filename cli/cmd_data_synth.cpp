// PLACEHOLDER (replaced by its owner): registers `synth` so the executable links during development.
#include "commands.h"
#include "core/error.h"

namespace loid::cli {
void add_data_synth(CLI::App& data) {
  data.add_subcommand("synth", "(not yet implemented)")->callback([] {
    throw loid::UsageError("'synth' is not implemented yet");
  });
}
}  // namespace loid::cli
