// Subcommand registration. Each cli/cmd_*.cpp adds its subcommand(s) to the app; the callbacks only
// turn flags into an options struct and call one library function.
#pragma once

#include <CLI/CLI.hpp>

namespace loid::cli {

// Group subcommands created in main.cpp and handed to the registration functions.
struct Groups {
  CLI::App* data = nullptr;  // `loid data ...`
};

void add_adapter(CLI::App& app);      // loid adapter (info, merge, fold)
void add_data_stats(CLI::App& data);  // loid data stats
void add_data_split(CLI::App& data);  // loid data split
void add_data_synth(CLI::App& data);  // loid data synth
void add_demo(CLI::App& app);         // loid demo
void add_encode(CLI::App& app);       // loid encode
void add_models(CLI::App& app);       // loid models (list, install)
void add_pretrain(CLI::App& app);     // loid pretrain
void add_train(CLI::App& app);        // loid train
void add_eval(CLI::App& app);         // loid eval
void add_predict(CLI::App& app);      // loid predict
void add_recommend(CLI::App& app);    // loid recommend
void add_serve(CLI::App& app);        // loid serve
void add_bench(CLI::App& app);        // loid bench
void add_similarity(CLI::App& app);   // loid similarity

}  // namespace loid::cli
