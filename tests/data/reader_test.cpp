// read_reviews on hand-made fixtures (tests/fixtures/reviews; expected values worked out by hand)
// and on the real Amazon files when ../shared/data is present (figures from
// tests/fixtures/reviews/real_data_figures.py, an independent Python reading).
#include "data/reader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/progress.h"
#include "data/pyliteral.h"
#include "data/utf8_repair.h"
#include "support/gzip_writer.h"
#include "support/test_paths.h"

namespace loid {
namespace {

using loid::testing::fixture;
using loid::testing::temp_dir;
using loid::testing::write_bytes;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::int64_t> lines_of(const ReviewFile& f) {
  std::vector<std::int64_t> v;
  for (const auto& r : f.reviews) v.push_back(r.line);
  return v;
}

const SkipCount& skip(const ReviewFile& f, const char* reason) {
  static const SkipCount kNone;
  const auto it = f.report.skipped.find(reason);
  return it == f.report.skipped.end() ? kNone : it->second;
}

// Every non-blank line is a record, a duplicate or a skip.
void expect_accounting(const ReviewFile& f) {
  EXPECT_EQ(f.report.lines, f.report.kept + f.report.duplicates_dropped +
                                f.report.repeated_texts_dropped + f.report.skipped_total());
  EXPECT_EQ(f.report.kept, static_cast<std::int64_t>(f.reviews.size()));
}

class ReaderTest : public ::testing::Test {
 protected:
  void SetUp() override { Progress::set_quiet(true); }
};

TEST_F(ReaderTest, Amazon2014JsonLines) {
  const ReviewFile f = read_reviews(fixture("reviews/amazon2014_sample.json"));
  EXPECT_EQ(f.report.format, "json");
  ASSERT_EQ(f.reviews.size(), 3u);
  EXPECT_EQ(f.report.lines, 3);  // the whitespace-only line 3 is blank, not counted
  const Review& a = f.reviews[0];
  EXPECT_EQ(a.user, "U1");
  EXPECT_EQ(a.item, "I1");
  EXPECT_FLOAT_EQ(a.rating, 5.0f);
  EXPECT_EQ(a.text, "Five stars Works great.");
  EXPECT_EQ(a.time, 1393545600);
  EXPECT_EQ(a.line, 1);
  EXPECT_FALSE(a.empty_text);
  // Empty reviewText: kept, flagged, the summary alone is the text.
  EXPECT_EQ(f.reviews[1].text, "Meh");
  EXPECT_TRUE(f.reviews[1].empty_text);
  // Empty summary: the review text alone; JSON escapes decoded.
  EXPECT_EQ(f.reviews[2].text, "Caf\u00e9 noise \u2014 \"quiet\" now");
  EXPECT_EQ(f.reviews[2].line, 4);
  EXPECT_EQ(f.report.empty_text, 1);
  EXPECT_TRUE(f.report.skipped.empty());
  expect_accounting(f);
}

TEST_F(ReaderTest, TextFieldOptions) {
  ReadOptions o;
  o.text = TextFields::kReviewOnly;
  ReviewFile f = read_reviews(fixture("reviews/amazon2014_sample.json"), o);
  EXPECT_EQ(f.reviews[0].text, "Works great.");
  EXPECT_EQ(f.reviews[1].text, "");
  EXPECT_TRUE(f.reviews[1].empty_text);
  o.text = TextFields::kSummaryOnly;
  f = read_reviews(fixture("reviews/amazon2014_sample.json"), o);
  EXPECT_EQ(f.reviews[0].text, "Five stars");
  EXPECT_EQ(f.reviews[2].text, "");
  EXPECT_TRUE(f.reviews[2].empty_text);  // nothing left to read
}

TEST_F(ReaderTest, GzipVariantReadsTheSame) {
  const std::string plain = fixture("reviews/amazon2014_sample.json");
  const std::string gz = temp_dir("reader_gz") + "/reviews_Sample_5.json.gz";
  loid::testing::write_gzip(gz, slurp(plain));
  const ReviewFile a = read_reviews(plain);
  const ReviewFile b = read_reviews(gz);
  ASSERT_EQ(a.reviews.size(), b.reviews.size());
  for (std::size_t i = 0; i < a.reviews.size(); ++i) {
    EXPECT_EQ(a.reviews[i].text, b.reviews[i].text);
    EXPECT_EQ(a.reviews[i].line, b.reviews[i].line);
  }
}

TEST_F(ReaderTest, EveryBadLineIsCountedUnderItsReason) {
  const ReviewFile f = read_reviews(fixture("reviews/bad_lines.json"));
  EXPECT_EQ(f.report.lines, 17);
  EXPECT_EQ(lines_of(f), (std::vector<std::int64_t>{1, 10, 11, 12, 16}));
  EXPECT_EQ(skip(f, kSkipMalformed).first_lines, (std::vector<std::int64_t>{2, 13, 17}));
  EXPECT_EQ(skip(f, kSkipMissingUser).first_lines, (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(skip(f, kSkipMissingItem).first_lines, (std::vector<std::int64_t>{5}));
  EXPECT_EQ(skip(f, kSkipMissingRating).first_lines, (std::vector<std::int64_t>{6, 14}));
  EXPECT_EQ(skip(f, kSkipRatingNotNumber).first_lines, (std::vector<std::int64_t>{7, 15}));
  EXPECT_EQ(skip(f, kSkipRatingOutOfRange).first_lines, (std::vector<std::int64_t>{8, 9}));
  EXPECT_EQ(f.report.skipped_total(), 12);
  // Ratings as "5", 4 and "3.0"; a numeric user id becomes its decimal text.
  EXPECT_FLOAT_EQ(f.reviews[1].rating, 5.0f);
  EXPECT_FLOAT_EQ(f.reviews[2].rating, 4.0f);
  EXPECT_FLOAT_EQ(f.reviews[3].rating, 3.0f);
  EXPECT_EQ(f.reviews[4].user, "12345");
  expect_accounting(f);
}

TEST_F(ReaderTest, MaxExamplesLimitsRememberedLines) {
  ReadOptions o;
  o.max_examples = 2;
  const ReviewFile f = read_reviews(fixture("reviews/bad_lines.json"), o);
  EXPECT_EQ(skip(f, kSkipMalformed).count, 3);
  EXPECT_EQ(skip(f, kSkipMalformed).first_lines, (std::vector<std::int64_t>{2, 13}));
}

TEST_F(ReaderTest, StrictModeNamesFileAndLine) {
  ReadOptions o;
  o.strict = true;
  const std::string p = fixture("reviews/bad_lines.json");
  try {
    read_reviews(p, o);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), p);
    EXPECT_EQ(e.line(), 2);
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(p + ":2: malformed line", 0), 0u) << what;
  }
  const std::string q = temp_dir("reader_strict") + "/r.json";
  write_bytes(q, "{\"reviewerID\": \"a\", \"asin\": \"b\", \"overall\": 9}\n");
  try {
    read_reviews(q, o);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.line(), 1);
    EXPECT_NE(std::string(e.what()).find("rating out of range"), std::string::npos) << e.what();
  }
}

TEST_F(ReaderTest, DuplicatePolicies) {
  const std::string p = fixture("reviews/amazon2018_duplicates.json");
  ReadOptions o;  // latest by unixReviewTime; a tie goes to the later line
  ReviewFile f = read_reviews(p, o);
  EXPECT_EQ(lines_of(f), (std::vector<std::int64_t>{3, 4, 5}));
  EXPECT_EQ(f.report.duplicates_dropped, 3);
  EXPECT_EQ(f.reviews[1].text, "Tie Same time, later line");
  EXPECT_EQ(f.reviews[2].text, "new Earlier line but newer");
  EXPECT_TRUE(f.reviews[0].empty_text);  // no reviewText field at all
  EXPECT_EQ(f.reviews[0].text, "No body");
  expect_accounting(f);

  o.duplicates = DuplicatePolicy::kKeepFirst;
  f = read_reviews(p, o);
  EXPECT_EQ(lines_of(f), (std::vector<std::int64_t>{1, 3, 5}));
  EXPECT_EQ(f.report.duplicates_dropped, 3);
  expect_accounting(f);

  o.duplicates = DuplicatePolicy::kKeepAll;
  f = read_reviews(p, o);
  EXPECT_EQ(lines_of(f), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(f.report.duplicates_dropped, 0);
  expect_accounting(f);
}

TEST_F(ReaderTest, RepeatedTextPolicy) {
  // u1 posts one review on three variants (i1, i2, i3) and another on i4; u2 posts u1's first
  // text on i1; u3 has two empty texts. Only u1's repeats go.
  const std::string p = testing::temp_dir("reader_repeated_texts") + "/repeated.json";
  {
    std::ofstream out(p);
    auto line = [&](const char* u, const char* i, const char* text) {
      out << "{\"reviewerID\": \"" << u << "\", \"asin\": \"" << i << "\", \"overall\": 4.0"
          << (text ? std::string(", \"reviewText\": \"") + text + "\"" : std::string())
          << ", \"unixReviewTime\": 1}\n";
    };
    line("u1", "i1", "Great strings");
    line("u1", "i2", "Great strings");
    line("u1", "i3", "Great strings");
    line("u1", "i4", "Too bright");
    line("u2", "i1", "Great strings");
    line("u3", "i1", nullptr);
    line("u3", "i2", nullptr);
  }
  ReadOptions o;
  ReviewFile f = read_reviews(p, o);
  EXPECT_EQ(f.reviews.size(), 7u);
  EXPECT_EQ(f.report.repeated_texts_dropped, 0);
  expect_accounting(f);

  o.repeated_texts = RepeatedTextPolicy::kDrop;
  f = read_reviews(p, o);
  EXPECT_EQ(lines_of(f), (std::vector<std::int64_t>{1, 4, 5, 6, 7}));
  EXPECT_EQ(f.report.repeated_texts_dropped, 2);
  expect_accounting(f);

  EXPECT_EQ(repeated_text_policy_from_name("drop"), RepeatedTextPolicy::kDrop);
  EXPECT_EQ(name_of(RepeatedTextPolicy::kKeep), "keep");
  EXPECT_THROW(repeated_text_policy_from_name("first"), UsageError);
}

TEST_F(ReaderTest, PythonLiteralLines) {
  const ReviewFile f = read_reviews(fixture("reviews/python_literal.json"));
  EXPECT_EQ(f.report.format, "python-literal");  // by content, despite the .json name
  ASSERT_EQ(f.reviews.size(), 6u);
  EXPECT_EQ(f.reviews[0].user, "A2SUAM1J3GNN3B");
  EXPECT_EQ(f.reviews[0].item, "0000013714");
  EXPECT_EQ(f.reviews[0].time, 1252800000);
  EXPECT_EQ(f.reviews[0].text,
            "Heavenly Highway Hymns I bought this for my husband's piano \u2014 na\u00efve.");
  EXPECT_EQ(f.reviews[1].text, "caf\u00e9 It's a \"classic\"\n with \\ backslash");
  EXPECT_FLOAT_EQ(f.reviews[2].rating, 3.0f);
  EXPECT_EQ(f.reviews[2].text, "Python 2 str bytes caf\u00e9 and tab\there");  // \xc3\xa9 as bytes
  EXPECT_EQ(f.reviews[3].text, "nbsp\u00a0here");  // a lone \xa0 is a code point
  EXPECT_EQ(f.reviews[4].text, "pair emoji \U0001F600 and \u00e9");
  EXPECT_EQ(f.reviews[5].text, "s lone \uFFFD surrogate");
  EXPECT_TRUE(f.reviews[5].utf8_repaired);
  EXPECT_EQ(f.report.utf8_repaired, 1);
  EXPECT_EQ(skip(f, kSkipMalformed).first_lines, (std::vector<std::int64_t>{6}));
  expect_accounting(f);
}

TEST_F(ReaderTest, PythonLiteralParserValues) {
  nlohmann::json j;
  ASSERT_TRUE(parse_python_literal("{'a': [1, -2, 3.5e1, True, False, None, (4,)], 5: 'x'}", j).ok);
  EXPECT_EQ(j["a"], nlohmann::json::parse("[1, -2, 35.0, true, false, null, [4]]"));
  EXPECT_EQ(j["5"], "x");
  ASSERT_TRUE(parse_python_literal(R"('\x41\101\t\'q\' \"d\" \q')", j).ok);
  EXPECT_EQ(j, "AA\t'q' \"d\" \\q");
  ASSERT_TRUE(parse_python_literal(R"(r'raw\n')", j).ok);
  EXPECT_EQ(j, "raw\\n");
  ASSERT_TRUE(parse_python_literal(R"(b'\xff\u00e9')", j).ok);  // bytes: no \u escape
  EXPECT_EQ(j, "\uFFFD\\u00e9");
  for (const char* bad :
       {"{'a': 1", "{'a' 1}", "'open", "{'a': Nonesuch}", "{'a': 1} x", "", "{'a': 1,, }"}) {
    const auto r = parse_python_literal(bad, j);
    EXPECT_FALSE(r.ok) << bad;
    EXPECT_FALSE(r.error.empty()) << bad;
  }
  EXPECT_FALSE(parse_python_literal(std::string(200, '[') + std::string(200, ']'), j).ok);
}

TEST_F(ReaderTest, TsvWithHeaderAliases) {
  const ReviewFile f = read_reviews(fixture("reviews/reviews.tsv"));
  EXPECT_EQ(f.report.format, "tsv");
  EXPECT_EQ(f.report.lines, 6);  // the header is not a data line
  EXPECT_EQ(lines_of(f), (std::vector<std::int64_t>{2, 3, 4, 7}));
  EXPECT_EQ(f.reviews[0].text, "Five Great strings");
  EXPECT_EQ(f.reviews[0].time, 1400000000);
  EXPECT_EQ(f.reviews[1].text, "Four Quoted \"text\" in TSV");
  EXPECT_EQ(f.reviews[2].text, "Three A \"quote\" inside");
  EXPECT_EQ(f.reviews[2].time, 0);  // "notatime"
  EXPECT_EQ(f.reviews[3].text, "Only summary");
  EXPECT_TRUE(f.reviews[3].empty_text);
  EXPECT_EQ(skip(f, kSkipMissingRating).first_lines, (std::vector<std::int64_t>{5}));
  EXPECT_EQ(skip(f, kSkipMalformed).first_lines, (std::vector<std::int64_t>{6}));
  expect_accounting(f);
}

// Found by tests/fuzz/reader_fuzz.cpp under UBSan: a time beyond int64 seconds was converted to
// int64 (undefined behaviour). Such a time is no time, like a date string.
TEST_F(ReaderTest, TimesBeyondInt64AreNoTime) {
  const std::string path = temp_dir("reader_times") + "/times.json";
  write_bytes(
      path,
      "{\"reviewerID\": \"U1\", \"asin\": \"I1\", \"overall\": 4, \"unixReviewTime\": 1.5e300}\n"
      "{\"reviewerID\": \"U2\", \"asin\": \"I1\", \"overall\": 4, \"unixReviewTime\": -1e30}\n"
      "{\"reviewerID\": \"U3\", \"asin\": \"I1\", \"overall\": 4, \"time\": \"9.3e21\"}\n"
      "{\"reviewerID\": \"U4\", \"asin\": \"I1\", \"overall\": 4, \"time\": \"9.2e21\"}\n"
      "{\"reviewerID\": \"U5\", \"asin\": \"I1\", \"overall\": 4, \"time\": 1500000000000}\n");
  const ReviewFile f = read_reviews(path);
  ASSERT_EQ(f.reviews.size(), 5u);
  EXPECT_EQ(f.reviews[0].time, 0);
  EXPECT_EQ(f.reviews[1].time, 0);
  EXPECT_EQ(f.reviews[2].time, 0);  // 9.3e18 s after the millisecond conversion: beyond int64
  EXPECT_EQ(f.reviews[3].time, 9200000000000000000);  // 9.2e18 s still fits
  EXPECT_EQ(f.reviews[4].time, 1500000000);
  expect_accounting(f);
}

TEST_F(ReaderTest, CsvQuotingAndMultiLineFields) {
  const ReviewFile f = read_reviews(fixture("reviews/reviews.csv"));
  EXPECT_EQ(f.report.format, "csv");
  EXPECT_EQ(lines_of(f), (std::vector<std::int64_t>{2, 3, 4, 6}));
  EXPECT_EQ(f.reviews[0].text, "Nice Good, really good");
  EXPECT_FLOAT_EQ(f.reviews[1].rating, 4.0f);
  EXPECT_EQ(f.reviews[1].text, "He said \"wow\" twice");
  EXPECT_EQ(f.reviews[2].text, "Multi Line one\nLine two");
  EXPECT_EQ(f.reviews[3].time, 1500000003);
  EXPECT_EQ(skip(f, kSkipMalformed).first_lines, (std::vector<std::int64_t>{7, 8}));
  EXPECT_EQ(f.report.lines, 6);
  expect_accounting(f);
}

TEST_F(ReaderTest, CsvBomAndUnclosedQuoteAtEnd) {
  const std::string dir = temp_dir("reader_csv");
  write_bytes(dir + "/bom.csv", "\xEF\xBB\xBFuser,item,rating,text\r\nu,i,5,hello\r\n");
  const ReviewFile a = read_reviews(dir + "/bom.csv");
  ASSERT_EQ(a.reviews.size(), 1u);
  EXPECT_EQ(a.reviews[0].text, "hello");
  write_bytes(dir + "/open.csv", "user,item,rating,text\nu,i,5,ok\nu,j,5,\"never closed\nmore\n");
  const ReviewFile b = read_reviews(dir + "/open.csv");
  EXPECT_EQ(b.reviews.size(), 1u);
  EXPECT_EQ(skip(b, kSkipMalformed).first_lines, (std::vector<std::int64_t>{3}));
}

TEST_F(ReaderTest, HeaderWithoutRequiredColumnIsAClearError) {
  const std::string p = fixture("reviews/missing_item.csv");
  try {
    read_reviews(p);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), p);
    EXPECT_EQ(e.line(), 1);
    const std::string what = e.what();
    EXPECT_NE(what.find("no item column"), std::string::npos) << what;
    EXPECT_NE(what.find("asin"), std::string::npos) << what;
    EXPECT_NE(what.find("columns found: user, product_name, rating, text"), std::string::npos)
        << what;
  }
  const std::string q = temp_dir("reader_header") + "/no_text.tsv";
  write_bytes(q, "user\titem\trating\nu\ti\t5\n");
  try {
    read_reviews(q);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no text column"), std::string::npos) << e.what();
  }
}

TEST_F(ReaderTest, FormatDetectionAndUnknownFormat) {
  const std::string dir = temp_dir("reader_detect");
  write_bytes(dir + "/data", "user\titem\trating\ttext\nu\ti\t2\thi\n");  // no extension: tab
  EXPECT_EQ(read_reviews(dir + "/data").report.format, "tsv");
  write_bytes(dir + "/notes.txt", "just some words\n");
  try {
    read_reviews(dir + "/notes.txt");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.line(), 1);
    EXPECT_NE(std::string(e.what()).find("cannot tell the format"), std::string::npos);
  }
  write_bytes(dir + "/empty.json", "\n\n");
  const ReviewFile empty = read_reviews(dir + "/empty.json");
  EXPECT_TRUE(empty.reviews.empty());
  EXPECT_EQ(empty.report.lines, 0);
  EXPECT_THROW(read_reviews(dir + "/absent.json"), InputError);
}

const char* const kBadUtf8 =
    "{\"reviewerID\": \"u1\", \"asin\": \"i1\", \"overall\": 5, \"reviewText\": \"ok\"}\n"
    "{\"reviewerID\": \"u2\", \"asin\": \"i1\", \"overall\": 4, \"reviewText\": \"bad \xff\xfe "
    "byte \xe2\x82\"}\n";

TEST_F(ReaderTest, InvalidUtf8RepairedByDefault) {
  const std::string p = temp_dir("reader_utf8") + "/r.json";
  write_bytes(p, kBadUtf8);
  const ReviewFile f = read_reviews(p);
  ASSERT_EQ(f.reviews.size(), 2u);
  EXPECT_EQ(f.reviews[1].text, "bad \uFFFD\uFFFD byte \uFFFD");
  EXPECT_TRUE(f.reviews[1].utf8_repaired);
  EXPECT_FALSE(f.reviews[0].utf8_repaired);
  EXPECT_EQ(f.report.utf8_repaired, 1);
  EXPECT_TRUE(f.report.skipped.empty());
}

TEST_F(ReaderTest, InvalidUtf8SkippedOrStrict) {
  const std::string p = temp_dir("reader_utf8_skip") + "/r.json";
  write_bytes(p, kBadUtf8);
  ReadOptions o;
  o.invalid_utf8 = Utf8Policy::kSkip;
  const ReviewFile f = read_reviews(p, o);
  ASSERT_EQ(f.reviews.size(), 1u);
  EXPECT_EQ(skip(f, kSkipInvalidUtf8).first_lines, (std::vector<std::int64_t>{2}));
  expect_accounting(f);
  o.strict = true;
  try {
    read_reviews(p, o);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_NE(std::string(e.what()).find("invalid UTF-8"), std::string::npos);
  }
}

TEST_F(ReaderTest, Utf8RepairMatchesPythonReplace) {
  // Expected strings: bytes.decode("utf-8", "replace") in Python 3.
  EXPECT_EQ(utf8_repair("a\xff"
                        "b"),
            "a\uFFFD"
            "b");
  EXPECT_EQ(utf8_repair("\xe0\x80"), "\uFFFD\uFFFD");            // overlong lead + lone cont.
  EXPECT_EQ(utf8_repair("\xed\xa0\x80"), "\uFFFD\uFFFD\uFFFD");  // encoded surrogate
  EXPECT_EQ(utf8_repair("\xf0\x9f\x98"), "\uFFFD");              // truncated 4-byte sequence
  EXPECT_EQ(utf8_repair("\xf4\x90\x80\x80"), "\uFFFD\uFFFD\uFFFD\uFFFD");  // above U+10FFFF
  EXPECT_EQ(utf8_repair("ok \xc3\xa9"), "ok \u00e9");
  EXPECT_EQ(utf8_invalid_offset("ab\xc3"), 2u);
  EXPECT_EQ(utf8_length("\u00e9\U0001F600x"), 3u);
}

TEST_F(ReaderTest, LongLineSkipped) {
  const std::string p = temp_dir("reader_long") + "/r.json";
  const std::string ok = "{\"reviewerID\": \"u\", \"asin\": \"i\", \"overall\": 5}\n";
  write_bytes(p, ok +
                     "{\"reviewerID\": \"v\", \"asin\": \"i\", \"overall\": 5, \"reviewText\": \"" +
                     std::string(5000, 'w') + "\"}\n" + ok);
  ReadOptions o;
  o.max_line_bytes = 200;
  o.duplicates = DuplicatePolicy::kKeepAll;
  const ReviewFile f = read_reviews(p, o);
  EXPECT_EQ(lines_of(f), (std::vector<std::int64_t>{1, 3}));
  EXPECT_EQ(skip(f, kSkipLineTooLong).first_lines, (std::vector<std::int64_t>{2}));
  expect_accounting(f);
  o.strict = true;
  EXPECT_THROW(read_reviews(p, o), InputError);
}

TEST_F(ReaderTest, TruncatedGzipKeepsWhatWasReadOrThrowsWhenStrict) {
  std::string content;
  for (int i = 0; i < 3000; ++i) {
    content += "{\"reviewerID\": \"u" + std::to_string(i) + "\", \"asin\": \"i" +
               std::to_string(i % 17) + "\", \"overall\": " + std::to_string(1 + i % 5) +
               ", \"reviewText\": \"text number " + std::to_string(i) + "\"}\n";
  }
  const std::string gz = loid::testing::gzip_bytes(content);
  const std::string p = temp_dir("reader_trunc") + "/reviews_Cut_5.json.gz";
  write_bytes(p, gz.substr(0, gz.size() * 2 / 3));
  const ReviewFile f = read_reviews(p);
  ASSERT_GT(f.reviews.size(), 100u);
  EXPECT_LT(f.reviews.size(), 3000u);
  const SkipCount& t = skip(f, kSkipTruncatedGzip);
  EXPECT_EQ(t.count, 1);
  ASSERT_EQ(t.first_lines.size(), 1u);
  EXPECT_EQ(t.first_lines[0], f.reviews.back().line);  // the last complete line was kept
  EXPECT_EQ(f.reviews.back().text, "text number " + std::to_string(f.reviews.back().line - 1));
  expect_accounting(f);
  ReadOptions o;
  o.strict = true;
  try {
    read_reviews(p, o);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), p);
    EXPECT_EQ(e.line(), t.first_lines[0]);
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

TEST_F(ReaderTest, OptionNames) {
  EXPECT_EQ(text_fields_from_name("summary+review"), TextFields::kSummaryAndReview);
  EXPECT_EQ(text_fields_from_name("review"), TextFields::kReviewOnly);
  EXPECT_EQ(duplicate_policy_from_name("first"), DuplicatePolicy::kKeepFirst);
  EXPECT_EQ(utf8_policy_from_name("skip"), Utf8Policy::kSkip);
  for (auto v :
       {DuplicatePolicy::kKeepLatest, DuplicatePolicy::kKeepFirst, DuplicatePolicy::kKeepAll}) {
    EXPECT_EQ(duplicate_policy_from_name(name_of(v)), v);
  }
  try {
    text_fields_from_name("body");
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("summary+review, review, summary"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(duplicate_policy_from_name("last"), UsageError);
  EXPECT_THROW(utf8_policy_from_name("ignore"), UsageError);
}

// ---- real data (../shared/data); figures from tests/fixtures/reviews/real_data_figures.py ----

TEST_F(ReaderTest, RealMusicalInstruments2014) {
  LOID_REQUIRE_SHARED(p, "amazon2014/reviews_Musical_Instruments_5.json.gz");
  const ReviewFile f = read_reviews(p);
  EXPECT_EQ(f.report.format, "json");
  EXPECT_EQ(f.reviews.size(), 10261u);
  EXPECT_EQ(f.report.empty_text, 7);
  EXPECT_EQ(f.report.duplicates_dropped, 0);
  EXPECT_EQ(f.report.skipped_total(), 0);
  EXPECT_EQ(f.report.utf8_repaired, 0);
  std::set<std::string> users, items;
  for (const auto& r : f.reviews) {
    users.insert(r.user);
    items.insert(r.item);
  }
  EXPECT_EQ(users.size(), 1429u);
  EXPECT_EQ(items.size(), 900u);
  expect_accounting(f);
}

TEST_F(ReaderTest, RealAllBeauty2018Duplicates) {
  LOID_REQUIRE_SHARED(p, "amazon2018/All_Beauty_5.json.gz");
  const ReviewFile f = read_reviews(p);
  EXPECT_EQ(f.report.lines, 5269);
  EXPECT_EQ(f.report.skipped_total(), 0);
  EXPECT_EQ(f.report.duplicates_dropped, 1177);
  EXPECT_EQ(f.reviews.size(), 4092u);
  EXPECT_EQ(f.report.empty_text, 4);
  ReadOptions all;
  all.duplicates = DuplicatePolicy::kKeepAll;
  EXPECT_EQ(read_reviews(p, all).reviews.size(), 5269u);

  // Dropping repeated texts leaves every (user, non-empty text) once.
  ReadOptions drop;
  drop.repeated_texts = RepeatedTextPolicy::kDrop;
  const ReviewFile d = read_reviews(p, drop);
  EXPECT_GT(d.report.repeated_texts_dropped, 0);
  expect_accounting(d);
  std::set<std::pair<std::string, std::string>> seen;
  for (const Review& r : d.reviews)
    if (!r.empty_text) EXPECT_TRUE(seen.emplace(r.user, r.text).second) << r.user;
}

TEST_F(ReaderTest, RealAmazonFashion2018Duplicates) {
  LOID_REQUIRE_SHARED(p, "amazon2018/AMAZON_FASHION_5.json.gz");
  const ReviewFile f = read_reviews(p);
  EXPECT_EQ(f.report.lines, 3176);
  EXPECT_EQ(f.report.skipped_total(), 0);
  EXPECT_EQ(f.report.duplicates_dropped, 134);
  EXPECT_EQ(f.reviews.size(), 3042u);
  EXPECT_EQ(f.report.empty_text, 16);
}

}  // namespace
}  // namespace loid
