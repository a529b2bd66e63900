// What the service's request parsers promise for any body, checked in one place for the libFuzzer
// harness (request_fuzz.cpp) and the corpus replay of the normal suite (request_corpus_test.cpp):
// each parser either returns a request within the limits or throws RequestError with a 400 or 413,
// a field, and an error body that is valid JSON; nothing else may escape.
#pragma once

#include <nlohmann/json.hpp>

#include <exception>
#include <string>
#include <string_view>

#include "serve/request.h"

namespace loid::testing {

// Small limits, so that short inputs reach every one of them.
inline RequestLimits fuzz_request_limits() {
  RequestLimits limits;
  limits.max_body_bytes = 2048;
  limits.max_pairs = 4;
  limits.max_texts = 3;
  limits.max_text_bytes = 64;
  limits.max_top = 20;
  return limits;
}

struct RequestCheck {
  bool predict_ok = false;    // parse_predict_request accepted the body
  bool recommend_ok = false;  // parse_recommend_request accepted the body
  bool explain_ok = false;    // parse_explain_request accepted the body
  std::string problem;        // the first broken promise, "" when none
};

namespace detail {

// "" when `e` is a refusal the server can send as it is.
inline std::string refusal_problem(const RequestError& e) {
  if (e.status() != 400 && e.status() != 413)
    return "status " + std::to_string(e.status()) + " is neither 400 nor 413";
  if (e.field().empty()) return "refusal without a field: " + std::string(e.what());
  try {
    const auto body = nlohmann::json::parse(error_json(e.field(), e.what()));
    if (!body.at("error").at("field").is_string()) return "error body without a field string";
  } catch (const std::exception& x) {
    return "error body is not valid JSON: " + std::string(x.what());
  }
  return "";
}

}  // namespace detail

// Runs every parser on `body` with `limits` and checks what they promise.
inline RequestCheck check_request_body(std::string_view body, const RequestLimits& limits) {
  RequestCheck out;
  auto fail = [&out](const std::string& what) {
    if (out.problem.empty()) out.problem = what;
  };
  try {
    const auto p = parse_predict_request(body, limits);
    out.predict_ok = true;
    if (p.pairs.empty() == p.user_reviews.empty()) fail("predict: neither or both forms");
    if (p.pairs.size() > limits.max_pairs) fail("predict: more pairs than the limit");
    if (p.user_reviews.size() > limits.max_texts) fail("predict: more texts than the limit");
    for (const auto& t : p.user_reviews)
      if (t.empty() || t.size() > limits.max_text_bytes) fail("predict: text empty or too long");
    for (const auto& q : p.pairs)
      if (q.user.empty() || q.item.empty()) fail("predict: empty user or item in a pair");
    if (p.cold() && p.item.empty()) fail("predict: cold request without an item");
  } catch (const RequestError& e) {
    if (auto why = detail::refusal_problem(e); !why.empty()) fail("predict: " + why);
  } catch (const std::exception& e) {
    fail("predict: unexpected exception: " + std::string(e.what()));
  }
  try {
    const auto r = parse_recommend_request(body, limits);
    out.recommend_ok = true;
    if (r.user.empty()) fail("recommend: empty user");
    if (r.top < 1 || r.top > limits.max_top) fail("recommend: top outside 1..max_top");
  } catch (const RequestError& e) {
    if (auto why = detail::refusal_problem(e); !why.empty()) fail("recommend: " + why);
  } catch (const std::exception& e) {
    fail("recommend: unexpected exception: " + std::string(e.what()));
  }
  try {
    const auto x = parse_explain_request(body, limits);
    out.explain_ok = true;
    if (x.pair.user.empty() || x.pair.item.empty()) fail("explain: empty user or item");
  } catch (const RequestError& e) {
    if (auto why = detail::refusal_problem(e); !why.empty()) fail("explain: " + why);
  } catch (const std::exception& e) {
    fail("explain: unexpected exception: " + std::string(e.what()));
  }
  return out;
}

}  // namespace loid::testing
