// The scoring service's request handling on a loaded run (see service.h).
#include "serve/service.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "nn/peft.h"
#include "train/loid_train.h"
#include "train/run_config.h"

namespace loid {

using json = nlohmann::json;

namespace {

constexpr int kNotFound = 404;

// At most 80 bytes of `s` (cut on a UTF-8 character boundary) in quotes, for messages.
std::string quoted(const std::string& s) {
  std::size_t n = std::min<std::size_t>(s.size(), 80);
  while (n > 0 && n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return "'" + s.substr(0, n) + (n < s.size() ? "...'" : "'");
}

// A rating as JSON: 6 decimals are plenty, and print as such.
double rounded(float x) {
  return std::round(static_cast<double>(x) * 1e6) / 1e6;
}

std::string dump(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

Reply error_reply(int status, const std::string& field, const std::string& message) {
  return {status, error_json(field, message), 0};
}

// Runs `f`, turning a refused request into its 4xx and any other failure into a 500 (a fault of
// the service or the run, never of the request).
template <class F>
Reply guarded(F&& f) {
  try {
    return f();
  } catch (const RequestError& e) {
    return error_reply(e.status(), e.field(), e.what());
  } catch (const UsageError& e) {
    return error_reply(400, "body", e.what());
  } catch (const std::exception& e) {
    return error_reply(500, "", std::string("internal error: ") + e.what());
  }
}

json adapters_json(const LoadedRun& run) {
  json a = {{"plugins", train_config_json(run.settings()).at("plugins")}};
  const std::string target = run.dir() + "/" + kRunTargetAdapter;
  if (file_exists(target + "/" + kAdapterConfigFile)) {
    json t = {{"path", target}};
    try {
      t["config"] = json::parse(read_file(target + "/" + kAdapterConfigFile));
    } catch (const std::exception& e) {
      t["config_error"] = e.what();
    }
    a["target"] = t;
  } else {
    a["target"] = nullptr;  // frozen-encoder runs have no target adapter
  }
  return a;
}

}  // namespace

ScoringService::ScoringService(LoadedRun& run, const RequestLimits& limits)
    : run_(run), limits_(limits) {
  // Known pairs are scored from tables built once here, not when the first request arrives.
  const std::size_t precomputed_bytes = run.precomputed().bytes();
  json info = {{"run", run.dir()},
               {"protocol", run.leaky() ? "paper-leaky" : "leak-free"},
               {"leaky", run.leaky()},
               {"k", run.k()},
               {"users", run.dataset().num_users()},
               {"items", run.dataset().num_items()},
               {"config", run.config()},
               {"metrics", run.metrics()},
               {"adapters", adapters_json(run)},
               {"precomputed_bytes", precomputed_bytes},
               {"limits",
                {{"max_body_bytes", limits.max_body_bytes},
                 {"max_pairs", limits.max_pairs},
                 {"max_texts", limits.max_texts},
                 {"max_text_bytes", limits.max_text_bytes},
                 {"max_top", limits.max_top}}}};
  if (run.leaky()) info["warning"] = "LEAKY: the run used the paper-leaky protocol";
  // A few users to start from (the explain page offers them).
  json examples = json::array();
  for (std::int64_t u = 0; u < std::min<std::int64_t>(20, run.dataset().num_users()); ++u)
    examples.push_back(run.dataset().user_name(u));
  info["example_users"] = examples;
  model_info_ = dump(info);
}

Reply ScoringService::predict(std::string_view body) {
  return guarded([&] {
    const PredictRequest req = parse_predict_request(body, limits_);
    const Dataset& d = run_.dataset();
    json out = {{"predictions", json::array()}};
    if (req.cold()) {
      const std::int64_t item = d.find_item(req.item);
      if (item < 0)
        throw RequestError(kNotFound, "item",
                           "item " + quoted(req.item) + " is not known to the run");
      const auto p = run_.predict_for_texts(req.user_reviews, {item});
      out["predictions"].push_back({{"item", req.item}, {"rating", rounded(p.at(0))}});
      out["known_user"] = false;
      out["user_reviews_used"] = std::min(req.user_reviews.size(), run_.k());
    } else {
      std::vector<std::int64_t> users(req.pairs.size()), items(req.pairs.size());
      for (std::size_t j = 0; j < req.pairs.size(); ++j) {
        auto f = [j](const char* key) { return "pairs[" + std::to_string(j) + "]." + key; };
        users[j] = d.find_user(req.pairs[j].user);
        if (users[j] < 0)
          throw RequestError(kNotFound, f("user"),
                             "user " + quoted(req.pairs[j].user) +
                                 " is not known to the run; score a new user with "
                                 "{\"user_reviews\": [...], \"item\": ...}");
        items[j] = d.find_item(req.pairs[j].item);
        if (items[j] < 0)
          throw RequestError(kNotFound, f("item"),
                             "item " + quoted(req.pairs[j].item) + " is not known to the run");
      }
      const auto p = run_.predict_precomputed(users, items);
      for (std::size_t j = 0; j < p.size(); ++j)
        out["predictions"].push_back(
            {{"user", req.pairs[j].user}, {"item", req.pairs[j].item}, {"rating", rounded(p[j])}});
    }
    if (run_.leaky()) out["warning"] = "LEAKY: the run used the paper-leaky protocol";
    return Reply{200, dump(out), out["predictions"].size()};
  });
}

Reply ScoringService::recommend(std::string_view body) const {
  return guarded([&] {
    const RecommendRequest req = parse_recommend_request(body, limits_);
    const std::int64_t user = run_.dataset().find_user(req.user);
    if (user < 0)
      throw RequestError(kNotFound, "user",
                         "user " + quoted(req.user) +
                             " is not known to the run; a new user can be scored per item "
                             "through /v1/predict with user_reviews");
    json out = {{"user", req.user}, {"items", json::array()}};
    for (const auto& [item, score] : run_.recommend(user, req.top, req.exclude_rated))
      out["items"].push_back({{"item", run_.dataset().item_name(item)}, {"score", rounded(score)}});
    if (run_.leaky()) out["warning"] = "LEAKY: the run used the paper-leaky protocol";
    return Reply{200, dump(out), out["items"].size()};
  });
}

namespace {

// A side's context reviews with their attention weights (total and per head), heaviest first.
json weighted_reviews(const Dataset& d, const std::vector<std::int64_t>& ids,
                      const std::vector<float>& total,
                      const std::vector<std::vector<float>>& by_head, const char* other) {
  std::vector<std::size_t> slots;
  for (std::size_t s = 0; s < ids.size(); ++s)
    if (ids[s] >= 0) slots.push_back(s);
  std::stable_sort(slots.begin(), slots.end(),
                   [&](std::size_t a, std::size_t b) { return total[a] > total[b]; });
  json out = json::array();
  for (std::size_t s : slots) {
    const Review& r = d.review(ids[s]);
    json heads = json::array();
    for (const auto& h : by_head) heads.push_back(rounded(h[s]));
    out.push_back({{other, std::string(other) == "item" ? r.item : r.user},
                   {"rating", r.rating},
                   {"text", r.text},
                   {"line", r.line},
                   {"weight", rounded(total[s])},
                   {"weight_by_head", heads}});
  }
  return out;
}

}  // namespace

std::string explain_json(const LoadedRun& run, std::int64_t user, std::int64_t item) {
  const Dataset& d = run.dataset();
  const PairExplanation x = run.explain(user, item);
  const LoidExplanation& p = x.parts;
  json parts = {{"mean", rounded(p.mean)}};
  if (p.has_biases) {
    parts["user_bias"] = rounded(p.user_bias);
    parts["item_bias"] = rounded(p.item_bias);
  }
  if (p.has_factors) parts["factors"] = rounded(p.factors);
  parts["text"] = rounded(p.text);
  json out = {{"user", d.user_name(user)},
              {"item", d.item_name(item)},
              {"rating", rounded(std::min(5.0f, std::max(1.0f, p.prediction)))},
              {"unclamped", rounded(p.prediction)},
              {"parts", parts},
              {"heads", p.user_reviews_by_head.size()},
              // The item's ID reads the user's reviews; the user's ID reads the item's.
              {"user_reviews", weighted_reviews(d, x.user_reviews, p.user_reviews_total,
                                                p.user_reviews_by_head, "item")},
              {"item_reviews", weighted_reviews(d, x.item_reviews, p.item_reviews_total,
                                                p.item_reviews_by_head, "user")}};
  if (run.leaky()) out["warning"] = "LEAKY: the run used the paper-leaky protocol";
  return dump(out);
}

Reply ScoringService::explain(std::string_view body) const {
  return guarded([&] {
    const ExplainRequest req = parse_explain_request(body, limits_);
    const Dataset& d = run_.dataset();
    const std::int64_t user = d.find_user(req.pair.user);
    if (user < 0)
      throw RequestError(kNotFound, "user",
                         "user " + quoted(req.pair.user) + " is not known to the run");
    const std::int64_t item = d.find_item(req.pair.item);
    if (item < 0)
      throw RequestError(kNotFound, "item",
                         "item " + quoted(req.pair.item) + " is not known to the run");
    return Reply{200, explain_json(run_, user, item), 1};
  });
}

Reply ScoringService::health() const {
  return {200,
          dump({{"status", "ok"},
                {"users", run_.dataset().num_users()},
                {"items", run_.dataset().num_items()}}),
          0};
}

Reply ScoringService::model_info() const {
  return {200, model_info_, 0};
}

}  // namespace loid
