// The stages of a LoID run (see loid_stages.h).
#include "train/loid_stages.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <unistd.h>
#include <utility>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "eval/metrics.h"
#include "nn/device.h"
#include "nn/encode.h"
#include "nn/lora_inject.h"
#include "nn/peft.h"
#include "nn/state_dict.h"
#include "nn/tensor_io.h"
#include "rec/mf.h"
#include "train/distributed.h"
#include "train/loid_batch.h"
#include "train/pretrain.h"
#include "train/target_adapter.h"
#include "train/text_regressor.h"
#include "io/json_file.h"

namespace loid {

namespace fs = std::filesystem;
using json = nlohmann::json;

// ---- Seeds --------------------------------------------------------------------------------------

RunSeeds run_seeds(std::uint64_t run_seed) {
  RunSeeds s;
  s.run = run_seed;
  s.target_adapter = run_seed;
  s.relora = run_seed;
  s.model = run_seed + 0x10;
  s.fitted_start = run_seed;
  s.contexts = run_seed;
  return s;
}

std::uint64_t RunSeeds::epoch_torch(int epoch) const {
  return run * 1000003ULL + 7919ULL * static_cast<std::uint64_t>(epoch);
}

Rng RunSeeds::epoch_rng(int epoch) const {
  return Rng(run).fork(0x6c6f6964ULL + static_cast<std::uint64_t>(epoch));
}

json run_seeds_json(const RunSeeds& s) {
  return {{"run", s.run},
          {"target_adapter", s.target_adapter},
          {"relora", s.relora},
          {"model", s.model},
          {"fitted_start", s.fitted_start},
          {"contexts", s.contexts},
          {"epoch",
           "torch: run * 1000003 + 7919 * epoch; rows and contexts: Rng(run).fork(0x6c6f6964 + "
           "epoch)"}};
}

SplitRows split_rows(const Dataset& d, const std::vector<std::int64_t>& ids) {
  SplitRows r;
  for (std::int64_t id : ids) {
    r.user.push_back(d.user_of(id));
    r.item.push_back(d.item_of(id));
    r.review.push_back(id);
    r.rating.push_back(d.review(id).rating);
  }
  return r;
}

namespace {

std::string leaky_tag(const LoidTrainOptions& o) {
  return o.protocol == Protocol::kPaperLeaky ? " [LEAKY: paper-leaky protocol]" : "";
}

// Every review id a context can show, ascending.
std::vector<std::int64_t> history_reviews(const Histories& h) {
  std::set<std::int64_t> s;
  for (const auto& l : h.by_user) s.insert(l.begin(), l.end());
  for (const auto& l : h.by_item) s.insert(l.begin(), l.end());
  return {s.begin(), s.end()};
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
  load_state_dict(*head, head_state, dir + "/" + kAdapterWeightsFile,
                  std::string(kRatingHeadName) + ".");
}

// The target adapter as a PEFT directory, with its provenance (and the Re-LoRA head when given).
// The run's target adapter as a PEFT directory (train/target_adapter.h), with its provenance and,
// after Re-LoRA, its rating head and the stage's record.
void write_run_adapter(const TargetEncoder& target, const LoidTrainOptions& o, RatingHead* head,
                       const json& record, const std::string& dir) {
  json metadata = {{"kind", "target_adapter"},
                   {"domain", o.data},
                   {"split_seed", o.split.seed},
                   {"plugins", target.plugins}};
  if (head)
    metadata["relora"] = record;
  else
    metadata["encoder_mode"] = "end-to-end";
  save_target_adapter(dir, target.encoder->module(), target.lora, target.dir,
                      head ? head->get() : nullptr, metadata);
}

void save_vectors(const std::string& path, const torch::Tensor& table,
                  const std::vector<std::int64_t>& visible) {
  const auto ids = torch::tensor(visible, torch::kInt64);
  save_tensors(path,
               {{"vectors", table.to(torch::kCPU).index_select(0, ids)}, {"review_ids", ids}});
}

json score(const std::vector<float>& pred, const std::vector<float>& truth) {
  const RatingMetrics m = rating_metrics(pred, truth);
  const ClassMetrics c = rounded_class_metrics(pred, truth);
  return metrics_json(m, &c);
}

// Metrics on the subset of rows selected by `keep`.
json score_subset(const std::vector<float>& pred, const SplitRows& rows,
                  const std::function<bool(std::size_t)>& keep) {
  std::vector<float> p, t;
  for (std::size_t j = 0; j < pred.size(); ++j) {
    if (!keep(j)) continue;
    p.push_back(pred[j]);
    t.push_back(rows.rating[j]);
  }
  return metrics_json(rating_metrics(p, t));
}

// Regularisation grid of --fit-id-biases (chosen on validation): the bias baseline's, widened
// upwards because its choice sits at 1.0, the top of that grid, on several splits.
const std::vector<double> kFitBiasRegularization = {0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0};

}  // namespace

// ---- Stage 1: data ------------------------------------------------------------------------------

TargetData load_target_data(const LoidTrainOptions& o, const StageLog& log) {
  const bool leaky = o.protocol == Protocol::kPaperLeaky;
  DomainData d = load_domain(o.data, o.split, o.read);
  log(describe_domain(d));
  const std::int64_t texts_seen = held_out_texts_seen_in_train(d);
  if (texts_seen > 0)
    log("warning: " + std::to_string(texts_seen) +
        " validation/test reviews repeat a training review's text word for word (the same "
        "review posted on several items); histories may show a held-out review's exact text");
  HistoryIndex index(d.dataset, d.split);
  Histories histories = leaky ? leaky_histories(d.dataset) : train_histories(index);
  std::vector<std::int64_t> visible = history_reviews(histories);
  std::int64_t visible_held_out = 0;
  for (std::int64_t r : visible)
    if (d.split.part[static_cast<std::size_t>(r)] != SplitPart::kTrain) ++visible_held_out;
  log("reviews a context can show: " + std::to_string(visible.size()) +
      ", of them validation/test: " + std::to_string(visible_held_out) + leaky_tag(o));
  if (!leaky && visible_held_out != 0) throw Error("internal error: held-out reviews in histories");
  SplitRows train = split_rows(d.dataset, d.split.train);
  SplitRows validation = split_rows(d.dataset, d.split.validation);
  return TargetData{std::move(d), std::move(index), std::move(histories), std::move(visible),
                    texts_seen,   std::move(train), std::move(validation)};
}

// ---- Stage 2: encoder ---------------------------------------------------------------------------

TargetEncoder load_target_encoder(const LoidTrainOptions& o, const RunSeeds& seeds,
                                  const torch::Device& device) {
  TargetEncoder t;
  t.dir = resolve_encoder_dir(o.encoder_dir);
  t.encoder = load_encoder_with_plugins(t.dir, o.plugins, &t.plugins);
  t.encoder->module().to(device);
  t.has_target = o.relora.epochs > 0 || o.encoder_mode == EncoderMode::kEndToEnd;
  t.lora = o.lora;
  if (t.has_target) {
    // The target's A matrices are drawn from torch's global generator, whose unseeded state is
    // random per process: seed it first, or no two runs would start from the same adapter.
    torch::manual_seed(seeds.target_adapter);
    const auto targets = inject_lora(*t.encoder, t.lora);
    if (t.lora.target_modules.empty()) t.lora.target_modules = targets;
  }
  for (auto& p : t.encoder->module().parameters()) p.requires_grad_(false);
  return t;
}

// ---- Stage 3: Re-LoRA ---------------------------------------------------------------------------

json run_relora(TargetEncoder& target, const TargetData& data, const LoidTrainOptions& o,
                const RunSeeds& seeds, const std::string& run_dir, bool resume,
                const StageLog& log) {
  json record = {{"epochs_run", 0}};
  Encoder& encoder = *target.encoder;
  if (o.relora.epochs > 0) {
    const std::string adapter_dir = run_dir + "/" + kRunTargetAdapter;
    const std::string done = run_dir + "/" + kRunCheckpoint + "/relora.json";
    float mean = 0.0f;
    for (float r : data.train.rating) mean += r;
    mean /= static_cast<float>(data.train.size());
    torch::manual_seed(seeds.relora);
    RatingHead head(encoder.width(), o.head_hidden, o.head_dropout, mean);
    if (resume && file_exists(done)) {
      load_target_adapter(encoder, head, adapter_dir);
      record = json::parse(read_file(done));
      log("Re-LoRA: resumed the finished target adapter from " + adapter_dir);
    } else {
      log("Re-LoRA: training a target adapter (r " + std::to_string(target.lora.r) + ") on " +
          std::to_string(data.train.size()) + " training reviews" +
          (o.plugins.dirs.empty() ? " (no plugin)"
                                  : " over " + std::to_string(o.plugins.dirs.size()) +
                                        " plugin(s), " + o.plugins.merge));
      TextRegressorOptions ro = o.relora;
      ro.seed = seeds.relora;
      ro.progress = o.progress;
      ro.dtype = o.compute_dtype;
      const DomainData& d = data.domain;
      const TextRegressorResult fit =
          train_text_regressor(encoder, head, d.texts(d.split.train), data.train.rating,
                               d.texts(d.split.validation), data.validation.rating, ro);
      json curve = json::array();
      for (const auto& e : fit.curve)
        curve.push_back({{"epoch", e.epoch},
                         {"train_mse", e.train_loss},
                         {"validation_mse", e.validation_mse},
                         {"seconds", e.seconds}});
      record = {{"epochs_run", fit.curve.size()},
                {"best_epoch", fit.best_epoch},
                {"validation_mse_before", fit.initial_validation_mse},
                {"validation_mse", fit.best_validation_mse},
                {"curve", curve}};
      if (distributed().main()) {  // rank 0 writes for the job
        write_run_adapter(target, o, &head, record, adapter_dir);
        write_json_file(done, record);
      }
      log("Re-LoRA: best epoch " + std::to_string(fit.best_epoch) + ", validation MSE " +
          std::to_string(fit.initial_validation_mse) + " -> " +
          std::to_string(fit.best_validation_mse));
    }
    for (auto& p : encoder.module().parameters()) p.requires_grad_(false);
  }
  encoder.module().eval();
  return record;
}

// ---- Stage 4: review vectors --------------------------------------------------------------------

torch::Tensor review_vector_table(Encoder& encoder, const DomainData& d,
                                  const std::vector<std::int64_t>& ids, bool progress,
                                  ComputeDtype dtype) {
  torch::NoGradGuard no_grad;
  const bool training = encoder.module().is_training();
  encoder.module().eval();
  EncodeOptions eo;
  eo.batch_size = 64;
  eo.progress = progress;
  eo.dtype = dtype;
  eo.fold_adapters = true;
  const torch::Tensor v = encode_texts_sharded(encoder, d.texts(ids), eo);  // over a job's ranks
  encoder.module().train(training);
  torch::Tensor table = torch::zeros({d.dataset.num_reviews(), encoder.width()}, torch::kFloat32);
  if (!ids.empty()) table.index_copy_(0, torch::tensor(ids, torch::kInt64), v);
  return table;
}

torch::Tensor review_vectors(const TargetEncoder& target, const TargetData& data,
                             const LoidTrainOptions& o, const std::string& run_dir, bool resume,
                             const StageLog& log) {
  const bool e2e = o.encoder_mode == EncoderMode::kEndToEnd;
  const std::string path = run_dir + "/" + kRunVectors;
  if (resume && !e2e && file_exists(path)) {
    auto st = load_tensors(path);
    auto table = torch::zeros({data.domain.dataset.num_reviews(), st.at("vectors").size(1)},
                              torch::kFloat32);
    table.index_copy_(0, st.at("review_ids"), st.at("vectors"));
    log("text vectors: resumed from " + path);
    return table;
  }
  log("text vectors: encoding " + std::to_string(data.visible.size()) + " reviews");
  auto table =
      review_vector_table(*target.encoder, data.domain, data.visible, o.progress, o.compute_dtype);
  if (!e2e && distributed().main()) save_vectors(path, table, data.visible);
  return table;
}

// ---- Stage 5: the model -------------------------------------------------------------------------

LoidModelOptions loid_model_options(const LoidTrainOptions& o, std::int64_t num_users,
                                    std::int64_t num_items, std::int64_t text_width,
                                    float mean_rating) {
  LoidModelOptions mo;
  mo.num_users = num_users;
  mo.num_items = num_items;
  mo.text_width = text_width;
  mo.embed_size = o.embed_size;
  mo.heads = o.heads;
  mo.hidden = o.hidden;
  mo.dropout = o.dropout;
  mo.id_biases = o.id_biases;
  mo.mean_rating = mean_rating;
  mo.predictor = o.predictor;
  if (o.predictor == LoidPredictor::kMfText) {
    mo.text_factors = o.text_factors;
    mo.text_factor_regularization = o.text_factor_regularization;
  }
  return mo;
}

namespace {

// Rows 0..n-1 of an embedding table are the known ids; the last row (unknown ids) stays at zero.
void set_rows(torch::Tensor& weight, const std::vector<float>& values) {
  const std::int64_t width = weight.size(1);
  const auto rows = static_cast<std::int64_t>(values.size()) / std::max<std::int64_t>(width, 1);
  if (rows == 0) return;
  weight.narrow(0, 0, rows).copy_(torch::tensor(values, torch::kFloat32).view({rows, width}));
}

// The classical model the LoID model starts from (--fit-id-biases: biases only; mf+text: biased MF
// with its size and regularisation chosen on validation).
BiasedMf fit_start_model(const LoidTrainOptions& o, const TargetData& data, const RunSeeds& seeds,
                         MfOptions& chosen) {
  const Dataset& ds = data.domain.dataset;
  const RatingRows tr{data.train.user, data.train.item, data.train.rating};
  const RatingRows va{data.validation.user, data.validation.item, data.validation.rating};
  MfOptions base;
  base.seed = seeds.fitted_start;
  if (o.predictor == LoidPredictor::kMfText)
    return select_mf(tr, va, ds.num_users(), ds.num_items(), o.mf_factors, o.mf_regularization,
                     base, &chosen);
  return select_mf(tr, va, ds.num_users(), ds.num_items(), {0}, kFitBiasRegularization, base,
                   &chosen);
}

}  // namespace

bool starts_from_fit(const LoidTrainOptions& o) {
  return o.fit_id_biases || o.predictor == LoidPredictor::kMfText;
}

LoidModel build_loid_model(const LoidTrainOptions& o, const TargetData& data,
                           const torch::Tensor& vectors, const RunSeeds& seeds, bool fit_start,
                           const StageLog& log) {
  const std::int64_t text_width = vectors.size(1);
  const Dataset& ds = data.domain.dataset;
  LoidModelOptions mo = loid_model_options(o, ds.num_users(), ds.num_items(), text_width,
                                           global_mean(data.train.rating));
  const bool mf = o.predictor == LoidPredictor::kMfText;
  // mf+text fits even when resuming: the fit decides the factor size (deterministic, seconds).
  const bool fit = starts_from_fit(o) && (fit_start || mf);
  MfOptions chosen;
  BiasedMf start;
  if (fit) {
    start = fit_start_model(o, data, seeds, chosen);
    mo.mf_factors = start.factors();
  }
  // With text factors the MF trains on with the text, under the fitted MF's own regularisation.
  const bool text_factors = mf && mo.text_factors > 0;
  if (text_factors) mo.mf_regularization = chosen.regularization;
  torch::manual_seed(seeds.model);
  LoidModel model(mo);
  // Otherwise the fitted terms are the regularised optimum; trained on without regularisation they
  // only overfit the training ratings, so they stay fixed and the rest learns the residual.
  if (starts_from_fit(o) && !text_factors) {
    model->user_bias->weight.set_requires_grad(false);
    model->item_bias->weight.set_requires_grad(false);
  }
  if (mf && !text_factors) {
    model->user_factors->weight.set_requires_grad(false);
    model->item_factors->weight.set_requires_grad(false);
  }
  // Whitening from the training reviews' vectors only (in end-to-end mode, the initial ones).
  if (text_factors)
    set_text_whitening(*model, vectors.index_select(0, torch::tensor(data.train.review)));
  if (!fit || !fit_start) return model;
  // Start from the fitted model; the MLP's output layer at zero adds nothing yet.
  torch::NoGradGuard no_grad;
  model->mean.fill_(start.mean());
  set_rows(model->user_bias->weight, start.user_biases());
  set_rows(model->item_bias->weight, start.item_biases());
  if (mf && start.factors() > 0) {
    set_rows(model->user_factors->weight, start.user_factors());
    set_rows(model->item_factors->weight, start.item_factors());
  }
  model->predictor_out->weight.zero_();
  model->predictor_out->bias.zero_();
  log(std::string("LoID: ") +
      (mf ? "biased MF (" + std::to_string(chosen.factors) + " factors, " : "biases (") +
      "regularisation " + std::to_string(chosen.regularization) +
      ") fitted on the training ratings, validation MSE " +
      std::to_string(start.best_validation_mse()) + "; the model starts from it");
  return model;
}

std::map<std::string, torch::Tensor> loid_model_state(const LoidModelImpl& model) {
  return state_dict(model);
}

// ---- Stage 6: the fit ---------------------------------------------------------------------------

namespace {

json fit_state_json(const LoidFit& s, int since_best) {
  return {{"epoch", s.epochs_run},
          {"best_epoch", s.best_epoch},
          {"best_validation_mse", s.best_validation_mse},
          {"since_best", since_best},
          {"curve", s.curve}};
}

void save_optimizer(const torch::optim::Optimizer& opt, const std::string& path) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());  // as AtomicOutput names it
  torch::save(opt, tmp);
  fs::rename(tmp, path);
}

// Checkpoint files carry the epoch they hold ("last_3.safetensors"); state.json, written last,
// commits an epoch, and the previous epoch's files are removed only after it. A process killed at
// any point thus leaves a state.json whose files are all there (with fixed names, a kill between
// the writes paired epoch e's state.json with epoch e + 1's weights and optimizer).
std::string checkpoint_file(const std::string& ck, const char* stem, int epoch, const char* ext) {
  return ck + "/" + stem + "_" + std::to_string(epoch) + ext;
}

// The Adam optimiser of the fit: the model, and the target adapter in end-to-end mode.
std::unique_ptr<torch::optim::Adam> make_optimizer(LoidModel& model, TargetEncoder& target,
                                                   const LoidTrainOptions& o) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(model->parameters(),
                      std::make_unique<torch::optim::AdamOptions>(
                          torch::optim::AdamOptions(o.learning_rate).weight_decay(o.weight_decay)));
  if (o.encoder_mode == EncoderMode::kEndToEnd) {
    std::vector<torch::Tensor> adapter = trainable_parameters(target.encoder->module());
    for (auto& p : adapter) p.requires_grad_(true);
    groups.emplace_back(adapter, std::make_unique<torch::optim::AdamOptions>(
                                     torch::optim::AdamOptions(o.e2e_learning_rate)));
  }
  return std::make_unique<torch::optim::Adam>(std::move(groups));
}

// What the fit's early stopping compares: the model, and the target adapter end to end.
struct FitState {
  LoidModel& model;
  TargetEncoder& target;
  bool e2e;
  std::map<std::string, torch::Tensor> snapshot() const {
    auto s = state_dict(*model, "model.");
    if (e2e) {
      auto a = adapter_state(target.encoder->module());
      s.insert(a.begin(), a.end());
    }
    return s;
  }
  void restore(const std::map<std::string, torch::Tensor>& s, const std::string& file) const {
    load_state_dict(*model, s, file, "model.");
    if (e2e) load_adapter_state(target.encoder->module(), s, file);
  }
};

// Context review ids of a batch as slots of a batch-local table (end-to-end mode): `local` is
// rewritten to index `distinct`, the ascending distinct ids.
std::vector<std::int64_t> localise_contexts(ContextBatch& local) {
  std::set<std::int64_t> set;
  for (auto id : local.user)
    if (id >= 0) set.insert(id);
  for (auto id : local.item)
    if (id >= 0) set.insert(id);
  std::vector<std::int64_t> distinct(set.begin(), set.end());
  std::map<std::int64_t, std::int64_t> slot;
  for (std::size_t j = 0; j < distinct.size(); ++j)
    slot[distinct[j]] = static_cast<std::int64_t>(j);
  for (auto& id : local.user)
    if (id >= 0) id = slot[id];
  for (auto& id : local.item)
    if (id >= 0) id = slot[id];
  return distinct;
}

struct EpochLoss {
  double mse = 0.0, triplet = 0.0;  // means over steps
  std::int64_t steps = 0;
};

// One pass over the training rows in a seeded order.
EpochLoss train_epoch(int epoch, LoidModel& model, TargetEncoder& target, const TargetData& data,
                      const ContextSampler& sampler, const torch::Tensor& vectors,
                      torch::optim::Optimizer& optimizer, const LoidTrainOptions& o,
                      const RunSeeds& seeds) {
  const bool e2e = o.encoder_mode == EncoderMode::kEndToEnd;
  const SplitRows& train = data.train;
  // Everything random in an epoch derives from (seed, epoch): a resumed run replays it exactly.
  torch::manual_seed(seeds.epoch_torch(epoch));
  Rng rng = seeds.epoch_rng(epoch);
  std::vector<std::int64_t> order(train.size());
  std::iota(order.begin(), order.end(), 0);
  shuffle(order, rng);
  model->train();
  if (e2e) target.encoder->module().train();
  const auto batch = static_cast<std::size_t>(o.batch_size);
  Progress progress("LoID epoch " + std::to_string(epoch),
                    static_cast<std::int64_t>((order.size() + batch - 1) / batch), o.progress);
  double mse_sum = 0.0, triplet_sum = 0.0;
  EpochLoss loss;
  Distributed& dist = distributed();
  std::vector<torch::Tensor> params;  // what the optimiser steps, in its order
  for (const auto& group : optimizer.param_groups())
    for (const auto& p : group.params()) params.push_back(p);
  const bool check_ranks = check_ranks_each_step();
  for (std::size_t s = 0; s < order.size(); s += batch) {
    const std::size_t e = std::min(order.size(), s + batch);
    if (e - s < 2) break;  // a single-row tail has no triplet negative
    std::vector<std::int64_t> u, i, r;
    std::vector<float> y;
    for (std::size_t j = s; j < e; ++j) {
      u.push_back(train.user[order[j]]);
      i.push_back(train.item[order[j]]);
      r.push_back(train.review[order[j]]);
      y.push_back(train.rating[order[j]]);
    }
    ContextBatch contexts = sampler.training(u, i, r, rng);
    torch::Tensor table = vectors;
    if (e2e) {
      // Encode each distinct context review of the batch once, with gradients.
      const std::vector<std::int64_t> distinct = localise_contexts(contexts);
      Encoder& enc = *target.encoder;
      table = distinct.empty() ? torch::zeros({1, enc.width()}, vectors.options())
                               : enc.forward(enc.tokenize(data.domain.texts(distinct))).vectors;
    }
    const LoidInputs in = make_inputs(u, i, contexts, table);
    optimizer.zero_grad();
    double lm = 0.0, lt = 0.0;
    if (!dist.active()) {
      const LoidOutput out = model->forward(in.users, in.items, in.user_text, in.user_mask,
                                            in.item_text, in.item_mask);
      const auto mse_loss =
          torch::mse_loss(out.prediction, torch::tensor(y, torch::kFloat32).to(vectors.device()));
      const auto trip = triplet_loss(out, o.margin);
      (mse_loss + o.lambda * trip + model->penalty(in.users, in.items)).backward();
      lm = mse_loss.item<double>();
      lt = trip.item<double>();
    } else {
      // This rank's rows of the global batch; every loss term summed over them and divided by
      // the global batch size, so that the ranks' gradients add up to one process's.
      const auto b = static_cast<std::int64_t>(e - s);
      auto [lo, hi] = dist.shard(b);
      // Fewer rows than ranks: every rank runs them all (the random draws stay in step) and
      // rank 0's copy alone counts.
      const bool replicate = b < dist.world();
      if (replicate) lo = 0, hi = b;
      const double weight = replicate && !dist.main() ? 0.0 : 1.0;
      const auto rows = [lo = lo, hi = hi](const torch::Tensor& t) {
        return t.narrow(0, lo, hi - lo);
      };
      const BatchRowsScope scope(b, lo, hi - lo);
      const LoidOutput out =
          model->forward(rows(in.users), rows(in.items), rows(in.user_text), rows(in.user_mask),
                         rows(in.item_text), rows(in.item_mask));
      // Each row's triplet negatives: the ID embeddings of the row before it (triplet_loss's roll).
      const auto before = (torch::arange(lo, hi, torch::kInt64) + (b - 1)).remainder(b);
      const auto& mi = *model;
      const auto negative_p_u = model->user_embedding(mi.clamp_ids(
          in.users.index_select(0, before.to(in.users.device())), mi.options().num_users));
      const auto negative_p_i = model->item_embedding(mi.clamp_ids(
          in.items.index_select(0, before.to(in.items.device())), mi.options().num_items));
      const auto target = rows(torch::tensor(y, torch::kFloat32)).to(vectors.device());
      const auto squared = (out.prediction - target).pow(2).sum();
      const auto trip = triplet_loss_sum(out, negative_p_u, negative_p_i, o.margin);
      auto penalty = model->penalty_rows_sum(rows(in.users), rows(in.items)) / double(b);
      if (dist.main()) penalty = penalty + model->penalty_global();  // counted once in the sum
      (((squared + o.lambda * trip) / double(b) + penalty) * weight).backward();
      dist.allreduce_gradients(params);
      std::vector<torch::Tensor> sums{
          torch::stack({squared.detach(), trip.detach()}).to(torch::kCPU, torch::kFloat64) *
          weight};
      dist.allreduce_sum(sums, "the loss sums");
      lm = sums[0][0].item<double>() / double(b);
      lt = sums[0][1].item<double>() / double(b);
      if (check_ranks) {
        const double d = dist.max_parameter_difference(params);
        if (d != 0.0)
          throw Error("distributed: the ranks' parameters differ by " + std::to_string(d) +
                      " before step " + std::to_string(loss.steps + 1) + " of epoch " +
                      std::to_string(epoch));
      }
    }
    optimizer.step();
    if (!std::isfinite(lm) || !std::isfinite(lt))
      throw Error("training diverged at epoch " + std::to_string(epoch) + "; try a lower --lr");
    mse_sum += lm;
    triplet_sum += lt;
    ++loss.steps;
    char note[64];
    std::snprintf(note, sizeof note, "mse %.4f triplet %.4f", mse_sum / loss.steps,
                  triplet_sum / loss.steps);
    progress.advance(1, note);
  }
  progress.finish();
  if (loss.steps > 0) {
    loss.mse = mse_sum / loss.steps;
    loss.triplet = triplet_sum / loss.steps;
  }
  return loss;
}

// Review ids the fixed validation contexts show (end-to-end mode re-encodes only these).
std::vector<std::int64_t> validation_visible(const TargetData& data, const ContextSampler& sampler,
                                             const RunSeeds& seeds) {
  std::set<std::int64_t> s;
  const ContextBatch cb =
      sampler.evaluation(data.validation.user, data.validation.item, seeds.contexts);
  for (auto id : cb.user)
    if (id >= 0) s.insert(id);
  for (auto id : cb.item)
    if (id >= 0) s.insert(id);
  return {s.begin(), s.end()};
}

}  // namespace

LoidFit fit_loid(LoidModel& model, TargetEncoder& target, const TargetData& data,
                 torch::Tensor& vectors, const LoidTrainOptions& o, const RunSeeds& seeds,
                 const std::string& run_dir, bool resume, const StageLog& log,
                 const std::function<bool(int)>& after_epoch) {
  const bool e2e = o.encoder_mode == EncoderMode::kEndToEnd;
  const std::string tag = leaky_tag(o);
  const ContextSampler sampler(data.histories, o.k, o.protocol);
  auto optimizer = make_optimizer(model, target, o);
  const FitState state{model, target, e2e};
  const std::string ck = run_dir + "/" + kRunCheckpoint;
  auto validation_mse = [&] {
    // In a job every rank takes rank 0's figure, so that all stop alike (train/distributed.h).
    return distributed().same_everywhere(
        rating_metrics(predict_rows(model, sampler, data.validation.user, data.validation.item,
                                    vectors, seeds.contexts),
                       data.validation.rating)
            .mse);
  };

  LoidFit fit;
  int since_best = 0;
  std::map<std::string, torch::Tensor> best;
  if (resume && file_exists(ck + "/state.json")) {
    const json s = json::parse(read_file(ck + "/state.json"));
    fit.epochs_run = s.at("epoch");
    fit.best_epoch = s.at("best_epoch");
    fit.best_validation_mse = s.at("best_validation_mse");
    since_best = s.at("since_best");
    fit.curve = s.at("curve");
    // Checkpoints written before the files carried their epoch have the fixed names.
    const auto file = [&](const char* stem, const char* ext) {
      const std::string p = checkpoint_file(ck, stem, fit.epochs_run, ext);
      return file_exists(p) ? p : ck + "/" + stem + ext;
    };
    state.restore(load_tensors(file("last", ".safetensors")), file("last", ".safetensors"));
    // Onto the model's device, whichever device the interrupted run used.
    torch::load(*optimizer, file("optimizer", ".pt"), vectors.device());
    best = load_tensors(file("best", ".safetensors"));
    log("LoID: resumed after epoch " + std::to_string(fit.epochs_run));
  } else {
    fit.best_validation_mse = std::numeric_limits<double>::infinity();
    best = state.snapshot();
    if (starts_from_fit(o)) {
      // The starting point (the fitted biases or MF, text part at zero) competes as epoch 0.
      fit.best_validation_mse = validation_mse();
      log(std::string("LoID epoch 0 (") +
          (o.predictor == LoidPredictor::kMfText ? "MF" : "biases") + " only): validation MSE " +
          std::to_string(fit.best_validation_mse));
    }
  }

  const std::vector<std::int64_t> eval_visible =
      e2e ? validation_visible(data, sampler, seeds) : std::vector<std::int64_t>{};
  bool stop = since_best >= o.patience && fit.epochs_run > 0;
  for (int epoch = fit.epochs_run + 1; epoch <= o.epochs && !stop; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    const double collective_before = distributed().collective_seconds();
    const EpochLoss loss =
        train_epoch(epoch, model, target, data, sampler, vectors, *optimizer, o, seeds);
    const double collective_seconds = distributed().collective_seconds() - collective_before;
    if (e2e)  // back on the model's device (the table is made on the CPU)
      vectors = review_vector_table(*target.encoder, data.domain, eval_visible, false)
                    .to(module_device(*model));
    const double val_mse = validation_mse();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    fit.curve.push_back({{"epoch", epoch},
                         {"train_mse", loss.mse},
                         {"train_triplet", loss.triplet},
                         {"validation_mse", val_mse},
                         {"seconds", seconds}});
    fit.epochs_run = epoch;
    char line[160];
    std::snprintf(line, sizeof line,
                  "LoID epoch %d: train MSE %.4f, triplet %.4f, validation MSE %.4f (%s)", epoch,
                  loss.mse, loss.triplet, val_mse, format_duration(seconds).c_str());
    std::string note;
    if (distributed().active() && loss.steps > 0)
      note = "; " + std::to_string(distributed().world()) + " processes, " +
             std::to_string(
                 static_cast<int>(1e6 * collective_seconds / static_cast<double>(loss.steps))) +
             " us a step in collectives";
    log(line + note + tag);
    if (val_mse < fit.best_validation_mse) {
      fit.best_validation_mse = val_mse;
      fit.best_epoch = epoch;
      since_best = 0;
      best = state.snapshot();
    } else if (++since_best >= o.patience) {
      stop = true;
    }
    // Checkpoint: last state, best state, optimizer, loop state (written last: it commits), then
    // the previous epoch's files (or those of the fixed names) go.
    // In a job of several processes rank 0 writes; the others hold the same state.
    if (distributed().main()) {
      save_tensors(checkpoint_file(ck, "last", epoch, ".safetensors"), state.snapshot());
      save_tensors(checkpoint_file(ck, "best", epoch, ".safetensors"), best);
      save_optimizer(*optimizer, checkpoint_file(ck, "optimizer", epoch, ".pt"));
      write_json_file(ck + "/state.json", fit_state_json(fit, since_best));
      const std::pair<const char*, const char*> files[] = {
          {"last", ".safetensors"}, {"best", ".safetensors"}, {"optimizer", ".pt"}};
      for (const auto& [stem, ext] : files) {
        std::remove(checkpoint_file(ck, stem, epoch - 1, ext).c_str());
        std::remove((ck + "/" + stem + ext).c_str());
      }
    }
    if (after_epoch && !stop && epoch < o.epochs && !after_epoch(epoch)) {
      fit.interrupted = true;
      return fit;
    }
  }
  state.restore(best, "best checkpoint");
  log("LoID: best epoch " + std::to_string(fit.best_epoch) + " (validation MSE " +
      std::to_string(fit.best_validation_mse) + ")");
  if (e2e) {
    // The final adapter and the vectors it gives, for evaluation and serving.
    vectors = review_vector_table(*target.encoder, data.domain, data.visible, o.progress)
                  .to(module_device(*model));
    save_vectors(run_dir + "/" + kRunVectors, vectors, data.visible);
    write_run_adapter(target, o, nullptr, json(), run_dir + "/" + kRunTargetAdapter);
  }
  return fit;
}

// ---- Stage 7: evaluation ------------------------------------------------------------------------

json evaluate_loid(LoidModel& model, const TargetData& data, const torch::Tensor& vectors,
                   const LoidTrainOptions& o, const RunSeeds& seeds) {
  const ContextSampler sampler(data.histories, o.k, o.protocol);
  const SplitRows& validation = data.validation;
  const auto val_pred =
      predict_rows(model, sampler, validation.user, validation.item, vectors, seeds.contexts);
  const SplitRows test = split_rows(data.domain.dataset, data.domain.split.test);
  const auto test_pred =
      predict_rows(model, sampler, test.user, test.item, vectors, seeds.contexts);
  auto user_count = [&](std::size_t j) { return data.index.user_history(test.user[j]).size(); };
  auto item_count = [&](std::size_t j) { return data.index.item_history(test.item[j]).size(); };
  auto subset = [&](const std::function<bool(std::size_t)>& keep) {
    return score_subset(test_pred, test, keep);
  };
  return {
      {"test", score(test_pred, test.rating)},
      {"validation", score(val_pred, validation.rating)},
      {"cold_start",
       {{"users_fewer_than_3_train_reviews",
         subset([&](std::size_t j) { return user_count(j) < 3; })},
        {"users_without_train_reviews", subset([&](std::size_t j) { return user_count(j) == 0; })},
        {"items_fewer_than_3_train_reviews",
         subset([&](std::size_t j) { return item_count(j) < 3; })},
        {"items_without_train_reviews",
         subset([&](std::size_t j) { return item_count(j) == 0; })}}},
  };
}

}  // namespace loid
