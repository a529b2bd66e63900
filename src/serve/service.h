// The scoring service without the HTTP layer: request bodies in, status + JSON body out, on a
// loaded run. Users and items are named as in the run's data file; an unknown name is a 404 naming
// the field and the value (a user the model has no ID for is scored through `user_reviews`).
// Safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "serve/request.h"
#include "train/run.h"

namespace loid {

struct Reply {
  int status = 200;
  std::string body;               // JSON
  std::uint64_t predictions = 0;  // ratings or ranked items returned (for the metrics)
};

// Why `run` predicts what it does for a known pair (dense ids), as the JSON body of /v1/explain:
// the rating (clamped) and its unclamped sum, its parts (mean, biases and factors where the model
// has them, text), and the user's and the item's context reviews, heaviest first, each with its
// attention weight (mean over heads) and the weight of every head.
std::string explain_json(const LoadedRun& run, std::int64_t user, std::int64_t item);

class ScoringService {
 public:
  // `run` must outlive the service.
  ScoringService(LoadedRun& run, const RequestLimits& limits);

  Reply predict(std::string_view body);          // POST /v1/predict
  Reply recommend(std::string_view body) const;  // POST /v1/recommend
  Reply explain(std::string_view body) const;    // POST /v1/explain
  Reply health() const;                          // GET /healthz
  Reply model_info() const;                      // GET /v1/model

  const RequestLimits& limits() const { return limits_; }

 private:
  LoadedRun& run_;
  RequestLimits limits_;
  std::string model_info_;  // built once: the run never changes while served
};

}  // namespace loid
