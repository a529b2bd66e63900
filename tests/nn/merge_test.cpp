// Merge methods against deltas computed independently with numpy (tests/golden/peft/
// make_merge_expected.py), plus exactness properties of cat, linear and single-adapter merges.
#include "nn/merge.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/fs.h"
#include "support/test_paths.h"

namespace loid {
namespace {

using nlohmann::json;

torch::Tensor matrix(const json& rows) {
  std::vector<torch::Tensor> r;
  for (const auto& row : rows) r.push_back(torch::tensor(row.get<std::vector<double>>()));
  return torch::stack(r).to(torch::kFloat32);
}

json golden() {
  return json::parse(read_file(testing::golden("peft/merge_expected.json")));
}

std::vector<LoraPair> golden_adapters(const json& g) {
  std::vector<LoraPair> out;
  for (const auto& a : g["adapters"])
    out.push_back({matrix(a["a"]), matrix(a["b"]), a["scale"].get<double>()});
  return out;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

TEST(Merge, EachMethodMatchesNumpy) {
  json g = golden();
  auto adapters = golden_adapters(g);
  for (const char* name : {"linear", "ties", "dare_linear", "dare_ties"}) {
    MergeOptions o;
    o.method = merge_method_from_name(name);
    o.weights = g["weights"].get<std::vector<double>>();
    o.density = g["density"].get<double>();
    o.seed = g["seed"].get<std::uint64_t>();
    o.rank = 3;  // full rank of a 3 x 4 module: the SVD re-factoring is exact
    LoraPair m = merge_module(adapters, o, g["module"].get<std::string>());
    EXPECT_EQ(m.rank(), 3) << name;
    EXPECT_LT(max_diff(m.delta(), matrix(g["deltas"][name])), 1e-5) << name;
  }
  for (size_t i = 0; i < 2; ++i)
    EXPECT_TRUE(
        torch::equal(dare_mask(g["seed"].get<std::uint64_t>(), g["module"].get<std::string>(), i, 3,
                               4, g["density"].get<double>()),
                     matrix(g["dare_masks"][i]).to(torch::kFloat64)));
}

TEST(Merge, CatIsExactWithSummedRank) {
  json g = golden();
  auto adapters = golden_adapters(g);
  MergeOptions o;
  o.method = MergeMethod::kCat;
  o.weights = g["weights"].get<std::vector<double>>();
  LoraPair m = merge_module(adapters, o);
  EXPECT_EQ(m.rank(), 2);
  EXPECT_LT(max_diff(m.delta(), matrix(g["deltas"]["linear"])), 1e-5);
}

TEST(Merge, FullRankLinearReproducesWeightedSum) {
  torch::manual_seed(2);
  std::vector<LoraPair> ads = {{torch::randn({4, 10}), torch::randn({12, 4}), 0.5},
                               {torch::randn({4, 10}), torch::randn({12, 4}), 2.0},
                               {torch::randn({2, 10}), torch::randn({12, 2}), 1.0}};
  torch::Tensor want = 0.2 * ads[0].delta() + 0.5 * ads[1].delta() - 0.3 * ads[2].delta();
  MergeOptions o;
  o.weights = {0.2, 0.5, -0.3};
  o.rank = 10;
  EXPECT_LT(max_diff(merge_module(ads, o).delta(), want), 1e-5);
  o.method = MergeMethod::kCat;
  LoraPair cat = merge_module(ads, o);
  EXPECT_EQ(cat.rank(), 10);
  EXPECT_LT(max_diff(cat.delta(), want), 1e-5);
  // At the default rank (largest input rank, 4) the sum of three adapters cannot be exact, but it
  // is the best rank-4 approximation: its error is the 5th singular value and beyond.
  o.method = MergeMethod::kSvd;
  o.rank = 0;
  LoraPair low = merge_module(ads, o);
  EXPECT_EQ(low.rank(), 4);
  auto s = torch::linalg_svdvals(want.to(torch::kFloat64));
  double tail = s.slice(0, 4).pow(2).sum().sqrt().item<double>();
  double err = (low.delta().to(torch::kFloat64) - want.to(torch::kFloat64)).norm().item<double>();
  EXPECT_NEAR(err, tail, 1e-5 * want.norm().item<double>());  // float32 rounding
}

TEST(Merge, OneAdapterReturnsItsDelta) {
  torch::manual_seed(3);
  LoraPair one{torch::randn({3, 7}), torch::randn({5, 3}), 1.5};
  for (const char* name : {"linear", "cat", "svd"}) {
    MergeOptions o;
    o.method = merge_method_from_name(name);
    EXPECT_LT(max_diff(merge_module({one}, o).delta(), one.delta()), 1e-5) << name;
  }
  MergeOptions ties;
  ties.method = MergeMethod::kTies;
  ties.density = 1.0;
  ties.rank = 5;
  EXPECT_LT(max_diff(merge_module({one}, ties).delta(), one.delta()), 1e-5);
  ties.method = MergeMethod::kDareLinear;  // density 1 keeps every entry
  EXPECT_LT(max_diff(merge_module({one}, ties).delta(), one.delta()), 1e-5);
}

TEST(Merge, WholeAdaptersAndErrors) {
  torch::manual_seed(4);
  auto make = [](int r, double alpha) {
    PeftAdapter a;
    a.config.r = r;
    a.config.alpha = alpha;
    a.config.target_modules = {"query"};
    a.modules["q"] = {torch::randn({r, 6}), torch::randn({6, r})};
    a.modules["v"] = {torch::randn({r, 6}), torch::randn({8, r})};
    a.metadata = {{"source_domain", "d" + std::to_string(r)}};
    return a;
  };
  PeftAdapter a = make(2, 4), b = make(3, 3);
  MergeOptions o;
  o.method = MergeMethod::kCat;
  o.weights = {1.0, 1.0};
  PeftAdapter m = merge_adapters({a, b}, o);
  EXPECT_EQ(m.config.r, 5);
  EXPECT_DOUBLE_EQ(m.scale(), 1.0);
  EXPECT_EQ(m.metadata["merge"]["method"], "cat");
  EXPECT_EQ(m.metadata["merge"]["inputs"][1]["source_domain"], "d3");
  for (const char* path : {"q", "v"}) {
    torch::Tensor want = LoraPair{a.modules[path][0], a.modules[path][1], a.scale()}.delta() +
                         LoraPair{b.modules[path][0], b.modules[path][1], b.scale()}.delta();
    LoraPair got{m.modules[path][0], m.modules[path][1], m.scale()};
    EXPECT_LT(max_diff(got.delta(), want), 1e-4) << path;
  }
  PeftAdapter c = make(2, 2);
  c.modules.erase("v");
  EXPECT_THROW(merge_adapters({a, c}, o), UsageError);
  o.weights = {1.0};
  EXPECT_THROW(merge_adapters({a, b}, o), UsageError);
  EXPECT_THROW(merge_method_from_name("magic"), UsageError);
}

}  // namespace
}  // namespace loid
