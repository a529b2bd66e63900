// `adapter info` / `adapter merge` library entry points on small adapters written in the test, plus
// one end-to-end run of the `loid` binary when it was built.
#include "nn/adapter_command.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "nn/merge.h"
#include "nn/peft.h"
#include "support/test_paths.h"

namespace loid {
namespace {

using nlohmann::json;

const char* kQuery = "encoder.layer.0.attention.self.query";
const char* kValue = "encoder.layer.0.attention.self.value";

// r 2, alpha 4 (scale 2), query 6 -> 5 and value 6 -> 4, a 1x5 head saved whole.
PeftAdapter make_adapter(int64_t seed, const std::string& domain) {
  torch::manual_seed(seed);
  PeftAdapter a;
  a.config.r = 2;
  a.config.alpha = 4;
  a.config.dropout = 0.05;
  a.config.target_modules = {"query", "value"};
  a.base_model = "bert-base-uncased";
  a.modules[kQuery] = {torch::randn({2, 6}), torch::randn({5, 2})};
  a.modules[kValue] = {torch::randn({2, 6}), torch::randn({4, 2})};
  a.modules_to_save = {"head"};
  a.saved["head.weight"] = torch::randn({1, 5});
  a.metadata = {{"source_domain", domain}, {"dataset", "synthetic"}};
  return a;
}

std::string write_adapter(const std::string& name, int64_t seed, const std::string& domain) {
  const std::string dir = testing::temp_dir("adapter_cmd_" + name);
  save_peft(dir, make_adapter(seed, domain));
  return dir;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// sum_i w_i scale_i B_i A_i in float64, straight from the adapters' definition.
torch::Tensor expected_sum(const std::vector<PeftAdapter>& in, const std::vector<double>& w,
                           const std::string& path) {
  torch::Tensor d;
  for (size_t i = 0; i < in.size(); ++i) {
    const auto& ab = in[i].modules.at(path);
    auto term =
        w[i] * in[i].scale() * torch::matmul(ab[1].to(torch::kFloat64), ab[0].to(torch::kFloat64));
    d = d.defined() ? d + term : term;
  }
  return d;
}

torch::Tensor delta(const PeftAdapter& a, const std::string& path) {
  const auto& ab = a.modules.at(path);
  return a.scale() * torch::matmul(ab[1].to(torch::kFloat64), ab[0].to(torch::kFloat64));
}

TEST(AdapterInfo, TextListsConfigSizeAndProvenance) {
  const std::string dir = write_adapter("info", 1, "Books");
  std::ostringstream out;
  run_adapter_info(dir, false, out);
  const std::string s = out.str();
  EXPECT_NE(s.find("peft_type         LORA\n"), std::string::npos) << s;
  EXPECT_NE(s.find("r                 2\n"), std::string::npos) << s;
  EXPECT_NE(s.find("lora_alpha        4\n"), std::string::npos) << s;
  EXPECT_NE(s.find("scale             2\n"), std::string::npos) << s;
  EXPECT_NE(s.find("lora_dropout      0.05\n"), std::string::npos) << s;
  EXPECT_NE(s.find("target_modules    query, value\n"), std::string::npos) << s;
  EXPECT_NE(s.find("modules           2\n"), std::string::npos) << s;
  // query: 2*6 + 5*2 = 22, value: 2*6 + 4*2 = 20.
  EXPECT_NE(s.find("lora_parameters   42\n"), std::string::npos) << s;
  EXPECT_NE(s.find("modules_to_save   head\n"), std::string::npos) << s;
  EXPECT_NE(s.find("saved_parameters  5\n"), std::string::npos) << s;
  EXPECT_NE(s.find("base_model        bert-base-uncased\n"), std::string::npos) << s;
  EXPECT_NE(s.find("task_type         FEATURE_EXTRACTION\n"), std::string::npos) << s;
  EXPECT_NE(s.find("source_domain   Books\n"), std::string::npos) << s;
}

TEST(AdapterInfo, JsonHasTheSameFields) {
  const std::string dir = write_adapter("info_json", 2, "Movies");
  std::ostringstream out;
  run_adapter_info(dir, true, out);
  const json j = json::parse(out.str());
  EXPECT_EQ(j["peft_type"], "LORA");
  EXPECT_EQ(j["r"], 2);
  EXPECT_DOUBLE_EQ(j["lora_alpha"].get<double>(), 4.0);
  EXPECT_EQ(j["modules"], 2);
  EXPECT_EQ(j["lora_parameters"], 42);
  EXPECT_EQ(j["saved_parameters"], 5);
  EXPECT_EQ(j["module_shapes"][kQuery]["out"], 5);
  EXPECT_EQ(j["module_shapes"][kValue]["out"], 4);
  EXPECT_EQ(j["metadata"]["source_domain"], "Movies");
  EXPECT_EQ(j["target_modules"], json::array({"query", "value"}));
}

TEST(AdapterInfo, MissingDirectoryIsAnInputError) {
  const std::string dir = testing::temp_dir("adapter_cmd_empty");
  std::ostringstream out;
  EXPECT_THROW(run_adapter_info(dir, false, out), InputError);
}

TEST(AdapterMerge, OutputEqualsMergeAdaptersAndTheWeightedSum) {
  const std::string a = write_adapter("m_a", 3, "Books");
  const std::string b = write_adapter("m_b", 4, "Movies");
  const std::string out_dir = testing::temp_dir("adapter_cmd_m_out");
  for (const char* method : {"linear", "cat", "svd", "ties", "dare_linear", "dare_ties"}) {
    SCOPED_TRACE(method);
    AdapterMergeOptions o;
    o.inputs = {a, b};
    o.out_dir = out_dir + "/" + method;
    o.method = method;
    o.weights = {0.5, 0.25};
    o.density = 0.7;
    o.seed = 11;
    // Two rank-2 deltas sum to rank 4; at rank 4 the SVD re-factoring loses nothing.
    o.rank = std::string(method) == "cat" ? 0 : 4;
    std::ostringstream log;
    run_adapter_merge(o, log);
    EXPECT_NE(log.str().find(std::string("with ") + method), std::string::npos) << log.str();

    const PeftAdapter got = load_peft(o.out_dir);
    MergeOptions mo;
    mo.method = merge_method_from_name(method);
    mo.weights = o.weights;
    mo.density = o.density;
    mo.seed = o.seed;
    mo.rank = o.rank;
    const std::vector<PeftAdapter> in = {load_peft(a), load_peft(b)};
    const PeftAdapter want = merge_adapters(in, mo);
    EXPECT_EQ(got.config.r, want.config.r);
    ASSERT_EQ(got.modules.size(), want.modules.size());
    for (const auto& [path, ab] : want.modules) {
      EXPECT_TRUE(torch::equal(got.modules.at(path)[0], ab[0])) << path;
      EXPECT_TRUE(torch::equal(got.modules.at(path)[1], ab[1])) << path;
    }
    EXPECT_TRUE(torch::equal(got.saved.at("head.weight"), in[0].saved.at("head.weight")));
    EXPECT_EQ(got.metadata["merge"]["method"], method);
    EXPECT_EQ(got.metadata["merge"]["input_dirs"], json::array({a, b}));
    EXPECT_EQ(got.metadata["merge"]["inputs"][1]["source_domain"], "Movies");
    EXPECT_EQ(got.config.r, 4);
    // linear/cat/svd at full rank are exact: the delta is the weighted sum of the inputs' deltas.
    if (std::string(method) == "linear" || std::string(method) == "cat" ||
        std::string(method) == "svd")
      for (const char* path : {kQuery, kValue})
        EXPECT_LT(max_diff(delta(got, path), expected_sum(in, o.weights, path)), 1e-4) << path;
  }
}

TEST(AdapterMerge, DefaultWeightsAreOneEach) {
  const std::string a = write_adapter("d_a", 5, "Books");
  const std::string b = write_adapter("d_b", 6, "Movies");
  AdapterMergeOptions o;
  o.inputs = {a, b};
  o.out_dir = testing::temp_dir("adapter_cmd_d_out") + "/merged";
  o.method = "cat";
  std::ostringstream log;
  run_adapter_merge(o, log);
  const PeftAdapter got = load_peft(o.out_dir);
  EXPECT_EQ(got.config.r, 4);  // cat: 2 + 2
  EXPECT_EQ(got.metadata["merge"]["weights"], json::array({1.0, 1.0}));
  const std::vector<PeftAdapter> in = {load_peft(a), load_peft(b)};
  EXPECT_LT(max_diff(delta(got, kQuery), expected_sum(in, {1.0, 1.0}, kQuery)), 1e-4);
}

TEST(AdapterMerge, DefaultRankIsTheLargestInputRank) {
  AdapterMergeOptions o;
  o.inputs = {write_adapter("r_a", 13, "Books"), write_adapter("r_b", 14, "Movies")};
  o.out_dir = testing::temp_dir("adapter_cmd_r_out") + "/merged";
  o.method = "linear";
  std::ostringstream log;
  run_adapter_merge(o, log);
  EXPECT_EQ(load_peft(o.out_dir).config.r, 2);
  EXPECT_NE(log.str().find("r 2, 2 modules"), std::string::npos) << log.str();
}

// The message of the UsageError `o` raises, or "" when it does not throw one.
std::string usage_error(const AdapterMergeOptions& o) {
  std::ostringstream log;
  try {
    run_adapter_merge(o, log);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(AdapterMerge, BadFlagsAreUsageErrorsNamingTheProblem) {
  const std::string a = write_adapter("v_a", 7, "Books");
  const std::string b = write_adapter("v_b", 8, "Movies");
  AdapterMergeOptions base;
  base.inputs = {a, b};
  base.out_dir = testing::temp_dir("adapter_cmd_v_out") + "/merged";

  auto o = base;
  o.method = "average";
  EXPECT_NE(usage_error(o).find("dare_ties"), std::string::npos) << usage_error(o);
  o = base;
  o.weights = {1.0};
  EXPECT_NE(usage_error(o).find("--weights has 1 values but 2 input"), std::string::npos);
  o = base;
  o.density = 0.0;
  EXPECT_NE(usage_error(o).find("--density"), std::string::npos);
  o = base;
  o.rank = -1;
  EXPECT_NE(usage_error(o).find("--rank"), std::string::npos);
  o = base;
  o.method = "cat";
  o.rank = 2;
  EXPECT_NE(usage_error(o).find("cat"), std::string::npos);
  o = base;
  o.out_dir = b;
  EXPECT_NE(usage_error(o).find("is also an input"), std::string::npos);
  o = base;
  o.inputs.clear();
  EXPECT_NE(usage_error(o).find("at least one input"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(base.out_dir));  // nothing written on a bad flag
}

TEST(AdapterMerge, MismatchedModulesAreRefused) {
  const std::string a = write_adapter("x_a", 9, "Books");
  PeftAdapter other = make_adapter(10, "Movies");
  other.modules.erase(kValue);
  const std::string b = testing::temp_dir("adapter_cmd_x_b");
  save_peft(b, other);
  AdapterMergeOptions o;
  o.inputs = {a, b};
  o.out_dir = testing::temp_dir("adapter_cmd_x_out") + "/merged";
  EXPECT_NE(usage_error(o).find("modules"), std::string::npos);
}

TEST(AdapterMergeCli, EndToEnd) {
  const std::string cli = testing::cli_path();
  if (!std::filesystem::exists(cli)) GTEST_SKIP() << cli << " not built; skipping CLI test";
  const std::string a = write_adapter("c_a", 11, "Books");
  const std::string b = write_adapter("c_b", 12, "Movies");
  const std::string tmp = testing::temp_dir("adapter_cmd_c_out");
  const std::string out_dir = tmp + "/merged";
  const std::string log = tmp + "/log.txt";
  const std::string cmd = "'" + cli +
                          "' adapter merge --method linear --rank 4 --weights 0.5,2 --out '" +
                          out_dir + "' '" + a + "' '" + b + "' > '" + log + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(log);
  const PeftAdapter got = load_peft(out_dir);
  const std::vector<PeftAdapter> in = {load_peft(a), load_peft(b)};
  EXPECT_LT(max_diff(delta(got, kQuery), expected_sum(in, {0.5, 2.0}, kQuery)), 1e-4);
  EXPECT_NE(read_file(log).find("wrote"), std::string::npos) << read_file(log);

  const std::string bad = "'" + cli + "' adapter merge --method mean --out '" + tmp + "/bad' '" +
                          a + "' > '" + log + "' 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);
  EXPECT_NE(read_file(log).find("dare_ties"), std::string::npos) << read_file(log);

  const std::string info = "'" + cli + "' adapter info --json '" + a + "' > '" + log + "' 2>&1";
  ASSERT_EQ(std::system(info.c_str()), 0) << read_file(log);
  EXPECT_EQ(json::parse(read_file(log))["r"], 2);
}

}  // namespace
}  // namespace loid
