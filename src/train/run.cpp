// Loading a finished run for inference (see run.h).
#include "train/run.h"

#include <algorithm>
#include <numeric>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "data/reader.h"
#include "eval/metrics.h"
#include "nn/device.h"
#include "nn/encode.h"
#include "nn/peft.h"
#include "nn/state_dict.h"
#include "nn/tensor_io.h"
#include "train/loid_batch.h"
#include "train/loid_stages.h"
#include "train/loid_train.h"
#include "train/pretrain.h"
#include "train/run_config.h"
#include "train/setup.h"

namespace loid {

using json = nlohmann::json;

namespace {

json load_json(const std::string& path) {
  if (!file_exists(path))
    throw InputError(path, 0, "missing; is this a finished `loid train` run directory?");
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw InputError(path, 0, std::string("not valid JSON: ") + e.what());
  }
}

}  // namespace

LoadedRun::~LoadedRun() = default;

LoadedRun::LoadedRun(const std::string& run_dir, const DeviceSpec& encoder_device)
    : dir_(run_dir), encoder_device_(encoder_device) {
  resolve_device(encoder_device_);  // a device this machine lacks is an error now, not later
  config_ = load_json(dir_ + "/" + kRunConfig);
  metrics_ = load_json(dir_ + "/" + kRunMetrics);
  const std::string config_path = dir_ + "/" + kRunConfig;
  if (!config_.contains("settings"))
    throw InputError(config_path, 0, "missing or malformed key 'settings'");
  settings_ = train_options_from_json(config_.at("settings"), config_path);
  const LoidTrainOptions& s = settings_;
  const std::string& data = s.data;
  if (config_.contains("data_fingerprint")) {
    const FileFingerprint fp = file_fingerprint(data);
    std::uint64_t bytes = 0;
    std::uint32_t crc32 = 0;
    try {
      bytes = config_.at("data_fingerprint").at("bytes").get<std::uint64_t>();
      crc32 = config_.at("data_fingerprint").at("crc32").get<std::uint32_t>();
    } catch (const json::exception& e) {
      throw InputError(
          config_path, 0,
          std::string("missing or malformed key 'data_fingerprint' (") + e.what() + ")");
    }
    if (fp.bytes != bytes || fp.crc32 != crc32)
      throw InputError(data, 0,
                       "changed since the run " + dir_ +
                           " was trained; ids, splits and histories would not match");
  }
  const SplitOptions& so = s.split;
  const DomainData d = load_domain(data, so, s.read);
  dataset_ = d.dataset;
  split_ = d.split;
  index_ = std::make_unique<HistoryIndex>(dataset_, split_);
  protocol_ = s.protocol;
  histories_ =
      protocol_ == Protocol::kPaperLeaky ? leaky_histories(dataset_) : train_histories(*index_);
  sampler_ = std::make_unique<ContextSampler>(histories_, s.k, protocol_);
  context_seed_ = so.seed;

  const std::string vpath = dir_ + "/" + kRunVectors;
  auto st = load_tensors(vpath);
  if (!st.count("vectors") || !st.count("review_ids"))
    throw InputError(vpath, 0, "needs tensors 'vectors' and 'review_ids'");
  vectors_ = torch::zeros({dataset_.num_reviews(), st["vectors"].size(1)}, torch::kFloat32);
  if (st["review_ids"].numel() > 0 &&
      (st["review_ids"].max().item<std::int64_t>() >= dataset_.num_reviews() ||
       st["review_ids"].min().item<std::int64_t>() < 0))
    throw InputError(vpath, 0, "review ids out of range for " + data);
  vectors_.index_copy_(0, st["review_ids"], st["vectors"]);

  // The mean is a buffer, overwritten by the saved model below.
  LoidModelOptions mo =
      loid_model_options(s, dataset_.num_users(), dataset_.num_items(), vectors_.size(1), 3.0f);
  const std::string mpath = dir_ + "/" + kRunModel;
  const auto state = load_tensors(mpath);
  if (mo.predictor == LoidPredictor::kMfText) {
    // The factor size was chosen on validation during training: the saved table tells it.
    const auto it = state.find("user_factors.weight");
    if (it == state.end()) throw InputError(mpath, 0, "missing tensor 'user_factors.weight'");
    mo.mf_factors = it->second.size(1);
  }
  model_ = LoidModel(mo);
  load_state_dict(*model_, state, mpath);
  model_->eval();
}

std::vector<float> LoadedRun::predict(const std::vector<std::int64_t>& users,
                                      const std::vector<std::int64_t>& items) const {
  return predict_rows(model_, *sampler_, users, items, vectors_, context_seed_);
}

PairExplanation LoadedRun::explain(std::int64_t user, std::int64_t item) const {
  PairExplanation out;
  const ContextBatch c = sampler_->evaluation({user}, {item}, context_seed_);
  out.user_reviews = c.user;
  out.item_reviews = c.item;
  const LoidInputs in = make_inputs({user}, {item}, c, vectors_);
  out.parts = explain_loid(*model_, in.users, in.items, in.user_text, in.user_mask, in.item_text,
                           in.item_mask);
  return out;
}

const LoidPrecomputed& LoadedRun::precomputed() const {
  std::call_once(precomputed_once_, [this] {
    std::vector<std::int64_t> users, items;
    for (std::int64_t u = 0; u < dataset_.num_users(); ++u) {
      const auto c = sampler_->evaluation_user(u, context_seed_);
      users.insert(users.end(), c.begin(), c.end());
    }
    for (std::int64_t i = 0; i < dataset_.num_items(); ++i) {
      const auto c = sampler_->evaluation_item(i, context_seed_);
      items.insert(items.end(), c.begin(), c.end());
    }
    precomputed_ = std::make_unique<LoidPrecomputed>(*model_, users, items, k(), vectors_);
    precomputed_ready_ = true;
  });
  return *precomputed_;
}

std::vector<float> LoadedRun::predict_precomputed(const std::vector<std::int64_t>& users,
                                                  const std::vector<std::int64_t>& items,
                                                  bool clamp) const {
  if (users.size() != items.size()) throw UsageError("predict: users and items differ in length");
  const LoidPrecomputed& p = precomputed();
  std::vector<float> out(users.size());
  std::vector<std::size_t> cold;  // rows with an id the model has no trained row for
  std::vector<std::int64_t> cold_u, cold_i;
  for (std::size_t r = 0; r < users.size(); ++r)
    if (users[r] < 0 || users[r] >= p.num_users() || items[r] < 0 || items[r] >= p.num_items()) {
      cold.push_back(r);
      cold_u.push_back(users[r]);
      cold_i.push_back(items[r]);
    }
  if (cold.empty()) {
    p.predict(users.data(), items.data(), users.size(), out.data());
  } else {
    const auto c =
        predict_rows(model_, *sampler_, cold_u, cold_i, vectors_, context_seed_, 256, false);
    for (std::size_t r = 0, j = 0; r < users.size(); ++r)
      out[r] = j < cold.size() && cold[j] == r ? c[j++] : p.predict(users[r], items[r]);
  }
  if (clamp)
    for (float& y : out) y = std::min(5.0f, std::max(1.0f, y));
  return out;
}

std::vector<std::pair<std::int64_t, float>> LoadedRun::recommend(std::int64_t user, std::size_t top,
                                                                 bool exclude_rated) const {
  if (user < 0 || user >= dataset_.num_users())
    throw UsageError("recommend: user id " + std::to_string(user) + " is not known to the run");
  std::vector<std::uint8_t> rated(static_cast<std::size_t>(dataset_.num_items()), 0);
  if (exclude_rated)
    for (std::int64_t r : index_->user_history(user)) rated[dataset_.item_of(r)] = 1;
  std::vector<std::int64_t> items;
  for (std::int64_t i = 0; i < dataset_.num_items(); ++i)
    if (!rated[static_cast<std::size_t>(i)]) items.push_back(i);
  const std::vector<std::int64_t> users(items.size(), user);
  // Ranked on the unclamped score (clamping would tie every item above 5); reported clamped.
  // Serving has the tables; a one-off ranking (`loid recommend`) need not build them for every
  // user and item of the run.
  const auto scores = precomputed_ready_ ? predict_precomputed(users, items, false)
                                         : predict_rows(model_, *sampler_, users, items, vectors_,
                                                        context_seed_, 256, false);
  std::vector<std::size_t> order(items.size());
  std::iota(order.begin(), order.end(), 0);
  // Best first; equal scores by item id, so the ranking is deterministic.
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  std::vector<std::pair<std::int64_t, float>> out;
  for (std::size_t j = 0; j < order.size() && j < top; ++j)
    out.emplace_back(items[order[j]], std::min(5.0f, std::max(1.0f, scores[order[j]])));
  return out;
}

Encoder& LoadedRun::encoder() {
  if (encoder_) return *encoder_;
  auto enc =
      load_encoder_with_plugins(resolve_encoder_dir(settings_.encoder_dir), settings_.plugins);
  enc->module().to(resolve_device(encoder_device_));  // the target adapter below follows it
  const std::string target = dir_ + "/" + kRunTargetAdapter;
  if (file_exists(target + "/" + kAdapterConfigFile)) {
    const BaseShapes shapes = base_shapes(enc->module());
    attach_source(enc->module(), load_peft(target, &shapes), "target", 1.0, target);
  }
  enc->module().eval();
  // A loaded run only encodes: its adapters stay folded into the weights for good.
  fold_encoder_adapters(*enc);
  encoder_ = std::move(enc);
  return *encoder_;
}

std::int64_t LoadedRun::max_text_length() const {
  std::lock_guard<std::mutex> lock(encoder_mutex_);
  return const_cast<LoadedRun*>(this)->encoder().max_length();
}

std::vector<float> LoadedRun::predict_for_texts(const std::vector<std::string>& user_texts,
                                                const std::vector<std::int64_t>& items) {
  if (user_texts.empty()) throw UsageError("predict: give at least one review text of the user");
  std::vector<std::string> texts(
      user_texts.begin(),
      user_texts.begin() + static_cast<std::ptrdiff_t>(std::min(user_texts.size(), k())));
  EncodeOptions eo;
  eo.progress = false;
  eo.dtype = settings_.compute_dtype;  // a new user's reviews are encoded as the training ones were
  torch::NoGradGuard no_grad;
  torch::Tensor v;  // (n, D)
  {
    std::lock_guard<std::mutex> lock(encoder_mutex_);
    v = encode_texts(encoder(), texts, eo);
  }
  const auto k_ = static_cast<std::int64_t>(k());
  torch::Tensor user_text = torch::zeros({1, k_, v.size(1)});
  torch::Tensor user_mask = torch::zeros({1, k_});
  user_text.index_put_({0, torch::indexing::Slice(0, v.size(0))}, v);
  user_mask.index_put_({0, torch::indexing::Slice(0, v.size(0))}, 1.0);
  std::vector<float> out;
  for (std::int64_t item : items) {
    const ContextBatch cb = sampler_->evaluation({-1}, {item}, context_seed_);
    const LoidInputs in = make_inputs({-1}, {item}, cb, vectors_);
    const auto pred =
        model_->forward(in.users, in.items, user_text, user_mask, in.item_text, in.item_mask)
            .prediction.clamp(1.0, 5.0);
    out.push_back(pred.item<float>());
  }
  return out;
}

json LoadedRun::evaluate_test() const {
  std::vector<std::int64_t> u, i;
  std::vector<float> y;
  for (std::int64_t r : split_.test) {
    u.push_back(dataset_.user_of(r));
    i.push_back(dataset_.item_of(r));
    y.push_back(dataset_.review(r).rating);
  }
  const auto p = predict(u, i);
  const RatingMetrics m = rating_metrics(p, y);
  const ClassMetrics c = rounded_class_metrics(p, y);
  return metrics_json(m, &c);
}

json LoadedRun::evaluate_file(const std::string& path) const {
  // Read as training read the data file.
  const ReviewFile f = read_reviews(path, settings_.read);
  std::vector<std::int64_t> u, i;
  std::vector<float> y;
  std::vector<std::uint8_t> known;
  std::int64_t overlap = 0;
  std::set<std::pair<std::int64_t, std::int64_t>> train_pairs;
  for (std::int64_t r : split_.train) train_pairs.emplace(dataset_.user_of(r), dataset_.item_of(r));
  for (const Review& r : f.reviews) {
    const std::int64_t uu = dataset_.find_user(r.user), ii = dataset_.find_item(r.item);
    u.push_back(uu);
    i.push_back(ii);
    y.push_back(r.rating);
    known.push_back(uu >= 0 && ii >= 0);
    if (uu >= 0 && ii >= 0 && train_pairs.count({uu, ii})) ++overlap;
  }
  const auto p = predict(u, i);
  auto subset = [&](bool want) {
    std::vector<float> pp, yy;
    for (std::size_t j = 0; j < p.size(); ++j)
      if (static_cast<bool>(known[j]) == want) {
        pp.push_back(p[j]);
        yy.push_back(y[j]);
      }
    return metrics_json(rating_metrics(pp, yy));
  };
  const RatingMetrics m = rating_metrics(p, y);
  const ClassMetrics c = rounded_class_metrics(p, y);
  return {{"file", path},
          {"all", metrics_json(m, &c)},
          {"known_user_and_item", subset(true)},
          {"unknown_user_or_item", subset(false)},
          {"pairs_in_training_split", overlap}};
}

}  // namespace loid
