// Parsing and checking of the scoring service's request bodies (see request.h). No torch here, so
// the parser can be built into a fuzzing harness alone.
#include "serve/request.h"

#include <nlohmann/json.hpp>

namespace loid {

using json = nlohmann::json;

namespace {

constexpr int kBadRequest = 400;
constexpr int kTooLarge = 413;

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::binary:
      return "binary";
    case json::value_t::discarded:
      return "nothing";
    default:
      return "a number";
  }
}

// The body as a JSON object, or RequestError on field "body".
json parse_object(std::string_view body, const RequestLimits& limits) {
  if (body.size() > limits.max_body_bytes)
    throw RequestError(kTooLarge, "body",
                       std::to_string(body.size()) + " bytes; at most " +
                           std::to_string(limits.max_body_bytes) + " per request");
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    throw RequestError(kBadRequest, "body", "empty; send a JSON object");
  if (json_nesting_depth(body) > limits.max_depth)
    throw RequestError(kBadRequest, "body",
                       "JSON nested deeper than " + std::to_string(limits.max_depth) + " levels");
  json v;
  try {
    v = json::parse(body.begin(), body.end());
  } catch (const json::parse_error& e) {
    throw RequestError(kBadRequest, "body",
                       "not valid JSON (at byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception&) {
    throw RequestError(kBadRequest, "body", "not valid JSON (a number out of range)");
  }
  if (!v.is_object())
    throw RequestError(kBadRequest, "body",
                       std::string("must be a JSON object, not ") + type_name(v));
  return v;
}

// Refuses keys of `obj` not in `allowed`, naming the first one.
void only_keys(const json& obj, const std::string& prefix,
               std::initializer_list<const char*> allowed, const std::string& expected) {
  for (const auto& kv : obj.items()) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || kv.key() == a;
    if (!ok)
      throw RequestError(kBadRequest, prefix + (kv.key().empty() ? "\"\"" : kv.key()),
                         "unknown field; expected " + expected);
  }
}

std::string name_field(const json& obj, const char* key, const std::string& field) {
  auto it = obj.find(key);
  if (it == obj.end()) throw RequestError(kBadRequest, field, "missing");
  if (!it->is_string())
    throw RequestError(kBadRequest, field, std::string("must be a string, not ") + type_name(*it));
  std::string s = it->get<std::string>();
  if (s.empty()) throw RequestError(kBadRequest, field, "must not be empty");
  return s;
}

void parse_pairs(const json& pairs, const RequestLimits& limits, PredictRequest& out) {
  if (!pairs.is_array())
    throw RequestError(
        kBadRequest, "pairs",
        std::string("must be an array of {\"user\": ..., \"item\": ...}, not ") + type_name(pairs));
  if (pairs.empty()) throw RequestError(kBadRequest, "pairs", "must not be empty");
  if (pairs.size() > limits.max_pairs)
    throw RequestError(kTooLarge, "pairs",
                       std::to_string(pairs.size()) + " pairs; at most " +
                           std::to_string(limits.max_pairs) + " per request");
  out.pairs.reserve(pairs.size());
  for (std::size_t j = 0; j < pairs.size(); ++j) {
    const std::string f = "pairs[" + std::to_string(j) + "]";
    const json& p = pairs[j];
    if (!p.is_object())
      throw RequestError(
          kBadRequest, f,
          std::string("must be an object {\"user\": ..., \"item\": ...}, not ") + type_name(p));
    only_keys(p, f + ".", {"user", "item"}, "user and item");
    out.pairs.push_back({name_field(p, "user", f + ".user"), name_field(p, "item", f + ".item")});
  }
}

void parse_user_reviews(const json& texts, const RequestLimits& limits, PredictRequest& out) {
  if (!texts.is_array())
    throw RequestError(kBadRequest, "user_reviews",
                       std::string("must be an array of review texts, not ") + type_name(texts));
  if (texts.empty()) throw RequestError(kBadRequest, "user_reviews", "must not be empty");
  if (texts.size() > limits.max_texts)
    throw RequestError(kTooLarge, "user_reviews",
                       std::to_string(texts.size()) + " texts; at most " +
                           std::to_string(limits.max_texts) + " per request");
  for (std::size_t j = 0; j < texts.size(); ++j) {
    const std::string f = "user_reviews[" + std::to_string(j) + "]";
    if (!texts[j].is_string())
      throw RequestError(kBadRequest, f,
                         std::string("must be a string, not ") + type_name(texts[j]));
    const std::string& t = texts[j].get_ref<const std::string&>();
    if (t.find_first_not_of(" \t\r\n") == std::string::npos)
      throw RequestError(kBadRequest, f, "must not be blank");
    if (t.size() > limits.max_text_bytes)
      throw RequestError(kTooLarge, f,
                         std::to_string(t.size()) + " bytes; at most " +
                             std::to_string(limits.max_text_bytes) + " per text");
    out.user_reviews.push_back(t);
  }
}

}  // namespace

std::size_t json_nesting_depth(std::string_view text) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

PredictRequest parse_predict_request(std::string_view body, const RequestLimits& limits) {
  const json v = parse_object(body, limits);
  only_keys(v, "", {"pairs", "user_reviews", "item"}, "pairs, or user_reviews and item");
  const bool has_pairs = v.contains("pairs"), has_texts = v.contains("user_reviews");
  if (has_pairs && has_texts)
    throw RequestError(kBadRequest, "pairs",
                       "give either pairs or user_reviews with item, not both");
  if (!has_pairs && !has_texts)
    throw RequestError(kBadRequest, "pairs",
                       "missing; give {\"pairs\": [{\"user\": ..., \"item\": ...}, ...]} or "
                       "{\"user_reviews\": [...], \"item\": ...}");
  PredictRequest out;
  if (has_pairs) {
    if (v.contains("item"))
      throw RequestError(kBadRequest, "item",
                         "only with user_reviews; with pairs, name items in them");
    parse_pairs(v["pairs"], limits, out);
  } else {
    parse_user_reviews(v["user_reviews"], limits, out);
    out.item = name_field(v, "item", "item");
  }
  return out;
}

RecommendRequest parse_recommend_request(std::string_view body, const RequestLimits& limits) {
  const json v = parse_object(body, limits);
  only_keys(v, "", {"user", "top", "exclude_rated"}, "user, top and exclude_rated");
  RecommendRequest out;
  out.user = name_field(v, "user", "user");
  if (auto it = v.find("top"); it != v.end()) {
    const std::string range = "between 1 and " + std::to_string(limits.max_top);
    if (it->is_number_unsigned()) {
      const auto top = it->get<std::uint64_t>();
      if (top < 1 || top > limits.max_top)
        throw RequestError(kBadRequest, "top", "must be " + range + ", not " + std::to_string(top));
      out.top = static_cast<std::size_t>(top);
    } else if (it->is_number_integer()) {
      throw RequestError(kBadRequest, "top", "must be " + range + ", not " + it->dump());
    } else {
      throw RequestError(kBadRequest, "top",
                         "must be a whole number " + range + ", not " +
                             (it->is_number() ? it->dump() : std::string(type_name(*it))));
    }
  }
  if (auto it = v.find("exclude_rated"); it != v.end()) {
    if (!it->is_boolean())
      throw RequestError(kBadRequest, "exclude_rated",
                         std::string("must be true or false, not ") + type_name(*it));
    out.exclude_rated = it->get<bool>();
  }
  return out;
}

ExplainRequest parse_explain_request(std::string_view body, const RequestLimits& limits) {
  const json v = parse_object(body, limits);
  only_keys(v, "", {"user", "item"}, "user and item");
  ExplainRequest out;
  out.pair.user = name_field(v, "user", "user");
  out.pair.item = name_field(v, "item", "item");
  return out;
}

std::string error_json(const std::string& field, const std::string& message) {
  const json e = {{"error", {{"field", field}, {"message", message}}}};
  return e.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace loid
