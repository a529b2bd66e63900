// Shared parts of the text baselines (see text_model.h).
#include "rec/text_model.h"

#include <algorithm>
#include <cmath>

namespace loid {

torch::Tensor masked_max(const torch::Tensor& x, const torch::Tensor& mask) {
  return (x * mask.narrow(1, 0, x.size(2)).unsqueeze(1)).amax(2);
}

torch::nn::Embedding word_embedding(const TextModelSizes& s, const WordVectors* wv) {
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

}  // namespace loid
