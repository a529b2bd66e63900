// ANR (Chin et al. 2018), one of the text baselines of rec/text_baselines.h (see anr.h).
#include "rec/anr.h"

#include <cmath>
#include <string>
#include <vector>

namespace loid {

namespace {

// Aspect-based representation learning for one side: K aspect projections of the words and
// aspect-specific attention over a context window.
class AspectRepresentationImpl : public torch::nn::Module {
 public:
  static constexpr std::int64_t kAspects = 5, kAspectSize = 10, kWindow = 3;
  explicit AspectRepresentationImpl(std::int64_t embedding) {
    projection = register_parameter(
        "projection", torch::randn({kAspects, embedding, kAspectSize}) / std::sqrt(embedding));
    context = register_parameter("context", torch::randn({kAspects, kWindow, kAspectSize}) * 0.1);
  }
  // e (B, T, E), mask (B, T) -> (B, K, h)
  torch::Tensor forward(const torch::Tensor& e, const torch::Tensor& mask) {
    const torch::Tensor proj = torch::einsum("bte,keh->bkth", {e, projection});  // (B, K, T, h)
    const std::int64_t t = proj.size(2);
    // score[t] = sum_o proj[t + o - 1] . context[o]; padding (zero vectors) beyond the ends.
    const torch::Tensor per_offset = torch::einsum("bkth,koh->bkto", {proj, context});  // (B,K,T,3)
    const torch::Tensor padded = torch::constant_pad_nd(per_offset, {0, 0, 1, 1});  // (B,K,T+2,3)
    torch::Tensor score = torch::zeros_like(per_offset.select(3, 0));               // (B, K, T)
    for (std::int64_t o = 0; o < kWindow; ++o) score = score + padded.narrow(2, o, t).select(3, o);
    score = score.masked_fill(mask.unsqueeze(1).eq(0), -1e9);
    const torch::Tensor attention = torch::softmax(score, 2);  // (B, K, T)
    return torch::einsum("bkt,bkth->bkh", {attention, proj});  // (B, K, h); 0 when no words
  }
  torch::Tensor projection;  // (K, E, h)
  torch::Tensor context;     // (K, window, h)
};
TORCH_MODULE(AspectRepresentation);

class AnrImpl : public TextRatingModelImpl {
 public:
  static constexpr std::int64_t kK = AspectRepresentationImpl::kAspects;
  static constexpr std::int64_t kH = AspectRepresentationImpl::kAspectSize, kCoHidden = 50;
  AnrImpl(const TextModelSizes& s, const WordVectors* wv) {
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

}  // namespace

std::shared_ptr<TextRatingModelImpl> make_anr(const TextModelSizes& s, const WordVectors* wv) {
  return std::make_shared<AnrImpl>(s, wv);
}

}  // namespace loid
