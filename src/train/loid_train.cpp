// The LoID training pipeline (see loid_train.h).
#include "train/loid_train.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "core/temp_files.h"
#include "core/version.h"
#include "nn/device.h"
#include "nn/threads.h"
#include "nn/tensor_io.h"
#include "train/distributed.h"
#include "train/loid_stages.h"
#include "train/pretrain.h"
#include "train/run_config.h"
#include "train/run_report.h"
#include "io/json_file.h"

namespace loid {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string to_string(EncoderMode mode) {
  return mode == EncoderMode::kEndToEnd ? "end-to-end" : "frozen";
}

EncoderMode parse_encoder_mode(const std::string& name) {
  if (name == "frozen") return EncoderMode::kFrozen;
  if (name == "end-to-end") return EncoderMode::kEndToEnd;
  throw UsageError("unknown encoder mode '" + name + "' (frozen or end-to-end)");
}

namespace {

// Appends timestamped lines to RUN_DIR/train.log and mirrors them to the console log.
class RunLog {
 public:
  explicit RunLog(const std::string& path) : out_(path, std::ios::app) {
    if (!out_) throw InputError(path, 0, "cannot open the training log for writing");
  }
  void operator()(const std::string& line) {
    log_info(line);
    out_ << line << "\n";
    out_.flush();
  }

 private:
  std::ofstream out_;
};

void validate(const LoidTrainOptions& o) {
  if (o.data.empty()) throw UsageError("train: --data is required");
  if (o.out.empty()) throw UsageError("train: --out is required");
  if (o.batch_size < 2) throw UsageError("batch size must be at least 2 (triplet negatives)");
  if (o.lambda < 0 || o.margin < 0) throw UsageError("lambda and margin must be >= 0");
  if (o.fit_id_biases && !o.id_biases)
    throw UsageError("--fit-id-biases starts the ID biases from a fit; it needs --id-biases");
  if (o.split.train_fraction < 1.0 && o.protocol == Protocol::kPaperLeaky)
    throw UsageError(
        "--train-fraction needs the leak-free protocol (paper-leaky histories come "
        "from all reviews)");
  if (o.predictor == LoidPredictor::kMfText) {
    if (o.fit_id_biases)
      throw UsageError("--predictor mf+text fits its biases with the MF; drop --fit-id-biases");
    if (o.mf_factors.empty() || o.mf_regularization.empty())
      throw UsageError("--predictor mf+text needs non-empty --mf-factors and --mf-reg grids");
    for (int f : o.mf_factors)
      if (f < 0) throw UsageError("--mf-factors must be >= 0, got " + std::to_string(f));
  }
  if (o.encoder_mode == EncoderMode::kEndToEnd && o.compute_dtype != ComputeDtype::kFloat32)
    throw UsageError("--compute-dtype " + to_string(o.compute_dtype) +
                     " needs --encoder-mode frozen (end-to-end trains in fp32)");
  if (o.encoder_mode == EncoderMode::kEndToEnd && !o.reuse_text_stage.empty())
    throw UsageError("--reuse-text-stage needs --encoder-mode frozen");
  const Distributed& dist = distributed();
  if (dist.active()) {
    if (o.encoder_mode == EncoderMode::kEndToEnd)
      throw UsageError("several processes (--nproc, --world-size) run --encoder-mode frozen only");
    if (o.batch_size < dist.world() || o.relora.batch_size < dist.world())
      throw UsageError("the batch sizes must be at least the number of processes (" +
                       std::to_string(dist.world()) + ")");
  }
}

// The run directory: config.json pins every setting; --resume continues only the same run.
// Returns the metrics of a finished run when --resume finds one (nothing is left to do), else null
// after writing config.json.
json prepare_run_dir(const LoidTrainOptions& o, const json& settings, const RunSeeds& seeds,
                     json& full) {
  const std::string config_path = o.out + "/" + kRunConfig;
  if (file_exists(config_path)) {
    json old = json::parse(read_file(config_path));
    if (o.resume) {
      // A run may resume on another device: its state is saved from CPU copies.
      json old_settings = old.at("settings"), new_settings = settings;
      old_settings.erase("device");
      new_settings.erase("device");
      if (old_settings != new_settings)
        throw UsageError("--resume: " + config_path +
                         " was written with other settings; resume with the same options or "
                         "start a new run directory");
      if (file_exists(o.out + "/" + kRunMetrics)) {
        log_info("run " + o.out + " already finished; nothing to resume");
        return json::parse(read_file(o.out + "/" + kRunMetrics));
      }
      // What the interrupted call was writing when it was killed.
      for (const std::string& dir :
           {o.out, o.out + "/" + kRunCheckpoint, o.out + "/" + kRunTargetAdapter})
        remove_stale_temp_files(dir);
    } else if (!o.force) {
      throw UsageError(
          "run directory " + o.out +
          " already holds a run; use --resume to continue it or --force to replace it");
    } else {
      fs::remove_all(o.out);
    }
  } else {
    check_output_dir(o.out, o.force, "run directory");
  }
  make_dirs(o.out + "/" + kRunCheckpoint);
  const int threads = set_threads(o.threads);
  full = {{"command", "train"},
          {"version", version()},
          {"git", git_version()},
          {"threads_used", threads},
          {"processes", distributed().world()},
          {"device_used", device_name(resolve_device(o.device))},
          {"runtime", runtime_environment_json()},
          {"settings", settings},
          {"seeds", run_seeds_json(seeds)}};
  const FileFingerprint fp = file_fingerprint(o.data);
  full["data_fingerprint"] = {{"bytes", fp.bytes}, {"crc32", fp.crc32}};
  if (o.protocol == Protocol::kPaperLeaky)
    full["warning"] = "LEAKY: paper-leaky protocol, test reviews are visible to the model";
  write_json_file(config_path, full);
  return json();
}

// --reuse-text-stage: copies the Re-LoRA adapter and review vectors of another run whose text-stage
// settings equal this run's.
void reuse_text_stage(const LoidTrainOptions& o, const json& settings, json& full) {
  const std::string from = o.reuse_text_stage;
  const std::string their_path = from + "/" + kRunConfig;
  // Read through the typed settings, so a run written before a key existed compares with that
  // key's default.
  const LoidTrainOptions their_options =
      train_options_from_json(json::parse(read_file(their_path)).at("settings"), their_path);
  const json other = train_config_json(their_options);
  for (const char* key : kTextStageKeys) {
    if (other.at(key) != settings.at(key))
      throw UsageError("--reuse-text-stage " + from + ": its setting '" + key +
                       "' differs from this run's (" + other.at(key).dump() + " vs " +
                       settings.at(key).dump() + ")");
  }
  if (their_options.encoder_mode != EncoderMode::kFrozen)
    throw UsageError("--reuse-text-stage " + from + " was not a frozen-mode run");
  if (their_options.compute_dtype != o.compute_dtype)
    throw UsageError("--reuse-text-stage " + from + ": its compute dtype " +
                     to_string(their_options.compute_dtype) + " differs from this run's (" +
                     to_string(o.compute_dtype) + ")");
  if (!file_exists(from + "/" + kRunVectors))
    throw InputError(from + "/" + kRunVectors, 0,
                     "missing; the run has not reached its LoID stage");
  fs::copy_file(from + "/" + kRunVectors, o.out + "/" + kRunVectors,
                fs::copy_options::overwrite_existing);
  if (fs::exists(from + "/" + kRunTargetAdapter)) {
    make_dirs(o.out + "/" + kRunTargetAdapter);
    fs::copy(from + "/" + kRunTargetAdapter, o.out + "/" + kRunTargetAdapter,
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    fs::copy_file(from + "/" + kRunCheckpoint + "/relora.json",
                  o.out + "/" + kRunCheckpoint + "/relora.json",
                  fs::copy_options::overwrite_existing);
  }
  full["reused_text_stage_from"] = from;
  write_json_file(o.out + "/" + kRunConfig, full);
}

// metrics.json: the evaluation with the records of the other stages.
json run_metrics(const LoidTrainOptions& o, const TargetData& data, json evaluation,
                 const LoidFit& fit, const json& relora, const json& plugins) {
  const bool leaky = o.protocol == Protocol::kPaperLeaky;
  const DomainData& d = data.domain;
  json m = std::move(evaluation);
  m["protocol"] = protocol_name(o.protocol);
  m["leaky"] = leaky;
  m["best_epoch"] = fit.best_epoch;
  m["epochs_run"] = fit.epochs_run;
  m["curve"] = fit.curve;
  m["relora"] = relora;
  m["plugins"] = plugins;
  m["data"] = {{"reviews", d.dataset.num_reviews()},
               {"held_out_texts_seen_in_train", data.held_out_texts_seen},
               {"users", d.dataset.num_users()},
               {"items", d.dataset.num_items()},
               {"train", d.split.counts.train},
               {"validation", d.split.counts.validation},
               {"test", d.split.counts.test}};
  if (leaky)
    m["warning"] =
        "LEAKY: paper-leaky protocol; histories include validation and test reviews, so these "
        "metrics are not an honest estimate";
  return m;
}

}  // namespace

LoidTrainResult run_loid_train(const LoidTrainOptions& o, const LoidTrainHooks& hooks) {
  const auto start = std::chrono::steady_clock::now();
  validate(o);
  const torch::Device device = resolve_device(o.device);  // before the run directory is touched
  const std::string tag =
      o.protocol == Protocol::kPaperLeaky ? " [LEAKY: paper-leaky protocol]" : "";
  const json settings = train_config_json(o);
  const RunSeeds seeds = run_seeds(o.split.seed);
  json full;
  LoidTrainResult result;
  // Several processes: each must run the same settings on the same data; rank 0 alone writes the
  // run directory, the others read what they need from it (a shared directory, for --resume and
  // --reuse-text-stage) and are silent.
  Distributed& dist = distributed();
  if (dist.active()) {
    const FileFingerprint fp = file_fingerprint(o.data);
    dist.agree(
        "settings and data",
        json{{"settings", settings}, {"data", {{"bytes", fp.bytes}, {"crc32", fp.crc32}}}}.dump());
  }
  if (dist.main()) {
    result.metrics = prepare_run_dir(o, settings, seeds, full);
  } else {
    set_threads(o.threads);
    if (o.resume && file_exists(o.out + "/" + kRunMetrics))
      result.metrics = json::parse(read_file(o.out + "/" + kRunMetrics));
  }
  if (!result.metrics.is_null()) return result;  // --resume of a finished run
  std::unique_ptr<RunLog> log_file;
  if (dist.main()) log_file = std::make_unique<RunLog>(o.out + "/" + kRunLog);
  const StageLog log = [&log_file](const std::string& line) {
    if (log_file) (*log_file)(line);
  };
  if (!o.reuse_text_stage.empty()) {
    if (dist.main()) reuse_text_stage(o, settings, full);
    dist.barrier("waiting for rank 0 to copy the reused text stage");
    log("reusing the Re-LoRA adapter and review vectors of " + o.reuse_text_stage);
  }
  if (dist.active())
    log("processes: " + std::to_string(dist.world()) + " (rank 0 writes the run directory)");
  const bool resume_text = o.resume || !o.reuse_text_stage.empty();
  log(std::string("loid train ") + version() + " (" + git_version() + ")" + tag);

  if (!device.is_cpu()) log("device: " + device_name(device));
  const TargetData data = load_target_data(o, log);
  TargetEncoder target = load_target_encoder(o, seeds, device);
  const json relora = run_relora(target, data, o, seeds, o.out, resume_text, log);
  torch::Tensor vectors = review_vectors(target, data, o, o.out, resume_text, log);  // CPU
  LoidModel model = build_loid_model(o, data, vectors, seeds, !o.resume, log);
  // The LoID stage on the device: the model (its optimiser state follows in fit_loid) and the
  // review vector table its batches gather from.
  model->to(device);
  vectors = vectors.to(device);
  const LoidFit fit =
      fit_loid(model, target, data, vectors, o, seeds, o.out, o.resume, log, hooks.after_epoch);
  if (fit.interrupted) {
    result.interrupted = true;
    return result;
  }
  if (dist.main()) save_tensors(o.out + "/" + kRunModel, loid_model_state(*model));

  json metrics = run_metrics(o, data, evaluate_loid(model, data, vectors, o, seeds), fit, relora,
                             target.plugins);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics["seconds"] = result.seconds;
  metrics["processes"] = dist.world();
  result.metrics = metrics;
  if (dist.main()) {
    write_run_report(o.out, full, metrics);
    write_json_file(o.out + "/" + kRunMetrics, metrics);  // last: its presence marks a finished run
  }
  // Every rank leaves once the run directory is complete, so that what a job does next (a bench's
  // next cell) reads a finished run.
  dist.barrier("waiting for rank 0 to write the run");
  if (!dist.main()) return result;
  char line[160];
  std::snprintf(line, sizeof line, "test MSE %.4f, RMSE %.4f, MAE %.4f (%lld reviews) in %s",
                metrics["test"]["mse"].get<double>(), metrics["test"]["rmse"].get<double>(),
                metrics["test"]["mae"].get<double>(),
                static_cast<long long>(data.domain.split.counts.test),
                format_duration(result.seconds).c_str());
  log(line + tag);
  return result;
}

}  // namespace loid
