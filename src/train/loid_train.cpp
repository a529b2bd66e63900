// The LoID training pipeline (see loid_train.h).
#include "train/loid_train.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/version.h"
#include "data/history.h"
#include "nn/encode.h"
#include "nn/lora_inject.h"
#include "nn/peft.h"
#include "nn/tensor_io.h"
#include "rec/loid_model.h"
#include "rec/mf.h"
#include "train/loid_batch.h"
#include "train/pretrain.h"
#include "train/run_config.h"
#include "train/run_report.h"

namespace loid {

namespace fs = std::filesystem;
using json = nlohmann::json;

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

std::map<std::string, torch::Tensor> state_of(const torch::nn::Module& m,
                                              const std::string& prefix = "") {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[prefix + p.key()] = p.value().detach().clone();
  for (const auto& b : m.named_buffers()) out[prefix + b.key()] = b.value().detach().clone();
  return out;
}

void load_state(torch::nn::Module& m, const std::map<std::string, torch::Tensor>& state,
                const std::string& file, const std::string& prefix = "") {
  torch::NoGradGuard no_grad;
  auto copy = [&](const std::string& name, torch::Tensor t) {
    auto it = state.find(prefix + name);
    if (it == state.end()) throw InputError(file, 0, "missing tensor '" + prefix + name + "'");
    if (it->second.sizes() != t.sizes())
      throw InputError(file, 0, "tensor '" + prefix + name + "' has the wrong shape");
    t.copy_(it->second);
  };
  for (auto& p : m.named_parameters()) copy(p.key(), p.value());
  for (auto& b : m.named_buffers()) copy(b.key(), b.value());
}

// The trainable adapter tensors of an encoder by name, for checkpoints.
std::map<std::string, torch::Tensor> adapter_state(torch::nn::Module& encoder_module) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [path, layer] : lora_layers(encoder_module)) {
    if (!layer->has_target()) continue;
    const auto p = layer->target_parameters();
    out["adapter." + path + ".A"] = p[0].detach().clone();
    out["adapter." + path + ".B"] = p[1].detach().clone();
  }
  return out;
}

void load_adapter_state(torch::nn::Module& encoder_module,
                        const std::map<std::string, torch::Tensor>& state,
                        const std::string& file) {
  torch::NoGradGuard no_grad;
  for (const auto& [path, layer] : lora_layers(encoder_module)) {
    if (!layer->has_target()) continue;
    auto p = layer->target_parameters();
    for (int j = 0; j < 2; ++j) {
      const std::string key = "adapter." + path + (j == 0 ? ".A" : ".B");
      auto it = state.find(key);
      if (it == state.end()) throw InputError(file, 0, "missing tensor '" + key + "'");
      p[j].copy_(it->second);
    }
  }
}

// Loads a PEFT target adapter written by this pipeline back into the encoder's target layers.
void load_target_adapter(Encoder& encoder, RatingHead& head, const std::string& dir) {
  const PeftAdapter a = load_peft(dir);
  torch::NoGradGuard no_grad;
  for (const auto& [path, layer] : lora_layers(encoder.module())) {
    if (!layer->has_target()) continue;
    auto it = a.modules.find(path);
    if (it == a.modules.end()) throw InputError(dir, 0, "adapter lacks module " + path);
    auto p = layer->target_parameters();
    p[0].copy_(it->second[0]);
    p[1].copy_(it->second[1]);
  }
  std::map<std::string, torch::Tensor> head_state;
  for (const auto& [name, t] : a.saved) head_state[name] = t;
  load_state(*head, head_state, dir + "/" + kAdapterWeightsFile, std::string(kRatingHeadName) + ".");
}

void write_json(const std::string& path, const json& j) { write_file_atomic(path, j.dump(2) + "\n"); }

// Every review id a context can show, ascending.
std::vector<std::int64_t> history_reviews(const Histories& h) {
  std::set<std::int64_t> s;
  for (const auto& l : h.by_user) s.insert(l.begin(), l.end());
  for (const auto& l : h.by_item) s.insert(l.begin(), l.end());
  return {s.begin(), s.end()};
}

// (R, D) table with the vectors of `ids` encoded, zeros elsewhere.
torch::Tensor vector_table(Encoder& encoder, const DomainData& d,
                           const std::vector<std::int64_t>& ids, bool progress,
                           ComputeDtype dtype = ComputeDtype::kFloat32) {
  torch::NoGradGuard no_grad;
  const bool training = encoder.module().is_training();
  encoder.module().eval();
  EncodeOptions eo;
  eo.batch_size = 64;
  eo.progress = progress;
  eo.dtype = dtype;
  eo.fold_adapters = true;
  const torch::Tensor v = encode_texts(encoder, d.texts(ids), eo);
  encoder.module().train(training);
  torch::Tensor table = torch::zeros({d.dataset.num_reviews(), encoder.width()}, torch::kFloat32);
  if (!ids.empty()) table.index_copy_(0, torch::tensor(ids, torch::kInt64), v);
  return table;
}

// Regularisation grid of --fit-id-biases (chosen on validation): the bias baseline's, widened
// upwards because its choice sits at 1.0, the top of that grid, on several splits.
const std::vector<double> kFitBiasRegularization = {0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0};

struct Rows {
  std::vector<std::int64_t> user, item, review;
  std::vector<float> rating;
};
Rows rows_of(const Dataset& d, const std::vector<std::int64_t>& ids) {
  Rows r;
  for (std::int64_t id : ids) {
    r.user.push_back(d.user_of(id));
    r.item.push_back(d.item_of(id));
    r.review.push_back(id);
    r.rating.push_back(d.review(id).rating);
  }
  return r;
}

json score(const std::vector<float>& pred, const std::vector<float>& truth) {
  const RatingMetrics m = rating_metrics(pred, truth);
  const ClassMetrics c = rounded_class_metrics(pred, truth);
  return metrics_json(m, &c);
}

// Test metrics on the subset of rows selected by `keep`.
json score_subset(const std::vector<float>& pred, const Rows& rows,
                  const std::function<bool(std::size_t)>& keep) {
  std::vector<float> p, t;
  for (std::size_t j = 0; j < pred.size(); ++j) {
    if (!keep(j)) continue;
    p.push_back(pred[j]);
    t.push_back(rows.rating[j]);
  }
  return metrics_json(rating_metrics(p, t));
}

struct LoopState {
  int epoch = 0;  // epochs finished
  int best_epoch = 0;
  double best_validation_mse = 0.0;
  int since_best = 0;
  json curve = json::array();
};

json state_json(const LoopState& s) {
  return {{"epoch", s.epoch},
          {"best_epoch", s.best_epoch},
          {"best_validation_mse", s.best_validation_mse},
          {"since_best", s.since_best},
          {"curve", s.curve}};
}

LoopState state_from(const json& j) {
  LoopState s;
  s.epoch = j.at("epoch");
  s.best_epoch = j.at("best_epoch");
  s.best_validation_mse = j.at("best_validation_mse");
  s.since_best = j.at("since_best");
  s.curve = j.at("curve");
  return s;
}

void save_optimizer(const torch::optim::Optimizer& opt, const std::string& path) {
  const std::string tmp = path + ".tmp";
  torch::save(opt, tmp);
  fs::rename(tmp, path);
}

}  // namespace

LoidTrainResult run_loid_train(const LoidTrainOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (o.data.empty()) throw UsageError("train: --data is required");
  if (o.out.empty()) throw UsageError("train: --out is required");
  if (o.encoder_mode != "frozen" && o.encoder_mode != "end-to-end")
    throw UsageError("unknown encoder mode '" + o.encoder_mode + "' (frozen or end-to-end)");
  if (o.batch_size < 2) throw UsageError("batch size must be at least 2 (triplet negatives)");
  if (o.lambda < 0 || o.margin < 0) throw UsageError("lambda and margin must be >= 0");
  if (o.fit_id_biases && !o.id_biases)
    throw UsageError("--fit-id-biases starts the ID biases from a fit; it needs --id-biases");
  const bool e2e = o.encoder_mode == "end-to-end";
  if (e2e && o.compute_dtype != ComputeDtype::kFloat32)
    throw UsageError("--compute-dtype " + to_string(o.compute_dtype) +
                     " needs --encoder-mode frozen (end-to-end trains in fp32)");
  const bool leaky = o.protocol == Protocol::kPaperLeaky;
  const std::string tag = leaky ? " [LEAKY: paper-leaky protocol]" : "";

  // The run directory: config.json pins every setting; --resume continues only the same run.
  json config = train_config_json(o);
  const std::string config_path = o.out + "/" + kRunConfig;
  if (file_exists(config_path)) {
    json old = json::parse(read_file(config_path));
    if (o.resume) {
      if (old.at("settings") != config)
        throw UsageError("--resume: " + config_path +
                         " was written with other settings; resume with the same options or "
                         "start a new run directory");
      if (file_exists(o.out + "/" + kRunMetrics)) {
        log_info("run " + o.out + " already finished; nothing to resume");
        LoidTrainResult done;
        done.metrics = json::parse(read_file(o.out + "/" + kRunMetrics));
        return done;
      }
    } else if (!o.force) {
      throw UsageError("run directory " + o.out +
                       " already holds a run; use --resume to continue it or --force to replace it");
    } else {
      fs::remove_all(o.out);
    }
  } else {
    check_output_dir(o.out, o.force, "run directory");
  }
  make_dirs(o.out + "/" + kRunCheckpoint);
  const int threads = set_threads(o.threads);
  json full = {{"command", "train"},
               {"version", version()},
               {"git", git_version()},
               {"threads_used", threads},
               {"runtime", runtime_environment_json()},
               {"settings", config}};
  {
    const FileFingerprint fp = file_fingerprint(o.data);
    full["data_fingerprint"] = {{"bytes", fp.bytes}, {"crc32", fp.crc32}};
  }
  if (leaky) full["warning"] = "LEAKY: paper-leaky protocol, test reviews are visible to the model";
  write_json(config_path, full);
  RunLog log(o.out + "/" + kRunLog);
  bool reused = false;
  if (!o.reuse_text_stage.empty()) {
    if (e2e) throw UsageError("--reuse-text-stage needs --encoder-mode frozen");
    const std::string from = o.reuse_text_stage;
    const std::string their_path = from + "/" + kRunConfig;
    // Read through the typed settings, so a run written before a key existed compares with that
    // key's default.
    const LoidTrainOptions their_options =
        train_options_from_json(json::parse(read_file(their_path)).at("settings"), their_path);
    const json other = train_config_json(their_options);
    for (const char* key : kTextStageKeys) {
      const json& theirs = other.at(key);
      if (theirs != config.at(key))
        throw UsageError("--reuse-text-stage " + from + ": its setting '" + key +
                         "' differs from this run's (" + theirs.dump() + " vs " +
                         config.at(key).dump() + ")");
    }
    if (their_options.encoder_mode != "frozen")
      throw UsageError("--reuse-text-stage " + from + " was not a frozen-mode run");
    if (their_options.compute_dtype != o.compute_dtype)
      throw UsageError("--reuse-text-stage " + from + ": its compute dtype " +
                       to_string(their_options.compute_dtype) + " differs from this run's (" +
                       to_string(o.compute_dtype) + ")");
    if (!file_exists(from + "/" + kRunVectors))
      throw InputError(from + "/" + kRunVectors, 0, "missing; the run has not reached its LoID stage");
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
    write_json(config_path, full);
    log("reusing the Re-LoRA adapter and review vectors of " + from);
    reused = true;
  }
  const bool resume_text = o.resume || reused;
  log(std::string("loid train ") + version() + " (" + git_version() + ")" + tag);

  // Data, split and histories.
  DomainData d = load_domain(o.data, o.split, o.read);
  log(describe_domain(d));
  const std::int64_t texts_seen = held_out_texts_seen_in_train(d);
  if (texts_seen > 0)
    log("warning: " + std::to_string(texts_seen) +
        " validation/test reviews repeat a training review's text word for word (the same "
        "review posted on several items); histories may show a held-out review's exact text");
  const HistoryIndex index(d.dataset, d.split);
  const Histories histories = leaky ? leaky_histories(d.dataset) : train_histories(index);
  const ContextSampler sampler(histories, o.k, o.protocol);
  const std::vector<std::int64_t> visible = history_reviews(histories);
  std::int64_t visible_held_out = 0;
  for (std::int64_t r : visible)
    if (d.split.part[static_cast<std::size_t>(r)] != SplitPart::kTrain) ++visible_held_out;
  log("reviews a context can show: " + std::to_string(visible.size()) +
      ", of them validation/test: " + std::to_string(visible_held_out) + tag);
  if (!leaky && visible_held_out != 0) throw Error("internal error: held-out reviews in histories");

  // Stage 1: encoder with plugins and Re-LoRA target.
  const std::string encoder_dir = resolve_encoder_dir(o.encoder_dir);
  json plugin_record;
  auto encoder = load_encoder_with_plugins(encoder_dir, o.plugins, &plugin_record);
  const bool has_target = o.relora.epochs > 0 || e2e;
  LoraConfig lora = o.lora;
  if (has_target) {
    // The target's A matrices are drawn from torch's global generator, whose unseeded state is
    // random per process: seed it first, or no two runs would start from the same adapter.
    torch::manual_seed(o.split.seed);
    const auto targets = inject_lora(*encoder, lora);
    if (lora.target_modules.empty()) lora.target_modules = targets;
  }
  for (auto& p : encoder->module().parameters()) p.requires_grad_(false);
  const Rows train = rows_of(d.dataset, d.split.train);
  const Rows validation = rows_of(d.dataset, d.split.validation);
  json relora_json = {{"epochs_run", 0}};
  const std::string adapter_dir = o.out + "/" + kRunTargetAdapter;
  const std::string relora_done = o.out + "/" + kRunCheckpoint + "/relora.json";
  if (o.relora.epochs > 0) {
    float mean = 0.0f;
    for (float r : train.rating) mean += r;
    mean /= static_cast<float>(train.rating.size());
    torch::manual_seed(o.split.seed);
    RatingHead head(encoder->width(), o.head_hidden, o.head_dropout, mean);
    if (resume_text && file_exists(relora_done)) {
      load_target_adapter(*encoder, head, adapter_dir);
      relora_json = json::parse(read_file(relora_done));
      log("Re-LoRA: resumed the finished target adapter from " + adapter_dir);
    } else {
      log("Re-LoRA: training a target adapter (r " + std::to_string(lora.r) + ") on " +
          std::to_string(train.rating.size()) + " training reviews" +
          (o.plugins.dirs.empty() ? " (no plugin)"
                                  : " over " + std::to_string(o.plugins.dirs.size()) +
                                        " plugin(s), " + o.plugins.merge));
      TextRegressorOptions ro = o.relora;
      ro.progress = o.progress;
      ro.dtype = o.compute_dtype;
      const TextRegressorResult fit =
          train_text_regressor(*encoder, head, d.texts(d.split.train), train.rating,
                               d.texts(d.split.validation), validation.rating, ro);
      json curve = json::array();
      for (const auto& e : fit.curve)
        curve.push_back({{"epoch", e.epoch},
                         {"train_mse", e.train_loss},
                         {"validation_mse", e.validation_mse},
                         {"seconds", e.seconds}});
      relora_json = {{"epochs_run", fit.curve.size()},
                     {"best_epoch", fit.best_epoch},
                     {"validation_mse_before", fit.initial_validation_mse},
                     {"validation_mse", fit.best_validation_mse},
                     {"curve", curve}};
      PeftAdapter adapter = extract_target(encoder->module());
      adapter.config = lora;
      adapter.base_model = fs::path(encoder_dir).lexically_normal().filename();
      adapter.modules_to_save = {kRatingHeadName};
      for (const auto& [name, t] : state_of(*head, std::string(kRatingHeadName) + "."))
        adapter.saved[name] = t;
      adapter.metadata = {{"kind", "target_adapter"},
                          {"domain", o.data},
                          {"split_seed", o.split.seed},
                          {"plugins", plugin_record},
                          {"relora", relora_json}};
      save_peft(adapter_dir, adapter);
      write_json(relora_done, relora_json);
      log("Re-LoRA: best epoch " + std::to_string(fit.best_epoch) + ", validation MSE " +
          std::to_string(fit.initial_validation_mse) + " -> " +
          std::to_string(fit.best_validation_mse));
    }
    for (auto& p : encoder->module().parameters()) p.requires_grad_(false);
  }
  encoder->module().eval();

  // Stage 2: text vectors of every review a context can show.
  const std::string vectors_path = o.out + "/" + kRunVectors;
  torch::Tensor vectors;
  if (resume_text && !e2e && file_exists(vectors_path)) {
    auto st = load_tensors(vectors_path);
    vectors = torch::zeros({d.dataset.num_reviews(), st.at("vectors").size(1)}, torch::kFloat32);
    vectors.index_copy_(0, st.at("review_ids"), st.at("vectors"));
    log("text vectors: resumed from " + vectors_path);
  } else {
    log("text vectors: encoding " + std::to_string(visible.size()) + " reviews");
    vectors = vector_table(*encoder, d, visible, o.progress, o.compute_dtype);
    if (!e2e) {
      const auto ids = torch::tensor(visible, torch::kInt64);
      save_tensors(vectors_path, {{"vectors", vectors.index_select(0, ids)}, {"review_ids", ids}});
    }
  }

  // Stage 3: the LoID model.
  LoidModelOptions mo;
  mo.num_users = d.dataset.num_users();
  mo.num_items = d.dataset.num_items();
  mo.text_width = encoder->width();
  mo.embed_size = o.embed_size;
  mo.heads = o.heads;
  mo.hidden = o.hidden;
  mo.dropout = o.dropout;
  mo.id_biases = o.id_biases;
  {
    double mean = 0.0;
    for (float r : train.rating) mean += r;
    mo.mean_rating = static_cast<float>(mean / static_cast<double>(train.rating.size()));
  }
  torch::manual_seed(o.split.seed + 0x10);
  LoidModel model(mo);
  if (o.fit_id_biases) {
    // The fitted biases are the regularised optimum; trained on without regularisation they only
    // overfit the training ratings, so they stay fixed and the rest learns the residual.
    model->user_bias->weight.set_requires_grad(false);
    model->item_bias->weight.set_requires_grad(false);
  }
  if (o.fit_id_biases && !o.resume) {
    // Start from the biases-only model; the MLP's last layer at zero adds nothing yet.
    const RatingRows tr{train.user, train.item, train.rating};
    const RatingRows va{validation.user, validation.item, validation.rating};
    MfOptions base;
    base.seed = o.split.seed;
    MfOptions chosen;
    const BiasedMf b = select_mf(tr, va, d.dataset.num_users(), d.dataset.num_items(), {0},
                                 kFitBiasRegularization, base, &chosen);
    torch::NoGradGuard no_grad;
    model->mean.fill_(b.mean());
    // Rows 0..n-1 are the known ids; the last row (unknown ids) stays at zero.
    auto set_rows = [](torch::Tensor& weight, const std::vector<float>& values) {
      weight.narrow(0, 0, static_cast<std::int64_t>(values.size()))
          .copy_(torch::tensor(values, torch::kFloat32).unsqueeze(1));
    };
    set_rows(model->user_bias->weight, b.user_biases());
    set_rows(model->item_bias->weight, b.item_biases());
    auto last = model->predictor->ptr<torch::nn::LinearImpl>(3);
    last->weight.zero_();
    last->bias.zero_();
    log("LoID: biases fitted on the training ratings (regularisation " +
        std::to_string(chosen.regularization) + ", validation MSE " +
        std::to_string(b.best_validation_mse()) + "); the model starts from them");
  }
  std::vector<torch::Tensor> adapter_params;
  if (e2e) {
    adapter_params = trainable_parameters(encoder->module());
    for (auto& p : adapter_params) p.requires_grad_(true);
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(model->parameters(), std::make_unique<torch::optim::AdamOptions>(
                                               torch::optim::AdamOptions(o.learning_rate)
                                                   .weight_decay(o.weight_decay)));
  if (e2e)
    groups.emplace_back(adapter_params, std::make_unique<torch::optim::AdamOptions>(
                                            torch::optim::AdamOptions(o.e2e_learning_rate)));
  torch::optim::Adam optimizer(std::move(groups));

  const std::string ck = o.out + "/" + kRunCheckpoint;
  auto snapshot = [&]() {
    auto s = state_of(*model, "model.");
    if (e2e) {
      auto a = adapter_state(encoder->module());
      s.insert(a.begin(), a.end());
    }
    return s;
  };
  auto restore = [&](const std::map<std::string, torch::Tensor>& s, const std::string& file) {
    load_state(*model, s, file, "model.");
    if (e2e) load_adapter_state(encoder->module(), s, file);
  };

  LoopState ls;
  std::map<std::string, torch::Tensor> best;
  if (o.resume && file_exists(ck + "/state.json")) {
    ls = state_from(json::parse(read_file(ck + "/state.json")));
    restore(load_tensors(ck + "/last.safetensors"), ck + "/last.safetensors");
    torch::load(optimizer, ck + "/optimizer.pt");
    best = load_tensors(ck + "/best.safetensors");
    log("LoID: resumed after epoch " + std::to_string(ls.epoch));
  } else {
    ls.best_validation_mse = std::numeric_limits<double>::infinity();
    best = snapshot();
    if (o.fit_id_biases) {
      // The starting point (the biases-only model) competes as epoch 0.
      ls.best_validation_mse = rating_metrics(predict_rows(model, sampler, validation.user,
                                                           validation.item, vectors, o.split.seed),
                                              validation.rating)
                                   .mse;
      log("LoID epoch 0 (biases only): validation MSE " + std::to_string(ls.best_validation_mse));
    }
  }

  // Vectors for validation in end-to-end mode: only what the evaluation contexts show.
  std::vector<std::int64_t> eval_visible;
  if (e2e) {
    std::set<std::int64_t> s;
    const ContextBatch cb = sampler.evaluation(validation.user, validation.item, o.split.seed);
    for (auto id : cb.user)
      if (id >= 0) s.insert(id);
    for (auto id : cb.item)
      if (id >= 0) s.insert(id);
    eval_visible.assign(s.begin(), s.end());
  }

  const std::uint64_t context_seed = o.split.seed;
  bool stop = ls.since_best >= o.patience && ls.epoch > 0;
  int epochs_this_call = 0;
  for (int epoch = ls.epoch + 1; epoch <= o.epochs && !stop; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    // Everything random in an epoch derives from (seed, epoch): a resumed run replays it exactly.
    torch::manual_seed(o.split.seed * 1000003ULL + 7919ULL * static_cast<std::uint64_t>(epoch));
    Rng rng = Rng(o.split.seed).fork(0x6c6f6964ULL + static_cast<std::uint64_t>(epoch));
    std::vector<std::int64_t> order(train.rating.size());
    std::iota(order.begin(), order.end(), 0);
    shuffle(order, rng);
    model->train();
    if (e2e) encoder->module().train();
    const std::int64_t steps = (static_cast<std::int64_t>(order.size()) + o.batch_size - 1) / o.batch_size;
    Progress progress("LoID epoch " + std::to_string(epoch), steps, o.progress);
    double mse_sum = 0.0, triplet_sum = 0.0;
    std::int64_t done = 0;
    for (std::size_t s = 0; s < order.size(); s += static_cast<std::size_t>(o.batch_size)) {
      const std::size_t e = std::min(order.size(), s + static_cast<std::size_t>(o.batch_size));
      if (e - s < 2) break;  // a single-row tail has no triplet negative
      std::vector<std::int64_t> u, i, r;
      std::vector<float> y;
      for (std::size_t j = s; j < e; ++j) {
        u.push_back(train.user[order[j]]);
        i.push_back(train.item[order[j]]);
        r.push_back(train.review[order[j]]);
        y.push_back(train.rating[order[j]]);
      }
      const ContextBatch cb = sampler.training(u, i, r, rng);
      torch::Tensor table = vectors;
      std::vector<std::int64_t> distinct;
      ContextBatch local = cb;
      if (e2e) {
        // Encode each distinct context review of the batch once, with gradients.
        std::set<std::int64_t> set;
        for (auto id : cb.user)
          if (id >= 0) set.insert(id);
        for (auto id : cb.item)
          if (id >= 0) set.insert(id);
        distinct.assign(set.begin(), set.end());
        std::map<std::int64_t, std::int64_t> slot;
        for (std::size_t j = 0; j < distinct.size(); ++j) slot[distinct[j]] = static_cast<std::int64_t>(j);
        for (auto& id : local.user)
          if (id >= 0) id = slot[id];
        for (auto& id : local.item)
          if (id >= 0) id = slot[id];
        table = distinct.empty() ? torch::zeros({1, encoder->width()})
                                 : encoder->forward(encoder->tokenize(d.texts(distinct))).vectors;
      }
      const LoidInputs in = make_inputs(u, i, local, table);
      optimizer.zero_grad();
      const LoidOutput out =
          model->forward(in.users, in.items, in.user_text, in.user_mask, in.item_text, in.item_mask);
      const auto mse_loss = torch::mse_loss(out.prediction, torch::tensor(y, torch::kFloat32));
      const auto trip = triplet_loss(out, o.margin);
      const auto loss = mse_loss + o.lambda * trip;
      loss.backward();
      optimizer.step();
      const double lm = mse_loss.item<double>(), lt = trip.item<double>();
      if (!std::isfinite(lm) || !std::isfinite(lt))
        throw Error("training diverged at epoch " + std::to_string(epoch) +
                    "; try a lower --lr");
      mse_sum += lm;
      triplet_sum += lt;
      ++done;
      char note[64];
      std::snprintf(note, sizeof note, "mse %.4f triplet %.4f", mse_sum / done, triplet_sum / done);
      progress.advance(1, note);
    }
    progress.finish();
    if (e2e) {
      encoder->module().eval();
      torch::Tensor fresh = vector_table(*encoder, d, eval_visible, false);
      vectors = fresh;
    }
    const auto val_pred =
        predict_rows(model, sampler, validation.user, validation.item, vectors, context_seed);
    const double val_mse = rating_metrics(val_pred, validation.rating).mse;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    ls.curve.push_back({{"epoch", epoch},
                        {"train_mse", done ? mse_sum / done : 0.0},
                        {"train_triplet", done ? triplet_sum / done : 0.0},
                        {"validation_mse", val_mse},
                        {"seconds", seconds}});
    ls.epoch = epoch;
    char line[160];
    std::snprintf(line, sizeof line,
                  "LoID epoch %d: train MSE %.4f, triplet %.4f, validation MSE %.4f (%s)", epoch,
                  done ? mse_sum / done : 0.0, done ? triplet_sum / done : 0.0, val_mse,
                  format_duration(seconds).c_str());
    log(line + tag);
    if (val_mse < ls.best_validation_mse) {
      ls.best_validation_mse = val_mse;
      ls.best_epoch = epoch;
      ls.since_best = 0;
      best = snapshot();
    } else if (++ls.since_best >= o.patience) {
      stop = true;
    }
    // Checkpoint: last state, best state, optimizer, loop state (written last: it commits).
    save_tensors(ck + "/last.safetensors", snapshot());
    save_tensors(ck + "/best.safetensors", best);
    save_optimizer(optimizer, ck + "/optimizer.pt");
    write_json(ck + "/state.json", state_json(ls));
    if (o.stop_after_epochs > 0 && ++epochs_this_call >= o.stop_after_epochs && !stop &&
        epoch < o.epochs) {
      LoidTrainResult interrupted;
      interrupted.interrupted = true;
      return interrupted;
    }
  }
  restore(best, "best checkpoint");
  log("LoID: best epoch " + std::to_string(ls.best_epoch) + " (validation MSE " +
      std::to_string(ls.best_validation_mse) + ")");

  if (e2e) {
    // The final adapter and the vectors it gives, for evaluation and serving.
    encoder->module().eval();
    vectors = vector_table(*encoder, d, visible, o.progress);
    const auto ids = torch::tensor(visible, torch::kInt64);
    save_tensors(vectors_path, {{"vectors", vectors.index_select(0, ids)}, {"review_ids", ids}});
    PeftAdapter adapter = extract_target(encoder->module());
    adapter.config = lora;
    adapter.base_model = fs::path(encoder_dir).lexically_normal().filename();
    adapter.metadata = {{"kind", "target_adapter"},
                        {"domain", o.data},
                        {"split_seed", o.split.seed},
                        {"plugins", plugin_record},
                        {"encoder_mode", "end-to-end"}};
    save_peft(adapter_dir, adapter);
  }
  save_tensors(o.out + "/" + kRunModel, state_of(*model));

  // Validation and test, the test split read here once.
  const auto val_pred =
      predict_rows(model, sampler, validation.user, validation.item, vectors, context_seed);
  const Rows test = rows_of(d.dataset, d.split.test);
  const auto test_pred = predict_rows(model, sampler, test.user, test.item, vectors, context_seed);
  auto train_count_user = [&](std::size_t j) { return index.user_history(test.user[j]).size(); };
  auto train_count_item = [&](std::size_t j) { return index.item_history(test.item[j]).size(); };
  json metrics = {
      {"protocol", protocol_name(o.protocol)},
      {"leaky", leaky},
      {"test", score(test_pred, test.rating)},
      {"validation", score(val_pred, validation.rating)},
      {"cold_start",
       {{"users_fewer_than_3_train_reviews",
         score_subset(test_pred, test, [&](std::size_t j) { return train_count_user(j) < 3; })},
        {"users_without_train_reviews",
         score_subset(test_pred, test, [&](std::size_t j) { return train_count_user(j) == 0; })},
        {"items_fewer_than_3_train_reviews",
         score_subset(test_pred, test, [&](std::size_t j) { return train_count_item(j) < 3; })},
        {"items_without_train_reviews",
         score_subset(test_pred, test, [&](std::size_t j) { return train_count_item(j) == 0; })}}},
      {"best_epoch", ls.best_epoch},
      {"epochs_run", ls.epoch},
      {"curve", ls.curve},
      {"relora", relora_json},
      {"plugins", plugin_record},
      {"data", {{"reviews", d.dataset.num_reviews()},
                {"held_out_texts_seen_in_train", texts_seen},
                {"users", d.dataset.num_users()},
                {"items", d.dataset.num_items()},
                {"train", d.split.counts.train},
                {"validation", d.split.counts.validation},
                {"test", d.split.counts.test}}},
  };
  if (leaky)
    metrics["warning"] =
        "LEAKY: paper-leaky protocol; histories include validation and test reviews, so these "
        "metrics are not an honest estimate";
  LoidTrainResult result;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics["seconds"] = result.seconds;
  result.metrics = metrics;
  write_run_report(o.out, full, metrics);
  write_json(o.out + "/" + kRunMetrics, metrics);  // last: its presence marks a finished run
  char line[160];
  std::snprintf(line, sizeof line, "test MSE %.4f, RMSE %.4f, MAE %.4f (%zu reviews) in %s",
                metrics["test"]["mse"].get<double>(), metrics["test"]["rmse"].get<double>(),
                metrics["test"]["mae"].get<double>(), test.rating.size(),
                format_duration(result.seconds).c_str());
  log(line + tag);
  return result;
}

}  // namespace loid
