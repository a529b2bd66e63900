// ANR (Chin et al. 2018), one of the text baselines of rec/text_baselines.h: aspect-based
// representations of the user and item documents weighed by co-attention.
#pragma once

#include <memory>

#include "rec/text_model.h"

namespace loid {

// anr: K = 5 aspects of size 10, per aspect a projection of the word embeddings and an attention
// over a 3-word window; aspect importance by co-attention (hidden 50); rating =
// sum_k beta_u[k] beta_i[k] (p_k . q_k) + b_u + b_i + training mean (dropout 0.5 on P_u, Q_i).
std::shared_ptr<TextRatingModelImpl> make_anr(const TextModelSizes& s, const WordVectors* wv);

}  // namespace loid
