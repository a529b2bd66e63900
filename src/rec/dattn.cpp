// D-Attn (Seo et al. 2017), one of the text baselines of rec/text_baselines.h (see dattn.h).
#include "rec/dattn.h"

#include <cmath>
#include <string>
#include <vector>

namespace loid {

namespace {

// One D-Attn tower: local attention (window 5) -> CNN width 1; global attention (threshold) ->
// CNNs of widths 2, 3, 4; -> two fully connected layers.
class DAttnTowerImpl : public torch::nn::Module {
 public:
  static constexpr std::int64_t kLocalWindow = 5, kHidden = 200, kOut = 50;
  static constexpr double kThreshold = 0.25;
  DAttnTowerImpl(const TextModelSizes& s) {
    using torch::nn::Conv1d;
    using torch::nn::Conv1dOptions;
    local_score = register_module(
        "local_score",
        Conv1d(Conv1dOptions(s.embedding, 1, kLocalWindow).padding(kLocalWindow / 2)));
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
    const torch::Tensor et = e.transpose(1, 2);                                       // (B, E, T)
    const torch::Tensor s_local = torch::sigmoid(local_score(et)).squeeze(1) * mask;  // (B, T)
    const torch::Tensor local =
        masked_max(torch::relu(local_conv(et * s_local.unsqueeze(1))), mask);   // (B, F)
    const torch::Tensor s_global = torch::sigmoid(global_score(e)).squeeze(2);  // (B, T)
    // Words scored below the threshold are dropped; the kept ones are weighted by their score.
    const torch::Tensor gate = s_global * s_global.ge(kThreshold).to(torch::kFloat32) * mask;
    const torch::Tensor eg = et * gate.unsqueeze(1);  // (B, E, T)
    std::vector<torch::Tensor> parts = {local};
    for (auto& conv : global_convs) parts.push_back(masked_max(torch::relu(conv(eg)), mask));
    const torch::Tensor h = torch::cat(parts, 1);  // (B, 4F)
    return fc2(torch::relu(fc1(dropout(h))));      // (B, 50)
  }

  torch::nn::Conv1d local_score{nullptr}, local_conv{nullptr};
  torch::nn::Linear global_score{nullptr}, fc1{nullptr}, fc2{nullptr};
  std::vector<torch::nn::Conv1d> global_convs;
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(DAttnTower);

class DAttnImpl : public TextRatingModelImpl {
 public:
  DAttnImpl(const TextModelSizes& s, const WordVectors* wv) {
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

}  // namespace

std::shared_ptr<TextRatingModelImpl> make_dattn(const TextModelSizes& s, const WordVectors* wv) {
  return std::make_shared<DAttnImpl>(s, wv);
}

}  // namespace loid
