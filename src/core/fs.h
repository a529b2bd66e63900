// File helpers: whole-file reads with clear errors, and atomic writes (temporary file + rename) so
// that a crash never leaves a half-written output behind.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

namespace loid {

// Reads a whole file; throws InputError naming the file when it cannot be read.
std::string read_file(const std::string& path);

// Writes `content` to `path` atomically (temporary file in the same directory, then rename).
void write_file_atomic(const std::string& path, const std::string& content);

// Creates a directory and its parents; no error if it exists.
void make_dirs(const std::string& path);

bool file_exists(const std::string& path);

// Size and CRC-32 of a file's bytes, to tell later whether it changed (InputError if unreadable).
struct FileFingerprint {
  std::uint64_t bytes = 0;
  std::uint32_t crc32 = 0;
};
FileFingerprint file_fingerprint(const std::string& path);

// An output stream that only replaces `path` when commit() is called; otherwise the temporary
// file is removed on destruction.
class AtomicOutput {
 public:
  explicit AtomicOutput(std::string path);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  std::ofstream& stream() { return out_; }
  void commit();  // flushes, closes and renames onto the final path

 private:
  std::string path_;
  std::string tmp_;
  std::ofstream out_;
  bool committed_ = false;
};

}  // namespace loid
