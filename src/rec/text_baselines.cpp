// DeepCoNN, D-Attn and ANR on train-only word documents (see text_baselines.h for the
// architectures and defaults).
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
#include "rec/word_docs.h"
#include "train/setup.h"

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

struct DocBatch {
  torch::Tensor user_docs, item_docs;  // (B, T) int64 token ids, 0 = padding
  torch::Tensor user_mask, item_mask;  // (B, T) float 1 for a word, 0 for padding
  torch::Tensor users, items;          // (B) int64 dense ids
};

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

// relu outputs x (B, F, L) and the mask of their window starts (B, >= L) -> (B, F): the max over
// real positions; 0 for an all-padding document. Since x >= 0, zeroing padded positions leaves the
// max over real positions unchanged.
torch::Tensor masked_max(const torch::Tensor& x, const torch::Tensor& mask) {
  return (x * mask.narrow(1, 0, x.size(2)).unsqueeze(1)).amax(2);
}

// Every model maps a batch of documents to unclamped ratings (B).
class TextRatingModelImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const DocBatch& batch) = 0;
};

struct Sizes {
  std::int64_t vocabulary = 0, embedding = 100, filters = 100;
  std::int64_t users = 0, items = 0;
  float mean = 3.0f;
};

torch::nn::Embedding word_embedding(const Sizes& s, const WordVectors* wv) {
  torch::nn::Embedding e(torch::nn::EmbeddingOptions(s.vocabulary, s.embedding).padding_idx(0));
  torch::NoGradGuard no_grad;
  double stddev = 0.1;
  if (wv != nullptr && wv->found > 0) {
    // Words without a pretrained vector start at the pretrained vectors' own scale.
    double sq = 0.0;
    for (std::size_t i = 0; i < wv->present.size(); ++i)
      if (wv->present[i])
        for (std::int64_t d = 0; d < s.embedding; ++d)
          sq += std::pow(wv->rows[i * static_cast<std::size_t>(s.embedding) + d], 2);
    stddev = std::sqrt(sq / static_cast<double>(wv->found * s.embedding));
  }
  e->weight.normal_(0.0, stddev);
  if (wv != nullptr) {
    auto w = e->weight.accessor<float, 2>();
    for (std::int64_t i = 0; i < s.vocabulary; ++i)
      if (wv->present[static_cast<std::size_t>(i)])
        for (std::int64_t d = 0; d < s.embedding; ++d)
          w[i][d] = wv->rows[static_cast<std::size_t>(i * s.embedding + d)];
  }
  e->weight[kPadToken].zero_();
  return e;
}

torch::nn::Embedding bias_table(std::int64_t n) {
  torch::nn::Embedding b(std::max<std::int64_t>(n, 1), 1);
  torch::NoGradGuard no_grad;
  b->weight.zero_();
  return b;
}

// ---- DeepCoNN ---------------------------------------------------------------------------------

class DeepConnImpl : public TextRatingModelImpl {
 public:
  static constexpr std::int64_t kOut = 50, kFactors = 8;
  DeepConnImpl(const Sizes& s, const WordVectors* wv) {
    embedding = register_module("embedding", word_embedding(s, wv));
    user_conv = register_module(
        "user_conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(s.embedding, s.filters, 3).padding(1)));
    item_conv = register_module(
        "item_conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(s.embedding, s.filters, 3).padding(1)));
    user_fc = register_module("user_fc", torch::nn::Linear(s.filters, kOut));
    item_fc = register_module("item_fc", torch::nn::Linear(s.filters, kOut));
    dropout = register_module("dropout", torch::nn::Dropout(0.5));
    fm_linear = register_module("fm_linear", torch::nn::Linear(2 * kOut, 1));
    fm_factors = register_parameter("fm_factors", torch::randn({2 * kOut, kFactors}) * 0.01);
    torch::NoGradGuard no_grad;
    fm_linear->bias.fill_(s.mean);
  }

  torch::Tensor tower(torch::nn::Conv1d& conv, torch::nn::Linear& fc, const torch::Tensor& docs,
                      const torch::Tensor& mask) {
    const torch::Tensor e = embedding(docs).transpose(1, 2);  // (B, E, T)
    const torch::Tensor h = torch::relu(conv(e));             // (B, F, T)
    return fc(dropout(masked_max(h, mask)));                  // (B, 50)
  }

  torch::Tensor forward(const DocBatch& b) override {
    const torch::Tensor z = torch::cat({tower(user_conv, user_fc, b.user_docs, b.user_mask),
                                        tower(item_conv, item_fc, b.item_docs, b.item_mask)},
                                       1);  // (B, 100)
    // Factorisation machine: w0 + w.z + sum_{i<j} <v_i, v_j> z_i z_j.
    const torch::Tensor zv = z.mm(fm_factors);                        // (B, k)
    const torch::Tensor z2v2 = z.pow(2).mm(fm_factors.pow(2));        // (B, k)
    return fm_linear(z).squeeze(1) + 0.5 * (zv.pow(2) - z2v2).sum(1);  // (B)
  }

  torch::nn::Embedding embedding{nullptr};
  torch::nn::Conv1d user_conv{nullptr}, item_conv{nullptr};
  torch::nn::Linear user_fc{nullptr}, item_fc{nullptr}, fm_linear{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::Tensor fm_factors;  // (100, 8)
};

// ---- D-Attn -----------------------------------------------------------------------------------

// One D-Attn tower: local attention (window 5) -> CNN width 1; global attention (threshold) ->
// CNNs of widths 2, 3, 4; -> two fully connected layers.
class DAttnTowerImpl : public torch::nn::Module {
 public:
  static constexpr std::int64_t kLocalWindow = 5, kHidden = 200, kOut = 50;
  static constexpr double kThreshold = 0.25;
  DAttnTowerImpl(const Sizes& s) {
    using torch::nn::Conv1d;
    using torch::nn::Conv1dOptions;
    local_score = register_module(
        "local_score", Conv1d(Conv1dOptions(s.embedding, 1, kLocalWindow).padding(kLocalWindow / 2)));
    local_conv = register_module("local_conv", Conv1d(Conv1dOptions(s.embedding, s.filters, 1)));
    global_score = register_module("global_score", torch::nn::Linear(s.embedding, 1));
    for (std::int64_t w = 2; w <= 4; ++w)
      global_convs.push_back(register_module("global_conv" + std::to_string(w),
                                             Conv1d(Conv1dOptions(s.embedding, s.filters, w))));
    fc1 = register_module("fc1", torch::nn::Linear(4 * s.filters, kHidden));
    fc2 = register_module("fc2", torch::nn::Linear(kHidden, kOut));
    dropout = register_module("dropout", torch::nn::Dropout(0.5));
  }

  // e (B, T, E) embedded words, mask (B, T) -> (B, 50)
  torch::Tensor forward(const torch::Tensor& e, const torch::Tensor& mask) {
    const torch::Tensor et = e.transpose(1, 2);                                     // (B, E, T)
    const torch::Tensor s_local = torch::sigmoid(local_score(et)).squeeze(1) * mask;  // (B, T)
    const torch::Tensor local =
        masked_max(torch::relu(local_conv(et * s_local.unsqueeze(1))), mask);  // (B, F)
    const torch::Tensor s_global = torch::sigmoid(global_score(e)).squeeze(2);  // (B, T)
    // Words scored below the threshold are dropped; the kept ones are weighted by their score.
    const torch::Tensor gate = s_global * s_global.ge(kThreshold).to(torch::kFloat32) * mask;
    const torch::Tensor eg = et * gate.unsqueeze(1);  // (B, E, T)
    std::vector<torch::Tensor> parts = {local};
    for (auto& conv : global_convs) parts.push_back(masked_max(torch::relu(conv(eg)), mask));
    const torch::Tensor h = torch::cat(parts, 1);           // (B, 4F)
    return fc2(torch::relu(fc1(dropout(h))));                // (B, 50)
  }

  torch::nn::Conv1d local_score{nullptr}, local_conv{nullptr};
  torch::nn::Linear global_score{nullptr}, fc1{nullptr}, fc2{nullptr};
  std::vector<torch::nn::Conv1d> global_convs;
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(DAttnTower);

class DAttnImpl : public TextRatingModelImpl {
 public:
  DAttnImpl(const Sizes& s, const WordVectors* wv) {
    embedding = register_module("embedding", word_embedding(s, wv));
    user_tower = register_module("user_tower", DAttnTower(s));
    item_tower = register_module("item_tower", DAttnTower(s));
    user_bias = register_module("user_bias", bias_table(s.users));
    item_bias = register_module("item_bias", bias_table(s.items));
    mean = register_buffer("mean", torch::tensor(s.mean, torch::kFloat32));
  }
  torch::Tensor forward(const DocBatch& b) override {
    const torch::Tensor xu = user_tower(embedding(b.user_docs), b.user_mask);  // (B, 50)
    const torch::Tensor xi = item_tower(embedding(b.item_docs), b.item_mask);  // (B, 50)
    return (xu * xi).sum(1) + user_bias(b.users).squeeze(1) + item_bias(b.items).squeeze(1) +
           mean;  // (B)
  }
  torch::nn::Embedding embedding{nullptr}, user_bias{nullptr}, item_bias{nullptr};
  DAttnTower user_tower{nullptr}, item_tower{nullptr};
  torch::Tensor mean;
};

// ---- ANR --------------------------------------------------------------------------------------

// Aspect-based representation learning for one side: K aspect projections of the words and
// aspect-specific attention over a context window.
class AspectRepresentationImpl : public torch::nn::Module {
 public:
  static constexpr std::int64_t kAspects = 5, kAspectSize = 10, kWindow = 3;
  explicit AspectRepresentationImpl(std::int64_t embedding) {
    projection = register_parameter(
        "projection", torch::randn({kAspects, embedding, kAspectSize}) / std::sqrt(embedding));
    context = register_parameter("context",
                                 torch::randn({kAspects, kWindow, kAspectSize}) * 0.1);
  }
  // e (B, T, E), mask (B, T) -> (B, K, h)
  torch::Tensor forward(const torch::Tensor& e, const torch::Tensor& mask) {
    const torch::Tensor proj = torch::einsum("bte,keh->bkth", {e, projection});  // (B, K, T, h)
    const std::int64_t t = proj.size(2);
    // score[t] = sum_o proj[t + o - 1] . context[o]; padding (zero vectors) beyond the ends.
    const torch::Tensor per_offset = torch::einsum("bkth,koh->bkto", {proj, context});  // (B,K,T,3)
    const torch::Tensor padded = torch::constant_pad_nd(per_offset, {0, 0, 1, 1});  // (B,K,T+2,3)
    torch::Tensor score = torch::zeros_like(per_offset.select(3, 0));            // (B, K, T)
    for (std::int64_t o = 0; o < kWindow; ++o) score = score + padded.narrow(2, o, t).select(3, o);
    score = score.masked_fill(mask.unsqueeze(1).eq(0), -1e9);
    const torch::Tensor attention = torch::softmax(score, 2);  // (B, K, T)
    return torch::einsum("bkt,bkth->bkh", {attention, proj});   // (B, K, h); 0 when no words
  }
  torch::Tensor projection;  // (K, E, h)
  torch::Tensor context;     // (K, window, h)
};
TORCH_MODULE(AspectRepresentation);

class AnrImpl : public TextRatingModelImpl {
 public:
  static constexpr std::int64_t kK = AspectRepresentationImpl::kAspects;
  static constexpr std::int64_t kH = AspectRepresentationImpl::kAspectSize, kCoHidden = 50;
  AnrImpl(const Sizes& s, const WordVectors* wv) {
    embedding = register_module("embedding", word_embedding(s, wv));
    user_aspects = register_module("user_aspects", AspectRepresentation(s.embedding));
    item_aspects = register_module("item_aspects", AspectRepresentation(s.embedding));
    affinity = register_parameter("affinity", torch::randn({kH, kH}) * 0.1);
    user_proj = register_parameter("user_proj", torch::randn({kH, kCoHidden}) * 0.1);
    item_proj = register_parameter("item_proj", torch::randn({kH, kCoHidden}) * 0.1);
    user_importance = register_parameter("user_importance", torch::randn({kCoHidden}) * 0.1);
    item_importance = register_parameter("item_importance", torch::randn({kCoHidden}) * 0.1);
    dropout = register_module("dropout", torch::nn::Dropout(0.5));
    user_bias = register_module("user_bias", bias_table(s.users));
    item_bias = register_module("item_bias", bias_table(s.items));
    mean = register_buffer("mean", torch::tensor(s.mean, torch::kFloat32));
  }
  torch::Tensor forward(const DocBatch& b) override {
    const torch::Tensor pu = user_aspects(embedding(b.user_docs), b.user_mask);  // (B, K, h)
    const torch::Tensor qi = item_aspects(embedding(b.item_docs), b.item_mask);  // (B, K, h)
    // Aspect importance by co-attention: S = relu(P W_s Q^T) (B, K, K).
    const torch::Tensor s = torch::relu(pu.matmul(affinity).bmm(qi.transpose(1, 2)));
    const torch::Tensor pu_x = pu.matmul(user_proj), qi_y = qi.matmul(item_proj);  // (B, K, 50)
    const torch::Tensor hu = torch::relu(pu_x + s.bmm(qi_y));                      // (B, K, 50)
    const torch::Tensor hi = torch::relu(qi_y + s.transpose(1, 2).bmm(pu_x));      // (B, K, 50)
    const torch::Tensor beta_u = torch::softmax(hu.matmul(user_importance), 1);    // (B, K)
    const torch::Tensor beta_i = torch::softmax(hi.matmul(item_importance), 1);    // (B, K)
    const torch::Tensor aspect_rating = (dropout(pu) * dropout(qi)).sum(2);        // (B, K)
    return (beta_u * beta_i * aspect_rating).sum(1) + user_bias(b.users).squeeze(1) +
           item_bias(b.items).squeeze(1) + mean;  // (B)
  }
  torch::nn::Embedding embedding{nullptr}, user_bias{nullptr}, item_bias{nullptr};
  AspectRepresentation user_aspects{nullptr}, item_aspects{nullptr};
  torch::Tensor affinity, user_proj, item_proj, user_importance, item_importance, mean;
  torch::nn::Dropout dropout{nullptr};
};

std::shared_ptr<TextRatingModelImpl> make_model(const std::string& name, const Sizes& s,
                                                const WordVectors* wv) {
  if (name == "deepconn") return std::make_shared<DeepConnImpl>(s, wv);
  if (name == "dattn") return std::make_shared<DAttnImpl>(s, wv);
  return std::make_shared<AnrImpl>(s, wv);
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
    const std::vector<std::size_t> pick(order.begin() + static_cast<std::ptrdiff_t>(s),
                                        order.begin() + static_cast<std::ptrdiff_t>(
                                                            std::min(order.size(), s + kBatch)));
    const torch::Tensor p = model.forward(make_batch(rows, pick)).clamp(1.0, 5.0).contiguous();
    for (std::size_t k = 0; k < pick.size(); ++k) out[pick[k]] = p[static_cast<std::int64_t>(k)].item<float>();
  }
  model.train(was_training);
  return out;
}

std::vector<torch::Tensor> snapshot(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  for (const auto& p : params) out.push_back(p.detach().clone());
  return out;
}

void restore(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& saved) {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(saved[i]);
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
    throw UsageError(o.model + ": invalid options (epochs, patience, batch size, learning rate, "
                     "sizes and threads must be positive, or 0 for the default)");
  if (split.train.empty()) throw UsageError(o.model + ": no training reviews");
  if (split.validation.empty()) throw UsageError(o.model + ": no validation reviews");
  if (o.threads > 0) set_threads(o.threads);

  WordDocOptions wo;
  wo.doc_length = o.doc_length > 0 ? o.doc_length : 400;
  wo.min_count = o.min_count;
  wo.max_vocab = o.max_vocab;
  const WordDocuments docs(dataset, split, wo);

  Sizes sizes;
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
  sizes.mean = static_cast<float>(
      std::accumulate(train.ratings.begin(), train.ratings.end(), 0.0) /
      static_cast<double>(train.size()));

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
  std::vector<torch::Tensor> best = snapshot(params);
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
      best = snapshot(params);
      since_best = 0;
    } else if (++since_best >= o.patience) {
      break;
    }
  }
  restore(params, best);
  result.validation_predictions = predict(*model, validation);
  // The test rows are read here, once, after the model is fixed.
  result.test_predictions = predict(*model, doc_rows(dataset, docs, split.test));
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace loid
