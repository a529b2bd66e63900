// LineReader: buffered line splitting over a plain file or a (possibly multi-member) gzip stream.
// zlib is driven directly rather than through gzgets so that a stream that stops before its end
// marker is reported as truncated instead of looking like a normal end of file.
#include "io/line_reader.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/error.h"

namespace loid {

namespace {
constexpr unsigned char kGzipMagic0 = 0x1f;
constexpr unsigned char kGzipMagic1 = 0x8b;
}  // namespace

LineReader::LineReader(std::string path, LineReaderOptions options)
    : path_(std::move(path)), options_(options) {
  if (options_.chunk_bytes < 16) options_.chunk_bytes = 16;
  std::error_code ec;
  if (std::filesystem::is_directory(path_, ec)) throw InputError(path_, 0, "is a directory");
  file_ = std::fopen(path_.c_str(), "rb");
  if (file_ == nullptr) {
    throw InputError(path_, 0, std::string("cannot open: ") + std::strerror(errno));
  }
  const auto size = std::filesystem::file_size(path_, ec);
  file_size_ = ec ? 0 : static_cast<std::uint64_t>(size);
  in_.resize(options_.chunk_bytes);
  out_.resize(options_.chunk_bytes);
  fill_raw();
  gzip_ = in_len_ >= 2 && static_cast<unsigned char>(in_[0]) == kGzipMagic0 &&
          static_cast<unsigned char>(in_[1]) == kGzipMagic1;
  if (gzip_) {
    // 16 + MAX_WBITS: expect a gzip header and check the CRC-32 and length trailer.
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) {
      std::fclose(file_);
      throw Error("zlib: inflateInit2 failed for " + path_);
    }
    zs_init_ = true;
  }
}

LineReader::~LineReader() {
  if (zs_init_) inflateEnd(&zs_);
  if (file_ != nullptr) std::fclose(file_);
}

bool LineReader::fill_raw() {
  if (raw_eof_) return false;
  const std::size_t n = std::fread(in_.data(), 1, in_.size(), file_);
  if (n == 0) {
    if (std::ferror(file_)) {
      throw InputError(path_, last_complete_, std::string("read error: ") + std::strerror(errno));
    }
    raw_eof_ = true;
    in_pos_ = in_len_ = 0;
    return false;
  }
  file_bytes_ += n;
  in_pos_ = 0;
  in_len_ = n;
  return true;
}

bool LineReader::inflate_more() {
  for (;;) {
    if (member_done_) {
      // After a member's trailer: another member, zero padding (tape/block devices), or the end.
      if (in_pos_ == in_len_ && !fill_raw()) {
        end_ = StreamEnd::kClean;
        return false;
      }
      const auto c = static_cast<unsigned char>(in_[in_pos_]);
      if (c == 0) {
        ++in_pos_;
        continue;
      }
      if (c != kGzipMagic0) {
        end_ = StreamEnd::kCorrupt;
        damage_ = "unexpected data after the end of the gzip stream";
        return false;
      }
      inflateReset(&zs_);
      member_done_ = false;
    }
    if (in_pos_ == in_len_ && !fill_raw()) {
      end_ = StreamEnd::kTruncated;
      damage_ = "gzip stream ends before its end marker (truncated file?)";
      return false;
    }
    zs_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
    zs_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
    zs_.next_out = reinterpret_cast<Bytef*>(out_.data());
    zs_.avail_out = static_cast<uInt>(out_.size());
    const int ret = inflate(&zs_, Z_NO_FLUSH);
    in_pos_ = in_len_ - zs_.avail_in;
    out_pos_ = 0;
    out_len_ = out_.size() - zs_.avail_out;
    if (ret == Z_STREAM_END) {
      member_done_ = true;
    } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
      end_ = StreamEnd::kCorrupt;
      damage_ =
          std::string("corrupt gzip data (") + (zs_.msg != nullptr ? zs_.msg : "zlib error") + ")";
      out_len_ = 0;  // bytes decoded just before a corruption are not trusted
      return false;
    }
    if (out_len_ > 0) return true;
  }
}

bool LineReader::fill() {
  if (end_ != StreamEnd::kNotYet) return false;
  if (gzip_) return inflate_more();
  if (in_pos_ == in_len_ && !fill_raw()) {
    end_ = StreamEnd::kClean;
    return false;
  }
  // Plain file: hand the raw chunk over without copying.
  std::swap(in_, out_);
  out_pos_ = in_pos_;
  out_len_ = in_len_;
  in_pos_ = in_len_ = 0;
  return true;
}

bool LineReader::next(InputLine& line) {
  line.text.clear();
  line.too_long = false;
  line.length = 0;
  bool pending = false;  // some bytes of a line have been seen
  char last = '\0';      // last byte of the line so far, to drop a '\r' even from a long line
  for (;;) {
    if (out_pos_ == out_len_ && !fill()) {
      // A damaged stream's unterminated last line is cut mid-record: drop it.
      if (!pending || end_ != StreamEnd::kClean) return false;
      break;
    }
    const char* start = out_.data() + out_pos_;
    const std::size_t avail = out_len_ - out_pos_;
    const auto* nl = static_cast<const char*>(std::memchr(start, '\n', avail));
    const std::size_t n = nl != nullptr ? static_cast<std::size_t>(nl - start) : avail;
    pending = true;
    // One extra byte so that a '\r' before the newline does not count against the limit.
    if (!line.too_long && line.length + n > options_.max_line_bytes + 1) {
      line.too_long = true;
      line.text.clear();
      line.text.shrink_to_fit();
    }
    if (!line.too_long) line.text.append(start, n);
    if (n > 0) last = start[n - 1];
    line.length += n;
    out_pos_ += n;
    if (nl != nullptr) {
      ++out_pos_;
      break;
    }
  }
  if (last == '\r') {
    --line.length;
    if (!line.too_long) line.text.pop_back();
  }
  if (!line.too_long && line.length > options_.max_line_bytes) {
    line.too_long = true;
    line.text.clear();
  }
  line.number = ++line_no_;
  last_complete_ = line_no_;
  return true;
}

void LineReader::throw_if_damaged() const {
  if (end_ != StreamEnd::kTruncated && end_ != StreamEnd::kCorrupt) return;
  throw InputError(path_, last_complete_,
                   damage_ + "; the last complete line is " + std::to_string(last_complete_));
}

}  // namespace loid
