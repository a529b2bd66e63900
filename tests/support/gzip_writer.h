// Test helpers that produce gzip data with zlib at test time (so fixtures stay plain text), and
// write raw bytes to files.
#pragma once

#include <string>

namespace loid::testing {

// One gzip member holding `content`.
std::string gzip_bytes(const std::string& content, int level = 6);

// Writes `bytes` to `path` as they are (binary).
void write_bytes(const std::string& path, const std::string& bytes);

// Writes `content` gzip-compressed to `path`.
inline void write_gzip(const std::string& path, const std::string& content) {
  write_bytes(path, gzip_bytes(content));
}

}  // namespace loid::testing
