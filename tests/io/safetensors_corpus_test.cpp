// Replays the committed fuzz corpus (tests/fuzz/corpus/safetensors) through the reader so that
// every build checks it, without clang or libFuzzer: each input must parse or throw InputError.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "io/safetensors.h"
#include "support/test_paths.h"

namespace loid {
namespace {

TEST(SafeTensorsCorpus, EveryInputParsesOrFailsCleanly) {
  std::string dir = testing::source_dir() + "/tests/fuzz/corpus/safetensors";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  ASSERT_GT(files.size(), 20u) << "corpus looks truncated";

  int accepted = 0, rejected = 0;
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    std::string bytes = read_file(path);
    try {
      SafeTensors st = SafeTensors::parse(bytes, path);
      ++accepted;
      // Accepted files must be fully usable and survive a write/read round trip.
      SafeTensorsWriter w;
      for (const auto& [name, ti] : st.tensors()) {
        std::size_t n = dtype_is_float(ti.dtype) ? st.to_f32(name).size() : st.to_i64(name).size();
        EXPECT_EQ(static_cast<std::int64_t>(n), ti.numel()) << name;
        w.add(name, ti.dtype, ti.shape, st.data(name), ti.nbytes());
      }
      for (const auto& [k, v] : st.metadata()) w.set_metadata(k, v);
      SafeTensors again = SafeTensors::parse(w.serialize(), "round-trip");
      EXPECT_EQ(again.tensors().size(), st.tensors().size());
      EXPECT_EQ(again.metadata(), st.metadata());
    } catch (const InputError& e) {
      ++rejected;
      EXPECT_EQ(e.file(), path);
      EXPECT_FALSE(e.problem().empty());
    } catch (const std::exception& e) {
      ADD_FAILURE() << "unexpected exception type: " << e.what();
    }
  }
  // A corpus with only one outcome would not exercise both paths.
  EXPECT_GT(accepted, 0);
  EXPECT_GT(rejected, 0);
  std::cout << "[ corpus   ] " << files.size() << " inputs: " << accepted << " accepted, "
            << rejected << " rejected\n";
}

}  // namespace
}  // namespace loid
