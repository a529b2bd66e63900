// The service's request parser on its own: valid bodies of both /v1/predict forms and of
// /v1/recommend, every refusal with its status and field, the nesting guard, and a seeded mutation
// fuzz in which nothing but RequestError may escape.
#include "serve/request.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/rng.h"

namespace loid {
namespace {

struct Refusal {
  int status;
  std::string field;
  std::string message;
};

template <class F>
Refusal refusal(F&& f) {
  try {
    f();
  } catch (const RequestError& e) {
    return {e.status(), e.field(), e.what()};
  }
  ADD_FAILURE() << "no RequestError";
  return {0, "", ""};
}

// A body and the refusal it must get.
struct Case {
  int status;
  std::string field;
  std::string body;
};

RequestLimits small_limits() {
  RequestLimits l;
  l.max_body_bytes = 4096;
  l.max_pairs = 3;
  l.max_texts = 2;
  l.max_text_bytes = 20;
  l.max_top = 50;
  return l;
}

TEST(ServeRequest, ParsesPairsInOrder) {
  const auto r = parse_predict_request(
      R"({"pairs": [{"user": "u1", "item": "i1"}, {"item": "i2", "user": "u2"}]})", {});
  EXPECT_FALSE(r.cold());
  ASSERT_EQ(r.pairs.size(), 2u);
  EXPECT_EQ(r.pairs[0].user, "u1");
  EXPECT_EQ(r.pairs[0].item, "i1");
  EXPECT_EQ(r.pairs[1].user, "u2");
  EXPECT_EQ(r.pairs[1].item, "i2");
}

TEST(ServeRequest, ParsesAColdUser) {
  const auto r = parse_predict_request(
      " {\"user_reviews\": [\"great tone\", \"caf\\u00e9 [not] {json}\"], \"item\": \"i9\"}\n", {});
  EXPECT_TRUE(r.cold());
  ASSERT_EQ(r.user_reviews.size(), 2u);
  EXPECT_EQ(r.user_reviews[1], "caf\xc3\xa9 [not] {json}");
  EXPECT_EQ(r.item, "i9");
  EXPECT_TRUE(r.pairs.empty());
}

TEST(ServeRequest, ParsesRecommendWithDefaults) {
  auto r = parse_recommend_request(R"({"user": "u1"})", {});
  EXPECT_EQ(r.user, "u1");
  EXPECT_EQ(r.top, 10u);
  EXPECT_TRUE(r.exclude_rated);
  r = parse_recommend_request(R"({"user": "u1", "top": 3, "exclude_rated": false})", {});
  EXPECT_EQ(r.top, 3u);
  EXPECT_FALSE(r.exclude_rated);
}

TEST(ServeRequest, RefusesEveryBadPredictBodyNamingTheField) {
  const RequestLimits l = small_limits();
  const std::string long_text(21, 'a');
  const std::vector<Case> cases = {
      {400, "body", ""},
      {400, "body", "   \n"},
      {400, "body", "{\"pairs\": ["},
      {400, "body", "[1, 2]"},
      {400, "body", "\"text\""},
      {400, "body", "{\"pairs\": 1e999}"},
      {400, "body", "{\"a\": 1} trailing"},
      {400, "body", std::string(17, '[') + std::string(17, ']')},
      {413, "body", "{\"pairs\": [], \"x\": \"" + std::string(5000, 'x') + "\"}"},
      {400, "pairs", "{}"},
      {400, "pairs", R"({"pairs": {"user": "u", "item": "i"}})"},
      {400, "pairs", R"({"pairs": []})"},
      {413, "pairs",
       R"({"pairs": [{"user":"u","item":"i"},{"user":"u","item":"i"},)"
       R"({"user":"u","item":"i"},{"user":"u","item":"i"}]})"},
      {400, "pairs[0]", R"({"pairs": ["u:i"]})"},
      {400, "pairs[1].user", R"({"pairs": [{"user":"u","item":"i"},{"item":"i"}]})"},
      {400, "pairs[0].user", R"({"pairs": [{"user": 7, "item": "i"}]})"},
      {400, "pairs[0].item", R"({"pairs": [{"user": "u", "item": null}]})"},
      {400, "pairs[0].item", R"({"pairs": [{"user": "u", "item": ""}]})"},
      {400, "pairs[0].rating", R"({"pairs": [{"user": "u", "item": "i", "rating": 5}]})"},
      {400, "pair", R"({"pair": [{"user": "u", "item": "i"}]})"},
      {400, "pairs", R"({"pairs": [{"user": "u", "item": "i"}], "user_reviews": ["t"]})"},
      {400, "item", R"({"pairs": [{"user": "u", "item": "i"}], "item": "i"})"},
      {400, "user_reviews", R"({"user_reviews": "one text", "item": "i"})"},
      {400, "user_reviews", R"({"user_reviews": [], "item": "i"})"},
      {413, "user_reviews", R"({"user_reviews": ["a", "b", "c"], "item": "i"})"},
      {400, "user_reviews[1]", R"({"user_reviews": ["a", 2], "item": "i"})"},
      {400, "user_reviews[0]", R"({"user_reviews": [" \n"], "item": "i"})"},
      {413, "user_reviews[1]",
       "{\"user_reviews\": [\"a\", \"" + long_text + "\"], \"item\": \"i\"}"},
      {400, "item", R"({"user_reviews": ["a"]})"},
      {400, "item", R"({"user_reviews": ["a"], "item": ["i"]})"},
  };
  for (const auto& c : cases) {
    const Refusal r = refusal([&] { parse_predict_request(c.body, l); });
    EXPECT_EQ(r.status, c.status) << c.body.substr(0, 120) << " -> " << r.message;
    EXPECT_EQ(r.field, c.field) << c.body.substr(0, 120) << " -> " << r.message;
    EXPECT_FALSE(r.message.empty());
  }
}

TEST(ServeRequest, RefusesEveryBadRecommendBodyNamingTheField) {
  const RequestLimits l = small_limits();
  const std::vector<Case> cases = {
      {400, "body", "{user: u}"},
      {400, "user", "{}"},
      {400, "user", R"({"user": 12})"},
      {400, "top", R"({"user": "u", "top": 0})"},
      {400, "top", R"({"user": "u", "top": -4})"},
      {400, "top", R"({"user": "u", "top": 51})"},
      {400, "top", R"({"user": "u", "top": 2.5})"},
      {400, "top", R"({"user": "u", "top": "10"})"},
      {400, "top", R"({"user": "u", "top": 99999999999999999999999})"},
      {400, "exclude_rated", R"({"user": "u", "exclude_rated": "no"})"},
      {400, "limit", R"({"user": "u", "limit": 3})"},
      {400, "\"\"", R"({"user": "u", "": 3})"},
  };
  for (const auto& c : cases) {
    const Refusal r = refusal([&] { parse_recommend_request(c.body, l); });
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.message;
    EXPECT_EQ(r.field, c.field) << c.body << " -> " << r.message;
  }
}

TEST(ServeRequest, ParsesExplainAndRefusesBadBodiesNamingTheField) {
  const auto x = parse_explain_request(R"({"item": "i 2", "user": "u1"})", {});
  EXPECT_EQ(x.pair.user, "u1");
  EXPECT_EQ(x.pair.item, "i 2");
  const RequestLimits l = small_limits();
  const std::vector<Case> cases = {
      {400, "body", "[]"},
      {400, "item", R"({"user": "u"})"},
      {400, "user", R"({"item": "i"})"},
      {400, "user", R"({"user": "", "item": "i"})"},
      {400, "item", R"({"user": "u", "item": 3})"},
      {400, "top", R"({"user": "u", "item": "i", "top": 3})"},
  };
  for (const auto& c : cases) {
    const Refusal r = refusal([&] { parse_explain_request(c.body, l); });
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.message;
    EXPECT_EQ(r.field, c.field) << c.body << " -> " << r.message;
  }
}

TEST(ServeRequest, MessagesSayWhatIsWrong) {
  const RequestLimits l = small_limits();
  EXPECT_NE(refusal([&] {
              parse_predict_request(R"({"pairs": [{"user": 7, "item": "i"}]})", l);
            }).message.find("must be a string, not a number"),
            std::string::npos);
  EXPECT_NE(refusal([&] {
              parse_predict_request(R"({"pairs": [{"user":"u","item":"i"},{"user":"u","item":"i"},)"
                                    R"({"user":"u","item":"i"},{"user":"u","item":"i"}]})",
                                    l);
            }).message.find("4 pairs; at most 3"),
            std::string::npos);
  EXPECT_NE(
      refusal([&] { parse_predict_request("{\"pairs\": [", l); }).message.find("not valid JSON"),
      std::string::npos);
}

TEST(ServeRequest, NestingDepthIgnoresBracketsInStrings) {
  EXPECT_EQ(json_nesting_depth("{}"), 1u);
  EXPECT_EQ(json_nesting_depth(R"({"a": [[1], {"b": []}]})"), 4u);
  EXPECT_EQ(json_nesting_depth(R"({"a": "[[[[{{{"})"), 1u);
  EXPECT_EQ(json_nesting_depth(R"({"a": "\"[[[", "b": [1]})"), 2u);
  EXPECT_EQ(json_nesting_depth("]]]}}"), 0u);
  EXPECT_EQ(json_nesting_depth(std::string(100000, '[')), 100000u);
}

TEST(ServeRequest, ErrorJsonHasFieldAndMessage) {
  const auto e = nlohmann::json::parse(error_json("pairs[0].user", "bad \"x\""));
  EXPECT_EQ(e["error"]["field"], "pairs[0].user");
  EXPECT_EQ(e["error"]["message"], "bad \"x\"");
  // Invalid UTF-8 in a message cannot break the JSON.
  EXPECT_NO_THROW(nlohmann::json::parse(error_json("f", "caf\xc3")));
}

// Random mutations of valid bodies (byte flips, insertions, deletions, truncations, splices) and
// random bytes: each parser either accepts, with its invariants, or throws RequestError.
TEST(ServeRequest, FuzzOnlyRequestErrorEscapes) {
  const RequestLimits l = small_limits();
  const std::vector<std::string> seeds = {
      R"({"pairs": [{"user": "u1", "item": "i1"}, {"user": "u2", "item": "i2"}]})",
      R"({"user_reviews": ["great tone", "bad cable"], "item": "i9"})",
      R"({"user": "u1", "top": 5, "exclude_rated": false})",
      "{\"pairs\": [{\"user\": \"\\u00e9\\ud83d\\ude00\", \"item\": \"x\"}]}",
  };
  const std::string alphabet = "{}[]\":,\\ 0123456789.eE+-truefalsn\x80\xff\xc3\xa9";
  Rng rng(20240901);
  std::size_t accepted = 0;
  for (int iter = 0; iter < 30000; ++iter) {
    std::string s = seeds[rng.below(seeds.size())];
    const int edits = 1 + static_cast<int>(rng.below(4));
    for (int e = 0; e < edits; ++e) {
      const std::size_t pos = s.empty() ? 0 : rng.below(s.size());
      const char c = alphabet[rng.below(alphabet.size())];
      switch (rng.below(6)) {
        case 0:
          if (!s.empty()) s[pos] = c;
          break;
        case 1:
          s.insert(s.begin() + static_cast<std::ptrdiff_t>(pos), c);
          break;
        case 2:
          if (!s.empty()) s.erase(pos, 1 + rng.below(8));
          break;
        case 3:
          s.resize(pos);
          break;
        case 4:
          s.insert(pos, seeds[rng.below(seeds.size())]);
          break;
        default: {
          std::string junk(rng.below(16), ' ');
          for (char& j : junk) j = static_cast<char>(rng.below(256));
          s.insert(pos, junk);
        }
      }
    }
    try {
      const auto p = parse_predict_request(s, l);
      ++accepted;
      EXPECT_NE(p.pairs.empty(), p.user_reviews.empty()) << s;
      EXPECT_LE(p.pairs.size(), l.max_pairs);
      EXPECT_LE(p.user_reviews.size(), l.max_texts);
      for (const auto& t : p.user_reviews) EXPECT_LE(t.size(), l.max_text_bytes);
      for (const auto& q : p.pairs) EXPECT_FALSE(q.user.empty() || q.item.empty()) << s;
    } catch (const RequestError& e) {
      EXPECT_TRUE(e.status() == 400 || e.status() == 413) << s;
      EXPECT_FALSE(e.field().empty()) << s;
    }
    try {
      const auto r = parse_recommend_request(s, l);
      ++accepted;
      EXPECT_GE(r.top, 1u);
      EXPECT_LE(r.top, l.max_top);
      EXPECT_FALSE(r.user.empty());
    } catch (const RequestError& e) {
      EXPECT_TRUE(e.status() == 400 || e.status() == 413) << s;
    }
  }
  EXPECT_GT(accepted, 100u);  // the mutations also reach the accepting paths
}

}  // namespace
}  // namespace loid
