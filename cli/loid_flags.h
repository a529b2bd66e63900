// The flags `loid train`, `loid bench`, `loid pretrain` and `loid demo` share (LoID, LoRA, Re-LoRA,
// split, encoder, threads), defined once so that they are spelled, documented and checked alike.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "core/device.h"
#include "core/launch.h"
#include "data/split.h"
#include "nn/lora.h"
#include "train/loid_train.h"
#include "train/setup.h"
#include "train/text_regressor.h"

namespace loid::cli {

// Every flag writes into the object given, which must outlive parsing.

// --encoder: the encoder directory ("" = the installed default).
void add_encoder_flag(CLI::App& cmd, std::string& encoder_dir);
// --threads: intra-op threads (0 = all cores).
void add_threads_flag(CLI::App& cmd, int& threads);
// --device cpu|cuda|cuda:N|auto (core/device.h), parsed as the flag is read.
void add_device_flag(CLI::App& cmd, DeviceSpec& device);
// --nproc, --world-size, --process-rank, --master and --dist-timeout (core/launch.h).
void add_distributed_flags(CLI::App& cmd, DistOptions& options);

// Called first in the callback of a command with add_distributed_flags. With --nproc N > 1 (and
// this process not one of the ranks): starts the N ranks, waits for them and throws ExitCode with
// the job's exit status. Otherwise joins the job that the flags and environment describe (no-op
// for one process) and returns; the command then does its work as its rank.
void launch_or_join(const DistOptions& options);

// After launch_or_join: several processes need --device cpu (UsageError otherwise).
void require_cpu_for_several_processes(const DeviceSpec& device);

// Thrown to end the program with `code` after the work was done elsewhere (the launcher).
struct ExitCode {
  int code = 0;
};

// main() records its arguments here, for the launcher to start copies of the same command.
void set_program_args(int argc, char** argv);

// "loid", or "loid [rank R]" in a job of several processes (error messages).
std::string program_name();

// --no-progress: sets `progress` to false.
void add_no_progress_flag(CLI::App& cmd, bool& progress);

// --split-ratios as text, its default the value `ratios` holds (kDefaultSplitRatios); the
// command's callback parses it with parse_split_ratios.
void add_split_ratios_flag(CLI::App& cmd, std::string& ratios);
// --seed (into split.seed) and --split-ratios.
// --train-fraction into split.train_fraction (learning curves).
void add_train_fraction_flag(CLI::App& cmd, SplitOptions& split);
void add_split_flags(CLI::App& cmd, SplitOptions& split, std::string& ratios);

// --rank and --alpha.
void add_lora_rank_flags(CLI::App& cmd, LoraConfig& lora, const std::string& rank_help);
// --rank, --alpha, --lora-dropout and --targets.
void add_lora_flags(CLI::App& cmd, LoraConfig& lora);

// --merge: stack, or one of the merge methods of nn/merge.h.
void add_merge_flag(CLI::App& cmd, PluginOptions& plugins, const std::string& help);

// --PREFIXepochs, --PREFIXbatch-size and --PREFIXmax-steps of a text regressor stage (`what`
// names it in the help: "training", "Re-LoRA").
void add_regressor_size_flags(CLI::App& cmd, TextRegressorOptions& t, const std::string& prefix,
                              const std::string& what);
// The size flags and --PREFIXpatience and --PREFIXlr.
void add_regressor_flags(CLI::App& cmd, TextRegressorOptions& t, const std::string& prefix,
                         const std::string& what);

// The LoID model and training flags of `loid train` and `loid bench`: -k/--reviews, --embed-size,
// --heads, --hidden, --dropout, --lambda, --id-biases, --fit-id-biases, --lr, --batch-size,
// --epochs, --patience, --encoder-mode and --compute-dtype.
void add_loid_flags(CLI::App& cmd, LoidTrainOptions& o);

// The choices of --protocol, from the library's names.
std::vector<std::string> protocol_choices();

}  // namespace loid::cli
