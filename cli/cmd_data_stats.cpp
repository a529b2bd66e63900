// `loid data stats FILE...`: reads review files and prints their statistics (text or JSON).
#include <iostream>
#include <memory>

#include "commands.h"
#include "data/stats.h"
#include "read_options.h"

namespace loid::cli {

void add_data_stats(CLI::App& data) {
  auto opts = std::make_shared<loid::StatsOptions>();
  CLI::App* cmd = data.add_subcommand(
      "stats",
      "Read review files (JSON lines, Python-literal lines, TSV/CSV; plain or gzip) and "
      "print records, users, items, ratings, text lengths and skipped lines");
  cmd->add_option("files", opts->files, "Review files")->required();
  cmd->add_flag("--json", opts->json, "Print JSON (an array when several files)");
  add_read_options(*cmd, opts->read);
  cmd->callback([opts] { loid::run_data_stats(*opts, std::cout); });
}

}  // namespace loid::cli
