#include "core/fs.h"

#include <zlib.h>

#include <vector>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <signal.h>
#include <unistd.h>

#include "core/error.h"
#include "core/temp_files.h"

namespace loid {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw InputError(path, 0, std::string("cannot open for reading: ") + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw InputError(path, 0, "read failed");
  return ss.str();
}

static std::string temp_name(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

void write_file_atomic(const std::string& path, const std::string& content) {
  AtomicOutput out(path);
  out.stream().write(content.data(), static_cast<std::streamsize>(content.size()));
  out.commit();
}

void make_dirs(const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw InputError(path, 0, "cannot create directory: " + ec.message());
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

int remove_stale_temp_files(const std::string& dir) {
  std::error_code ec;
  int removed = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const auto at = name.rfind(".tmp.");
    if (at == std::string::npos || at + 5 == name.size() || !e.is_regular_file(ec)) continue;
    const std::string digits = name.substr(at + 5);
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(digits));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // still running
    removed += fs::remove(e.path(), ec) ? 1 : 0;
  }
  return removed;
}

AtomicOutput::AtomicOutput(std::string path) : path_(std::move(path)), tmp_(temp_name(path_)) {
  fs::path parent = fs::path(path_).parent_path();
  if (!parent.empty()) make_dirs(parent.string());
  out_.open(tmp_, std::ios::binary | std::ios::trunc);
  if (!out_)
    throw InputError(tmp_, 0, std::string("cannot open for writing: ") + std::strerror(errno));
}

AtomicOutput::~AtomicOutput() {
  if (!committed_) {
    out_.close();
    std::remove(tmp_.c_str());
  }
}

void AtomicOutput::commit() {
  out_.flush();
  if (!out_) throw InputError(tmp_, 0, "write failed (disk full?)");
  out_.close();
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    throw InputError(
        path_, 0, std::string("cannot rename temporary file into place: ") + std::strerror(errno));
  }
  committed_ = true;
}

FileFingerprint file_fingerprint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, 0, "cannot open file");
  FileFingerprint f;
  uLong crc = crc32(0L, Z_NULL, 0);
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto got = in.gcount();
    if (got <= 0) break;
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(got));
    f.bytes += static_cast<std::uint64_t>(got);
  }
  if (in.bad()) throw InputError(path, 0, "read error");
  f.crc32 = static_cast<std::uint32_t>(crc);
  return f;
}

}  // namespace loid
