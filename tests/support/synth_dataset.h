// A synthetic one-domain corpus as a Dataset, for the tests of the rating baselines (ALFM, BiGI,
// RGCL): the synthetic generator's reviews, summary and text joined as the reader joins them.
#pragma once

#include <cstdint>
#include <vector>

#include "data/dataset.h"
#include "data/synth.h"

namespace loid::testing {

inline Dataset synth_dataset(std::int64_t users, std::int64_t items, std::uint64_t seed) {
  SynthOptions so;
  so.users = users;
  so.items = items;
  so.seed = seed;
  so.progress = false;
  std::vector<Review> reviews;
  for (const SynthReview& s : synth_domain(so, 1)) {
    Review r;
    r.user = s.user;
    r.item = s.item;
    r.rating = static_cast<float>(s.rating);
    r.text = s.summary + " " + s.text;
    r.time = s.time;
    reviews.push_back(r);
  }
  return Dataset(std::move(reviews));
}

// Ratings of the given reviews, in order.
inline std::vector<float> ratings_of(const Dataset& d, const std::vector<std::int64_t>& ids) {
  std::vector<float> out;
  for (std::int64_t id : ids) out.push_back(d.review(id).rating);
  return out;
}

// Mean training rating.
inline float train_mean(const Dataset& d, const std::vector<std::int64_t>& train) {
  double s = 0.0;
  for (std::int64_t id : train) s += d.review(id).rating;
  return static_cast<float>(s / static_cast<double>(train.size()));
}

}  // namespace loid::testing
