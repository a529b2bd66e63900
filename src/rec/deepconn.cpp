// DeepCoNN (Zheng et al. 2017), one of the text baselines of rec/text_baselines.h (see deepconn.h).
#include "rec/deepconn.h"

#include <cmath>
#include <string>
#include <vector>

namespace loid {

namespace {

class DeepConnImpl : public TextRatingModelImpl {
 public:
  static constexpr std::int64_t kOut = 50, kFactors = 8;
  DeepConnImpl(const TextModelSizes& s, const WordVectors* wv) {
    embedding = register_module("embedding", word_embedding(s, wv));
    user_conv = register_module(
        "user_conv",
        torch::nn::Conv1d(torch::nn::Conv1dOptions(s.embedding, s.filters, 3).padding(1)));
    item_conv = register_module(
        "item_conv",
        torch::nn::Conv1d(torch::nn::Conv1dOptions(s.embedding, s.filters, 3).padding(1)));
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
    const torch::Tensor zv = z.mm(fm_factors);                         // (B, k)
    const torch::Tensor z2v2 = z.pow(2).mm(fm_factors.pow(2));         // (B, k)
    return fm_linear(z).squeeze(1) + 0.5 * (zv.pow(2) - z2v2).sum(1);  // (B)
  }

  torch::nn::Embedding embedding{nullptr};
  torch::nn::Conv1d user_conv{nullptr}, item_conv{nullptr};
  torch::nn::Linear user_fc{nullptr}, item_fc{nullptr}, fm_linear{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::Tensor fm_factors;  // (100, 8)
};

}  // namespace

std::shared_ptr<TextRatingModelImpl> make_deepconn(const TextModelSizes& s, const WordVectors* wv) {
  return std::make_shared<DeepConnImpl>(s, wv);
}

}  // namespace loid
