// Request bodies of the scoring service, parsed and checked without a model or a socket: every
// malformed, mistyped, missing, unknown or oversized field becomes a RequestError naming the field,
// so the server answers 4xx and the parser can be unit-tested and fuzzed on its own.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace loid {

// A request the service refuses: the HTTP status to answer (4xx), the field at fault ("body",
// "pairs[2].user", "user_reviews[0]", ...) and a message saying what is wrong.
class RequestError : public Error {
 public:
  RequestError(int status, std::string field, const std::string& message)
      : Error(message), status_(status), field_(std::move(field)) {}
  int status() const { return status_; }
  const std::string& field() const { return field_; }

 private:
  int status_;
  std::string field_;
};

struct RequestLimits {
  std::size_t max_body_bytes = 1 << 20;  // bytes of one request body (413 beyond)
  std::size_t max_pairs = 1024;          // (user, item) pairs in one /v1/predict (413 beyond)
  std::size_t max_texts = 32;            // user_reviews in one cold-user request (413 beyond)
  std::size_t max_text_bytes = 8192;     // bytes of one review text (413 beyond)
  std::size_t max_top = 1000;            // largest `top` of /v1/recommend
  std::size_t max_depth = 16;            // JSON nesting (arrays and objects) of a body
};

struct NamePair {
  std::string user, item;  // ids as in the run's data file
};

// POST /v1/predict: either `pairs` (known users and items) or `user_reviews` + `item` (a user the
// model has no ID for, described by review texts).
struct PredictRequest {
  std::vector<NamePair> pairs;
  std::vector<std::string> user_reviews;
  std::string item;
  bool cold() const { return !user_reviews.empty(); }
};

// POST /v1/recommend.
struct RecommendRequest {
  std::string user;
  std::size_t top = 10;       // items to return, 1..max_top
  bool exclude_rated = true;  // leave out items the user rated in the training split
};

// POST /v1/explain: one known pair.
struct ExplainRequest {
  NamePair pair;
};

// Parse and check a body. Throw RequestError (400 malformed, mistyped, missing or unknown field;
// 413 beyond a limit) and nothing else.
PredictRequest parse_predict_request(std::string_view body, const RequestLimits& limits);
RecommendRequest parse_recommend_request(std::string_view body, const RequestLimits& limits);
ExplainRequest parse_explain_request(std::string_view body, const RequestLimits& limits);

// Deepest nesting of arrays and objects in `text`, brackets inside JSON strings not counted (a
// cheap guard run before the JSON parser).
std::size_t json_nesting_depth(std::string_view text);

// {"error": {"field": field, "message": message}} as text.
std::string error_json(const std::string& field, const std::string& message);

}  // namespace loid
