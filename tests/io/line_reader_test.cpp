// LineReader: plain and gzip input, line numbers, CRLF, long lines, and damaged gzip streams.
#include "io/line_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "support/gzip_writer.h"
#include "support/test_paths.h"

namespace loid {
namespace {

using loid::testing::gzip_bytes;
using loid::testing::temp_dir;
using loid::testing::write_bytes;

struct Read {
  std::vector<std::string> texts;
  std::vector<std::int64_t> numbers;
  std::vector<bool> too_long;
  StreamEnd end = StreamEnd::kNotYet;
  std::int64_t last_complete = 0;
};

Read read_all(const std::string& path, LineReaderOptions opt = {}) {
  LineReader reader(path, opt);
  Read r;
  InputLine line;
  while (reader.next(line)) {
    r.texts.push_back(line.text);
    r.numbers.push_back(line.number);
    r.too_long.push_back(line.too_long);
  }
  r.end = reader.end();
  r.last_complete = reader.last_complete_line();
  return r;
}

const std::string kText = "first\r\nsecond\n\nfourth\r\n  fifth  \nlast without newline";
const std::vector<std::string> kLines = {"first",  "second",    "",
                                         "fourth", "  fifth  ", "last without newline"};

TEST(LineReader, PlainFileLinesCrlfAndFinalLine) {
  const std::string p = temp_dir("lr_plain") + "/a.txt";
  write_bytes(p, kText);
  const Read r = read_all(p);
  EXPECT_EQ(r.texts, kLines);
  EXPECT_EQ(r.numbers, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(r.end, StreamEnd::kClean);
}

TEST(LineReader, GzipDetectedByMagicNotExtension) {
  const std::string dir = temp_dir("lr_gzip");
  write_bytes(dir + "/no_extension", gzip_bytes(kText));
  write_bytes(dir + "/plain.gz", kText);  // a .gz name holding plain text is read as plain
  LineReader gz(dir + "/no_extension");
  EXPECT_TRUE(gz.gzip());
  LineReader plain(dir + "/plain.gz");
  EXPECT_FALSE(plain.gzip());
  EXPECT_EQ(read_all(dir + "/no_extension").texts, kLines);
  EXPECT_EQ(read_all(dir + "/plain.gz").texts, kLines);
}

TEST(LineReader, TinyChunksSplitLinesAndCrlfAcrossBuffers) {
  const std::string dir = temp_dir("lr_chunks");
  std::string content;
  for (int i = 0; i < 200; ++i) content += "line " + std::to_string(i) + "\r\n";
  write_bytes(dir + "/a.txt", content);
  write_bytes(dir + "/a.gz", gzip_bytes(content));
  LineReaderOptions opt;
  opt.chunk_bytes = 16;
  for (const char* name : {"/a.txt", "/a.gz"}) {
    const Read r = read_all(dir + name, opt);
    ASSERT_EQ(r.texts.size(), 200u) << name;
    for (int i = 0; i < 200; ++i) EXPECT_EQ(r.texts[i], "line " + std::to_string(i)) << name;
    EXPECT_EQ(r.end, StreamEnd::kClean);
  }
}

TEST(LineReader, ConcatenatedGzipMembersAndZeroPadding) {
  const std::string p = temp_dir("lr_members") + "/m.gz";
  write_bytes(p, gzip_bytes("a\nb\n") + gzip_bytes("c\n") + std::string(10, '\0'));
  const Read r = read_all(p);
  EXPECT_EQ(r.texts, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(r.end, StreamEnd::kClean);
}

TEST(LineReader, EmptyFiles) {
  const std::string dir = temp_dir("lr_empty");
  write_bytes(dir + "/empty.txt", "");
  write_bytes(dir + "/empty.gz", gzip_bytes(""));
  EXPECT_TRUE(read_all(dir + "/empty.txt").texts.empty());
  const Read g = read_all(dir + "/empty.gz");
  EXPECT_TRUE(g.texts.empty());
  EXPECT_EQ(g.end, StreamEnd::kClean);
}

TEST(LineReader, LongLineReportedWithoutKeepingIt) {
  const std::string p = temp_dir("lr_long") + "/long.txt";
  const std::string huge(3'000'000, 'x');
  write_bytes(p, "short\n" + huge + "\r\n1234567890\r\n12345678901\nafter");
  LineReaderOptions opt;
  opt.max_line_bytes = 10;
  opt.chunk_bytes = 4096;
  LineReader reader(p, opt);
  InputLine line;
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(line.text, "short");
  ASSERT_TRUE(reader.next(line));
  EXPECT_TRUE(line.too_long);
  EXPECT_EQ(line.number, 2);
  EXPECT_EQ(line.length, huge.size());
  EXPECT_TRUE(line.text.empty());
  EXPECT_LT(line.text.capacity(), 4096u);  // never held the 3 MB line
  ASSERT_TRUE(reader.next(line));          // exactly at the limit (CR not counted)
  EXPECT_FALSE(line.too_long);
  EXPECT_EQ(line.text, "1234567890");
  ASSERT_TRUE(reader.next(line));  // one byte over
  EXPECT_TRUE(line.too_long);
  EXPECT_EQ(line.length, 11u);
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(line.text, "after");
  EXPECT_EQ(line.number, 5);
  EXPECT_FALSE(reader.next(line));
}

std::string numbered_lines(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) {
    s += "{\"line\": " + std::to_string(i) + ", \"pad\": \"" + std::string(i % 37, 'z') + "\"}\n";
  }
  return s;
}

TEST(LineReader, TruncatedGzipIsReportedNotTreatedAsEof) {
  const std::string dir = temp_dir("lr_trunc");
  const std::string content = numbered_lines(2000);
  const std::string gz = gzip_bytes(content);
  // Cut in the deflate data, just before the trailer, and inside the trailer.
  for (const std::size_t cut : {gz.size() / 2, gz.size() - 9, gz.size() - 3}) {
    const std::string p = dir + "/cut_" + std::to_string(cut) + ".json.gz";
    write_bytes(p, gz.substr(0, cut));
    const Read r = read_all(p);
    EXPECT_EQ(r.end, StreamEnd::kTruncated) << cut;
    ASSERT_FALSE(r.texts.empty());
    // Every returned line is complete and numbered consecutively.
    EXPECT_EQ(r.last_complete, static_cast<std::int64_t>(r.texts.size()));
    EXPECT_EQ(r.texts.back(), "{\"line\": " + std::to_string(r.texts.size()) + ", \"pad\": \"" +
                                  std::string(r.texts.size() % 37, 'z') + "\"}");
    LineReader reader(p);
    InputLine line;
    while (reader.next(line)) {
    }
    try {
      reader.throw_if_damaged();
      FAIL() << "expected InputError";
    } catch (const InputError& e) {
      EXPECT_EQ(e.file(), p);
      EXPECT_EQ(e.line(), r.last_complete);
      EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
      EXPECT_NE(
          std::string(e.what()).find("last complete line is " + std::to_string(r.last_complete)),
          std::string::npos)
          << e.what();
    }
  }
}

TEST(LineReader, CorruptGzipAndTrailingGarbage) {
  const std::string dir = temp_dir("lr_corrupt");
  const std::string content = numbered_lines(500);
  std::string gz = gzip_bytes(content);
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 6] ^= 0x55;  // CRC-32 field of the trailer
  write_bytes(dir + "/crc.gz", bad_crc);
  const Read crc = read_all(dir + "/crc.gz");
  EXPECT_EQ(crc.end, StreamEnd::kCorrupt);

  write_bytes(dir + "/garbage.gz", gz + "not gzip");
  const Read garbage = read_all(dir + "/garbage.gz");
  EXPECT_EQ(garbage.end, StreamEnd::kCorrupt);
  EXPECT_EQ(garbage.texts.size(), 500u);  // everything before the garbage was intact

  std::string flipped = gz;
  for (std::size_t i = 20; i < 60; ++i) flipped[i] = static_cast<char>(~flipped[i]);
  write_bytes(dir + "/flipped.gz", flipped);
  const Read f = read_all(dir + "/flipped.gz");
  EXPECT_EQ(f.end, StreamEnd::kCorrupt);
  EXPECT_LT(f.texts.size(), 500u);
}

TEST(LineReader, MissingFileAndDirectoryNameThePath) {
  const std::string dir = temp_dir("lr_missing");
  try {
    LineReader r(dir + "/nope.json");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), dir + "/nope.json");
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos);
  }
  EXPECT_THROW(LineReader r(dir), InputError);
}

}  // namespace
}  // namespace loid
