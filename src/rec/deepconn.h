// DeepCoNN (Zheng et al. 2017), one of the text baselines of rec/text_baselines.h: two
// convolutional towers over the user and item documents joined by a factorisation machine.
#pragma once

#include <memory>

#include "rec/text_model.h"

namespace loid {

// deepconn: per tower embedding -> Conv1d(100 filters, window 3) + ReLU -> max over time ->
// dropout 0.5 -> Linear(100 -> 50); z = [x_u, x_i] (100) -> factorisation machine
// w0 + w.z + sum_{i<j} <v_i, v_j> z_i z_j with 8 factors; w0 starts at the training mean.
std::shared_ptr<TextRatingModelImpl> make_deepconn(const TextModelSizes& s, const WordVectors* wv);

}  // namespace loid
