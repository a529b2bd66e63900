// D-Attn (Seo et al. 2017), one of the text baselines of rec/text_baselines.h: dual local
// and global attention towers over the user and item documents, dot product with biases.
#pragma once

#include <memory>

#include "rec/text_model.h"

namespace loid {

// dattn: per tower, local attention (a score per word from a Conv1d over the 5-word window,
// sigmoid) -> Conv1d(100, width 1) + ReLU -> max-pool; global attention (words scored below 0.25
// dropped) -> Conv1d(100 each, widths 2, 3, 4) + ReLU -> max-pool; [local, global] (400) ->
// dropout 0.5 -> Linear(200) + ReLU -> Linear(50). rating = x_u . x_i + b_u + b_i + training mean.
std::shared_ptr<TextRatingModelImpl> make_dattn(const TextModelSizes& s, const WordVectors* wv);

}  // namespace loid
