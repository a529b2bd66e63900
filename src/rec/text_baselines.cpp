// Training and scoring of the text baselines on train-only word documents (the models are in
// rec/deepconn.h, rec/dattn.h and rec/anr.h; see text_baselines.h for the defaults).
#include "rec/text_baselines.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <numeric>

#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"
#include "eval/metrics.h"
#include "nn/threads.h"
#include "rec/anr.h"
#include "rec/dattn.h"
#include "rec/deepconn.h"
#include "rec/mf.h"
#include "rec/text_model.h"
#include "rec/word_docs.h"
#include "nn/tensor_util.h"

namespace loid {

const std::vector<std::string>& text_baseline_names() {
  static const std::vector<std::string> names = {"deepconn", "dattn", "anr"};
  return names;
}

bool is_text_baseline(const std::string& model) {
  const auto& n = text_baseline_names();
  return std::find(n.begin(), n.end(), model) != n.end();
}

namespace {

// Padding columns added after the longest document of a batch, so every window that starts on a
// real word exists whatever the batch (results do not depend on which rows share a batch).
constexpr std::int64_t kExtraPad = 4;

// Documents of a list of rows, built once (they never change during training).
struct DocRows {
  std::vector<std::vector<std::int32_t>> user_docs, item_docs;
  std::vector<std::int64_t> users, items;
  std::vector<float> ratings;
  std::size_t size() const { return ratings.size(); }
  std::size_t length(std::size_t r) const { return user_docs[r].size() + item_docs[r].size(); }
};

DocRows doc_rows(const Dataset& dataset, const WordDocuments& docs,
                 const std::vector<std::int64_t>& ids) {
  DocRows out;
  for (std::int64_t id : ids) {
    out.user_docs.push_back(docs.user_document(id));
    out.item_docs.push_back(docs.item_document(id));
    out.users.push_back(dataset.user_of(id));
    out.items.push_back(dataset.item_of(id));
    out.ratings.push_back(dataset.review(id).rating);
  }
  return out;
}

std::pair<torch::Tensor, torch::Tensor> pad_docs(const std::vector<std::vector<std::int32_t>>& d,
                                                 const std::vector<std::size_t>& rows) {
  std::size_t longest = 0;
  for (std::size_t r : rows) longest = std::max(longest, d[r].size());
  const auto b = static_cast<std::int64_t>(rows.size());
  const auto t = static_cast<std::int64_t>(longest) + kExtraPad;
  torch::Tensor ids = torch::zeros({b, t}, torch::kInt64);
  auto acc = ids.accessor<std::int64_t, 2>();
  for (std::int64_t k = 0; k < b; ++k) {
    const auto& doc = d[rows[static_cast<std::size_t>(k)]];
    for (std::size_t j = 0; j < doc.size(); ++j) acc[k][static_cast<std::int64_t>(j)] = doc[j];
  }
  return {ids, ids.ne(kPadToken).to(torch::kFloat32)};
}

DocBatch make_batch(const DocRows& rows, const std::vector<std::size_t>& pick) {
  DocBatch b;
  std::tie(b.user_docs, b.user_mask) = pad_docs(rows.user_docs, pick);
  std::tie(b.item_docs, b.item_mask) = pad_docs(rows.item_docs, pick);
  std::vector<std::int64_t> u, i;
  for (std::size_t r : pick) {
    u.push_back(rows.users[r]);
    i.push_back(rows.items[r]);
  }
  b.users = torch::tensor(u, torch::kInt64);
  b.items = torch::tensor(i, torch::kInt64);
  return b;
}

std::shared_ptr<TextRatingModelImpl> make_model(const std::string& name, const TextModelSizes& s,
                                                const WordVectors* wv) {
  if (name == "deepconn") return make_deepconn(s, wv);
  if (name == "dattn") return make_dattn(s, wv);
  return make_anr(s, wv);
}

// ---- training ---------------------------------------------------------------------------------

// Batches of similar document length: shuffle, sort chunks of 16 batches by length, cut, shuffle
// the batches. Same order for the same rng state.
std::vector<std::vector<std::size_t>> bucketed_batches(const DocRows& rows, std::int64_t batch,
                                                       Rng& rng) {
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  shuffle(order, rng);
  const std::size_t b = static_cast<std::size_t>(batch), chunk = b * 16;
  for (std::size_t s = 0; s < order.size(); s += chunk) {
    const auto e = std::min(order.size(), s + chunk);
    std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(s),
                     order.begin() + static_cast<std::ptrdiff_t>(e),
                     [&](std::size_t x, std::size_t y) { return rows.length(x) < rows.length(y); });
  }
  std::vector<std::vector<std::size_t>> out;
  for (std::size_t s = 0; s < order.size(); s += b)
    out.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(s),
                     order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), s + b)));
  shuffle(out, rng);
  return out;
}

// Clamped predictions in row order (eval mode, no gradients, batches sorted by length).
std::vector<float> predict(TextRatingModelImpl& model, const DocRows& rows) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return rows.length(x) < rows.length(y); });
  std::vector<float> out(rows.size());
  constexpr std::size_t kBatch = 256;
  for (std::size_t s = 0; s < order.size(); s += kBatch) {
    const std::vector<std::size_t> pick(
        order.begin() + static_cast<std::ptrdiff_t>(s),
        order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), s + kBatch)));
    const torch::Tensor p = model.forward(make_batch(rows, pick)).clamp(1.0, 5.0).contiguous();
    for (std::size_t k = 0; k < pick.size(); ++k)
      out[pick[k]] = p[static_cast<std::int64_t>(k)].item<float>();
  }
  model.train(was_training);
  return out;
}

std::string valid_names() {
  std::string s;
  for (const auto& n : text_baseline_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

TextBaselineResult train_text_baseline(const Dataset& dataset, const Split& split,
                                       const TextBaselineOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (!is_text_baseline(o.model))
    throw UsageError("unknown text baseline '" + o.model + "' (valid: " + valid_names() + ")");
  if (o.max_epochs < 0 || o.patience < 1 || o.batch_size < 1 || o.learning_rate < 0 ||
      o.doc_length < 0 || o.embedding_size < 0 || o.filters < 0 || o.threads < 0)
    throw UsageError(o.model +
                     ": invalid options (epochs, patience, batch size, learning rate, "
                     "sizes and threads must be positive, or 0 for the default)");
  if (split.train.empty()) throw UsageError(o.model + ": no training reviews");
  if (split.validation.empty()) throw UsageError(o.model + ": no validation reviews");
  if (o.threads > 0) set_threads(o.threads);

  WordDocOptions wo;
  wo.doc_length = o.doc_length > 0 ? o.doc_length : 400;
  wo.min_count = o.min_count;
  wo.max_vocab = o.max_vocab;
  const WordDocuments docs(dataset, split, wo);

  TextModelSizes sizes;
  sizes.vocabulary = docs.vocabulary_size();
  sizes.users = dataset.num_users();
  sizes.items = dataset.num_items();
  sizes.filters = o.filters > 0 ? o.filters : 100;
  WordVectors vectors;
  const bool pretrained = !o.word_vectors.empty();
  if (pretrained) {
    vectors = load_word_vectors(o.word_vectors, docs.words());
    if (o.embedding_size > 0 && o.embedding_size != vectors.dimensions)
      throw UsageError(o.model + ": embedding size " + std::to_string(o.embedding_size) +
                       " differs from the " + std::to_string(vectors.dimensions) +
                       "-d word vectors of " + o.word_vectors);
    sizes.embedding = vectors.dimensions;
  } else {
    sizes.embedding = o.embedding_size > 0 ? o.embedding_size : 100;
  }

  const DocRows train = doc_rows(dataset, docs, split.train);
  const DocRows validation = doc_rows(dataset, docs, split.validation);
  sizes.mean = global_mean(train.ratings);

  torch::manual_seed(o.seed);
  const std::shared_ptr<TextRatingModelImpl> model =
      make_model(o.model, sizes, pretrained ? &vectors : nullptr);
  const double lr = o.learning_rate > 0 ? o.learning_rate : (o.model == "deepconn" ? 2e-3 : 1e-3);
  const std::vector<torch::Tensor> params = model->parameters();
  torch::optim::Adam optimizer(params, torch::optim::AdamOptions(lr));

  TextBaselineResult result;
  result.vocabulary_size = docs.vocabulary_size();
  result.pretrained_words = pretrained ? vectors.found : 0;
  result.best_validation_mse = rating_metrics(predict(*model, validation), validation.ratings).mse;
  log_info(o.model + ": " + std::to_string(train.size()) + " training rows, vocabulary " +
           std::to_string(result.vocabulary_size) +
           (pretrained ? " (" + std::to_string(vectors.found) + " pretrained)" : "") +
           ", validation MSE before training " + std::to_string(result.best_validation_mse));
  std::vector<torch::Tensor> best = snapshot_params(params);
  Rng order_rng = Rng(o.seed).fork(0x7465787462ULL);  // "textb"
  const int max_epochs = o.max_epochs > 0 ? o.max_epochs : 20;
  int since_best = 0;
  for (int epoch = 1; epoch <= max_epochs; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    torch::manual_seed(o.seed * 1000003ULL + static_cast<std::uint64_t>(epoch));
    model->train();
    const auto batches = bucketed_batches(train, o.batch_size, order_rng);
    Progress progress(o.model + " epoch " + std::to_string(epoch),
                      static_cast<std::int64_t>(batches.size()), o.progress);
    double loss_sum = 0.0;
    std::int64_t done = 0;
    for (const auto& pick : batches) {
      const DocBatch batch = make_batch(train, pick);
      std::vector<float> target;
      for (std::size_t r : pick) target.push_back(train.ratings[r]);
      optimizer.zero_grad();
      const torch::Tensor loss =
          torch::mse_loss(model->forward(batch), torch::tensor(target, torch::kFloat32));
      loss.backward();
      optimizer.step();
      const double l = loss.item<double>();
      if (!std::isfinite(l))
        throw Error(o.model + ": training diverged (loss " + std::to_string(l) +
                    "); try a lower learning rate");
      loss_sum += l;
      ++done;
      char note[48];
      std::snprintf(note, sizeof note, "loss %.4f", loss_sum / static_cast<double>(done));
      progress.advance(1, note);
    }
    progress.finish();
    const double val = rating_metrics(predict(*model, validation), validation.ratings).mse;
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    log_info(o.model + " epoch " + std::to_string(epoch) + ": train MSE " +
             std::to_string(loss_sum / static_cast<double>(std::max<std::int64_t>(done, 1))) +
             ", validation MSE " + std::to_string(val) + " (" + format_duration(secs) + ")");
    if (val < result.best_validation_mse) {
      result.best_validation_mse = val;
      result.best_epoch = epoch;
      best = snapshot_params(params);
      since_best = 0;
    } else if (++since_best >= o.patience) {
      break;
    }
  }
  restore_params(params, best);
  result.validation_predictions = predict(*model, validation);
  // The test rows are read here, once, after the model is fixed.
  result.test_predictions = predict(*model, doc_rows(dataset, docs, split.test));
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace loid
