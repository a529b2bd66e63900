// Atomic writes never leave partial files; read errors name the file.
#include "core/fs.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "support/test_paths.h"

namespace loid {
namespace {

TEST(Fs, AtomicWriteReplacesWholeFile) {
  const std::string dir = testing::temp_dir("fs_atomic");
  const std::string path = dir + "/sub/out.txt";
  write_file_atomic(path, "first");
  write_file_atomic(path, "second");
  EXPECT_EQ(read_file(path), "second");
  for (auto& e : std::filesystem::directory_iterator(dir + "/sub")) {
    EXPECT_EQ(e.path().filename(), "out.txt") << "leftover temporary file";
  }
}

TEST(Fs, UncommittedOutputLeavesNothing) {
  const std::string dir = testing::temp_dir("fs_uncommitted");
  const std::string path = dir + "/out.txt";
  write_file_atomic(path, "kept");
  {
    AtomicOutput out(path);
    out.stream() << "half written";
    // destroyed without commit, as on an exception
  }
  EXPECT_EQ(read_file(path), "kept");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
}

TEST(Fs, ReadMissingFileNamesIt) {
  try {
    read_file("/nonexistent/dir/x.json");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "/nonexistent/dir/x.json");
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/x.json"), std::string::npos);
  }
}

TEST(Fs, InputErrorFormatsFileAndLine) {
  InputError e("reviews.json", 12, "rating out of range");
  EXPECT_STREQ(e.what(), "reviews.json:12: rating out of range");
}

}  // namespace
}  // namespace loid
