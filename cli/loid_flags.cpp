// The shared training flags (see loid_flags.h).
#include "loid_flags.h"

#include <cstdlib>

#include "core/error.h"
#include "train/distributed.h"

#include "data/context.h"
#include "nn/merge.h"
#include "read_options.h"

namespace loid::cli {

void add_encoder_flag(CLI::App& cmd, std::string& encoder_dir) {
  cmd.add_option("--encoder", encoder_dir,
                 "Encoder directory; default: the installed USE-Lite (models/use_lite)");
}

void add_threads_flag(CLI::App& cmd, int& threads) {
  cmd.add_option("--threads", threads, "Intra-op threads (0 = all cores)")->capture_default_str();
}

void add_device_flag(CLI::App& cmd, DeviceSpec& device) {
  cmd.add_option_function<std::string>(
         "--device", [&device](const std::string& s) { device = parse_device(s); },
         "Where the models compute: cpu, cuda (= cuda:0), cuda:N, or auto (the first GPU when "
         "one is visible, else the CPU). GPUs need a loid built against a CUDA libtorch")
      ->type_name("DEVICE")
      ->default_str(to_string(device));
}

void add_distributed_flags(CLI::App& cmd, DistOptions& o) {
  cmd.add_option("--nproc", o.nproc,
                 "Processes to run on this machine, data-parallel (c10d with Gloo on the "
                 "loopback; threads split among them)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--world-size", o.world_size,
                 "Join a job of this many processes started elsewhere (default: WORLD_SIZE)");
  cmd.add_option("--process-rank", o.process_rank,
                 "This process's rank in the job, 0 to world size - 1 (default: RANK)");
  cmd.add_option("--master", o.master,
                 "HOST:PORT of rank 0's rendezvous (default: MASTER_ADDR and MASTER_PORT)");
  cmd.add_option("--dist-timeout", o.timeout_seconds,
                 "Seconds a process waits for the others (joining, and in each collective) "
                 "before it stops with an error")
      ->capture_default_str();
}

namespace {
std::vector<std::string> g_program_args;
}  // namespace

void set_program_args(int argc, char** argv) {
  g_program_args.assign(argv, argv + argc);
}

std::string program_name() {
  const char* world = std::getenv("WORLD_SIZE");
  const char* rank = std::getenv("RANK");
  if (world != nullptr && rank != nullptr && std::atoi(world) > 1)
    return std::string("loid [rank ") + rank + "]";
  return "loid";
}

void launch_or_join(const DistOptions& o) {
  if (should_launch_local_ranks(o)) {
    if (!distributed_available())
      throw UsageError(
          "--nproc: this build of loid has no c10d with Gloo (libgloo-dev was missing at build "
          "time)");
    if (o.world_size > 1 || o.process_rank >= 0 || !o.master.empty())
      throw UsageError(
          "--nproc starts its own job on this machine; drop --world-size, "
          "--process-rank and --master");
    throw ExitCode{launch_local_ranks(o.nproc, "/proc/self/exe", g_program_args)};
  }
  bind_to_launcher();  // a rank of --nproc ends with its launcher
  join_distributed(resolve_dist_job(o));
}

void require_cpu_for_several_processes(const DeviceSpec& device) {
  if (distributed().active() && device.kind != DeviceSpec::Kind::kCpu)
    throw UsageError(
        "several processes run on the CPU only for now (their dropout masks are drawn as one CPU "
        "process draws them; a GPU's differ): use --device cpu with --nproc or --world-size");
}

void add_no_progress_flag(CLI::App& cmd, bool& progress) {
  cmd.add_flag_function(
      "--no-progress", [&progress](std::int64_t) { progress = false; },
      "Plain log lines instead of progress bars");
}

void add_split_ratios_flag(CLI::App& cmd, std::string& ratios) {
  cmd.add_option("--split-ratios", ratios, "train,validation,test fractions")
      ->capture_default_str();
}

void add_split_flags(CLI::App& cmd, SplitOptions& split, std::string& ratios) {
  cmd.add_option("--seed", split.seed,
                 "Split seed: the same split as `loid data split --seed`; also seeds training")
      ->capture_default_str();
  add_split_ratios_flag(cmd, ratios);
  add_train_fraction_flag(cmd, split);
}

void add_train_fraction_flag(CLI::App& cmd, SplitOptions& split) {
  cmd.add_option("--train-fraction", split.train_fraction,
                 "Keep this fraction of the training reviews (a seeded sample; validation and "
                 "test untouched), for learning curves")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
}

void add_lora_rank_flags(CLI::App& cmd, LoraConfig& lora, const std::string& rank_help) {
  cmd.add_option("--rank", lora.r, rank_help)->check(CLI::PositiveNumber)->capture_default_str();
  cmd.add_option("--alpha", lora.alpha, "LoRA alpha; adapters are scaled by alpha / r")
      ->capture_default_str();
}

void add_lora_flags(CLI::App& cmd, LoraConfig& lora) {
  add_lora_rank_flags(cmd, lora, "LoRA rank r (paper: 32; swept 16-48)");
  cmd.add_option("--lora-dropout", lora.dropout, "Dropout on the adapters' input")
      ->capture_default_str();
  cmd.add_option("--targets", lora.target_modules,
                 "Module-name patterns to adapt (PEFT suffix rule); default: the encoder's "
                 "attention and feed-forward layers")
      ->delimiter(',');
}

void add_merge_flag(CLI::App& cmd, PluginOptions& plugins, const std::string& help) {
  std::vector<std::string> choices = {"stack"};
  for (MergeMethod m : {MergeMethod::kLinear, MergeMethod::kCat, MergeMethod::kSvd,
                        MergeMethod::kTies, MergeMethod::kDareLinear, MergeMethod::kDareTies})
    choices.push_back(merge_method_name(m));
  cmd.add_option("--merge", plugins.merge, help)
      ->check(CLI::IsMember(choices))
      ->capture_default_str();
}

void add_regressor_size_flags(CLI::App& cmd, TextRegressorOptions& t, const std::string& prefix,
                              const std::string& what) {
  cmd.add_option(
         "--" + prefix + "epochs", t.epochs,
         what + ": passes over the training reviews" + (prefix.empty() ? "" : " (0 skips it)"))
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd.add_option("--" + prefix + "batch-size", t.batch_size, what + ": reviews per step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--" + prefix + "max-steps", t.max_steps,
                 what + ": steps per epoch at most (0 = whole epoch)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

void add_regressor_flags(CLI::App& cmd, TextRegressorOptions& t, const std::string& prefix,
                         const std::string& what) {
  add_regressor_size_flags(cmd, t, prefix, what);
  cmd.add_option("--" + prefix + "patience", t.patience,
                 what + ": epochs without validation gain before stopping")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--" + prefix + "lr", t.learning_rate, what + ": Adam learning rate")
      ->capture_default_str();
}

void add_loid_flags(CLI::App& cmd, LoidTrainOptions& o) {
  add_encoder_mode_option(cmd, o.encoder_mode);
  add_compute_dtype_option(cmd, o.compute_dtype);
  cmd.add_option("-k,--reviews", o.k, "Context reviews per user and per item (paper: 5)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--embed-size", o.embed_size, "ID embedding size; 0 = the encoder's width")
      ->capture_default_str();
  cmd.add_option("--heads", o.heads, "Attention heads")->capture_default_str();
  cmd.add_option("--hidden", o.hidden, "Prediction MLP hidden width")->capture_default_str();
  cmd.add_option("--dropout", o.dropout, "Dropout in the LoID model")->capture_default_str();
  cmd.add_option("--lambda", o.lambda, "Weight of the triplet loss (paper: 0.2; swept 0.2-0.5)")
      ->capture_default_str();
  cmd.add_flag("--id-biases", o.id_biases,
               "Add trained user and item biases to the prediction (not in the paper)");
  cmd.add_flag("--fit-id-biases", o.fit_id_biases,
               "With --id-biases: start from the biases-only model fitted on the training "
               "ratings, biases then fixed (MLP output at zero; kept as epoch 0 if no epoch beats "
               "it on validation). Not in the paper");
  cmd.add_option("--text-factors", o.text_factors,
                 "mf+text: text factors of this many whitened review-vector dimensions (0 = off): "
                 "each user's and item's MF factors plus a trained map of the mean of its context "
                 "reviews' vectors; the MF then trains on with them. Not in the paper")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd.add_option("--text-factor-reg", o.text_factor_regularization,
                 "mf+text: L2 weight on the text-factor maps")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd.add_option("--lr", o.learning_rate, "LoID Adam learning rate")->capture_default_str();
  cmd.add_option("--batch-size", o.batch_size, "LoID rows per step")
      ->check(CLI::Range(2, 1 << 20))
      ->capture_default_str();
  cmd.add_option("--epochs", o.epochs, "LoID epochs at most")->capture_default_str();
  cmd.add_option("--patience", o.patience, "LoID early-stopping patience (epochs)")
      ->capture_default_str();
}

std::vector<std::string> protocol_choices() {
  return {protocol_name(Protocol::kLeakFree), protocol_name(Protocol::kPaperLeaky)};
}

}  // namespace loid::cli
