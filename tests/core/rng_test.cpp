// loid::Rng and loid::shuffle against an independent Python implementation
// (tests/golden/rng/make_rng_golden.py): the split depends on these being portable.
#include "core/rng.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "core/fs.h"
#include "support/test_paths.h"

namespace loid {
namespace {

nlohmann::json golden() {
  return nlohmann::json::parse(read_file(testing::golden("rng/rng_golden.json")));
}

TEST(Rng, FirstValuesMatchReference) {
  auto g = golden();
  for (auto& [seed, values] : g["next_u64"].items()) {
    Rng rng(std::stoull(seed));
    EXPECT_EQ(std::to_string(rng.next_u64()), values[0].get<std::string>()) << "seed " << seed;
  }
  Rng rng(7);
  for (auto& v : g["sequence_seed_7"])
    EXPECT_EQ(std::to_string(rng.next_u64()), v.get<std::string>());
}

TEST(Rng, BelowMatchesReference) {
  auto g = golden();
  Rng rng(3);
  for (auto& v : g["below_seed_3_n_10"]) EXPECT_EQ(rng.below(10), v.get<std::uint64_t>());
}

TEST(Rng, ShuffleMatchesReference) {
  auto g = golden();
  for (auto& [key, expected] : g["shuffle"].items()) {
    const auto sep = key.find('_');
    const int n = std::stoi(key.substr(0, sep));
    Rng rng(std::stoull(key.substr(sep + 1)));
    std::vector<int> v(n);
    for (int i = 0; i < n; ++i) v[i] = i;
    shuffle(v, rng);
    EXPECT_EQ(v, expected.get<std::vector<int>>()) << key;
  }
}

TEST(Rng, UniformInUnitInterval) {
  Rng rng(99);
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
}

}  // namespace
}  // namespace loid
