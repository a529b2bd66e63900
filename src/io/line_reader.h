// Line-by-line reading of plain or gzip files (gzip detected by its magic bytes) with 1-based line
// numbers, bounded memory, and detection of truncated or corrupt gzip streams.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace loid {

struct LineReaderOptions {
  std::size_t max_line_bytes = 1 << 20;  // longer lines come back with too_long set and no text
  std::size_t chunk_bytes = 1 << 18;     // read/inflate buffer size in bytes
};

struct InputLine {
  std::string text;         // without the line ending ("\n" or "\r\n"); empty when too_long
  std::int64_t number = 0;  // 1-based line number in the (decompressed) file
  bool too_long = false;    // the line exceeded max_line_bytes; its bytes were discarded
  std::size_t length = 0;   // length in bytes without the line ending (also when too_long)
};

// What ended the stream. kTruncated/kCorrupt only happen for gzip input.
enum class StreamEnd { kNotYet, kClean, kTruncated, kCorrupt };

class LineReader {
 public:
  // Opens `path`; throws InputError naming the file when it cannot be opened.
  explicit LineReader(std::string path, LineReaderOptions options = {});
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Reads the next line into `line`. Returns false at the end of the data; then end() says whether
  // the stream ended cleanly. A final line without a newline is returned normally for plain files;
  // for a damaged gzip stream the incomplete last line is dropped (it would be cut mid-record).
  bool next(InputLine& line);

  // Throws InputError (file, last complete line) when the gzip stream was truncated or corrupt.
  void throw_if_damaged() const;

  StreamEnd end() const { return end_; }
  const std::string& damage() const { return damage_; }  // what was wrong ("" when clean)
  std::int64_t last_complete_line() const { return last_complete_; }
  bool gzip() const { return gzip_; }
  const std::string& path() const { return path_; }
  std::uint64_t file_bytes_read() const { return file_bytes_; }  // compressed bytes consumed
  std::uint64_t file_size() const { return file_size_; }

 private:
  bool fill();          // refills out_ with more (decompressed) bytes; false at end of data
  bool fill_raw();      // refills in_ from the file; false at end of file
  bool inflate_more();  // inflates in_ into out_; sets end_ on the end of the stream

  std::string path_;
  LineReaderOptions options_;
  std::FILE* file_ = nullptr;
  bool gzip_ = false;
  z_stream zs_{};
  bool zs_init_ = false;
  bool member_done_ = false;  // a gzip member ended; more may follow
  std::vector<char> in_;      // raw file bytes
  std::size_t in_pos_ = 0, in_len_ = 0;
  std::vector<char> out_;  // decoded bytes waiting to be split into lines
  std::size_t out_pos_ = 0, out_len_ = 0;
  bool raw_eof_ = false;
  StreamEnd end_ = StreamEnd::kNotYet;
  std::string damage_;
  std::int64_t line_no_ = 0;
  std::int64_t last_complete_ = 0;
  std::uint64_t file_bytes_ = 0;
  std::uint64_t file_size_ = 0;
};

}  // namespace loid
