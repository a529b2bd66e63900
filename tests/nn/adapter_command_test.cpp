// `adapter info` / `merge` / `fold` library entry points on small adapters written in the test
// (fold on the tiny BERT golden model and the converted USE-Lite), plus end-to-end runs of the
// `loid` binary when it was built.
#include "nn/adapter_command.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "io/safetensors.h"
#include "nn/encoder.h"
#include "nn/lora_inject.h"
#include "nn/merge.h"
#include "nn/peft.h"
#include "nn/use_lite.h"
#include "support/error_of.h"
#include "support/test_paths.h"
#include "support/use_lite_model.h"

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

// A BERT-style adapter adapts Linear layers: the text says so, as for GPT-2's Conv1D below.
TEST(AdapterInfo, LinearAdapterIsNotFanInFanOut) {
  const std::string dir = write_adapter("info_linear", 3, "Books");
  std::ostringstream text, js;
  run_adapter_info(dir, false, text);
  run_adapter_info(dir, true, js);
  EXPECT_NE(text.str().find("fan_in_fan_out    false (Linear layers"), std::string::npos)
      << text.str();
  EXPECT_EQ(json::parse(js.str()).at("fan_in_fan_out"), false);
}

// The PEFT-layout GPT-2 adapter of tests/golden/gpt2 (fan_in_fan_out true; c_attn, c_proj and
// c_fc of both blocks of the tiny model, r 4, alpha 8).
TEST(AdapterInfo, Gpt2AdapterShowsConv1DLayersAndItsConfig) {
  const std::string dir = testing::golden("gpt2/adapter");
  std::ostringstream text, js;
  run_adapter_info(dir, false, text);
  run_adapter_info(dir, true, js);
  const std::string s = text.str();
  EXPECT_NE(s.find("fan_in_fan_out    true (Conv1D layers, as GPT-2: weight stored (in, out)"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("r                 4\n"), std::string::npos) << s;
  EXPECT_NE(s.find("lora_alpha        8\n"), std::string::npos) << s;
  EXPECT_NE(s.find("scale             2\n"), std::string::npos) << s;
  EXPECT_NE(s.find("target_modules    c_attn, c_proj, c_fc\n"), std::string::npos) << s;
  // 2 blocks x (c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj).
  EXPECT_NE(s.find("modules           8\n"), std::string::npos) << s;
  // Per block: c_attn 4*32 + 96*4, attn.c_proj 4*32 + 32*4, c_fc 4*32 + 128*4,
  // mlp.c_proj 4*128 + 32*4 = 2048.
  EXPECT_NE(s.find("lora_parameters   4096\n"), std::string::npos) << s;
  const json j = json::parse(js.str());
  EXPECT_EQ(j.at("fan_in_fan_out"), true);
  EXPECT_EQ(j.at("r"), 4);
  EXPECT_EQ(j.at("target_modules"), json::array({"c_attn", "c_proj", "c_fc"}));
  // A is (r, in) and B (out, r) as for Linear layers, so in/out are the layer's, not the
  // stored Conv1D weight's: c_attn maps 32 -> 96.
  EXPECT_EQ(j.at("module_shapes").at("h.0.attn.c_attn").at("in"), 32);
  EXPECT_EQ(j.at("module_shapes").at("h.0.attn.c_attn").at("out"), 96);
}

TEST(AdapterInfo, MissingDirectoryIsAnInputError) {
  const std::string dir = testing::temp_dir("adapter_cmd_empty");
  std::ostringstream out;
  EXPECT_THROW(run_adapter_info(dir, false, out), InputError);
}

// Golden adapters and merges made by numpy (tests/golden/peft/make_merge_expected.py), in the
// shapes of make_adapter: r 2, alpha 4, query 6 -> 5, value 6 -> 4, a 1x5 head.
json merge_golden() {
  return json::parse(read_file(testing::golden("peft/adapter_merge_expected.json")));
}

torch::Tensor golden_matrix(const json& rows) {
  std::vector<torch::Tensor> r;
  for (const auto& row : rows) r.push_back(torch::tensor(row.get<std::vector<double>>()));
  return torch::stack(r).to(torch::kFloat32);
}

std::string write_golden_adapter(const std::string& name, const json& g,
                                 const std::string& domain) {
  PeftAdapter a;
  a.config.r = g.at("r");
  a.config.alpha = g.at("alpha");
  a.config.dropout = 0.05;
  a.config.target_modules = {"query", "value"};
  a.base_model = "bert-base-uncased";
  for (const auto& [path, ab] : g.at("modules").items())
    a.modules[path] = {golden_matrix(ab.at("a")), golden_matrix(ab.at("b"))};
  a.modules_to_save = {"head"};
  a.saved["head.weight"] = golden_matrix(g.at("head.weight"));
  a.metadata = {{"source_domain", domain}, {"dataset", "synthetic"}};
  const std::string dir = testing::temp_dir("adapter_cmd_" + name);
  save_peft(dir, a);
  return dir;
}

TEST(AdapterMerge, OutputDeltaIsNumpysMergeAtTheOutputRank) {
  const json g = merge_golden();
  const std::string a = write_golden_adapter("m_a", g["adapters"][0], "Books");
  const std::string b = write_golden_adapter("m_b", g["adapters"][1], "Movies");
  const std::string out_dir = testing::temp_dir("adapter_cmd_m_out");
  for (const char* method : {"linear", "cat", "svd", "ties", "dare_linear", "dare_ties"}) {
    SCOPED_TRACE(method);
    AdapterMergeOptions o;
    o.inputs = {a, b};
    o.out_dir = out_dir + "/" + method;
    o.method = method;
    o.weights = g["weights"].get<std::vector<double>>();
    o.density = g["density"].get<double>();
    o.seed = g["seed"].get<std::uint64_t>();
    // cat's rank is the sum of the inputs' (2 + 2); the others are re-factored at rank 4, which
    // keeps linear and svd exact (two rank-2 deltas) and truncates the rank-5 ties/dare queries.
    o.rank = std::string(method) == "cat" ? 0 : g["rank"].get<int>();
    std::ostringstream log;
    run_adapter_merge(o, log);
    EXPECT_NE(log.str().find(std::string("with ") + method), std::string::npos) << log.str();

    const PeftAdapter got = load_peft(o.out_dir);
    EXPECT_EQ(got.config.r, 4);
    ASSERT_EQ(got.modules.size(), 2u);
    for (const char* path : {kQuery, kValue})
      EXPECT_LT(max_diff(delta(got, path), golden_matrix(g["expected"][method][path]["rank4"])),
                1e-5)
          << path;
    const PeftAdapter first = load_peft(a);
    EXPECT_TRUE(torch::equal(got.saved.at("head.weight"), first.saved.at("head.weight")));
    EXPECT_EQ(got.metadata["merge"]["method"], method);
    EXPECT_EQ(got.metadata["merge"]["input_dirs"], json::array({a, b}));
    EXPECT_EQ(got.metadata["merge"]["inputs"][1]["source_domain"], "Movies");
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

// ---------------------------------------------------------------------------------------------
// adapter fold

const std::vector<std::string> kTexts = {"great little speaker, clear sound",
                                         "broke after two days. returning it", "ok"};

std::string tiny_bert_dir() {
  return testing::golden("bert/tiny");
}

using testing::use_lite_dir;

// An adapter on every default target of the encoder in `dir`: inject_lora's PEFT init for A, then
// B filled at random (non-zero, unlike a fresh adapter), written as a PEFT directory.
std::string random_adapter(const std::string& encoder_dir, const std::string& name, int64_t seed,
                           const std::string& domain) {
  auto enc = load_encoder(encoder_dir);
  torch::manual_seed(seed);
  LoraConfig config;
  config.r = 4;
  config.alpha = 8;
  inject_lora(*enc, config);
  {
    torch::NoGradGuard no_grad;
    for (auto& [path, layer] : lora_layers(enc->module()))
      if (layer->has_target()) layer->target_parameters()[1].normal_(0.0, 0.05);  // B
  }
  PeftAdapter adapter = extract_target(enc->module());
  adapter.base_model = std::filesystem::path(encoder_dir).filename().string();
  adapter.metadata = {{"source_domain", domain}, {"dataset", "synthetic"}};
  const std::string dir = testing::temp_dir("adapter_cmd_fold_" + name);
  save_peft(dir, adapter);
  return dir;
}

// Default-pooling vectors and last-layer token states (padding rows zeroed) of kTexts.
struct Outputs {
  torch::Tensor vectors;  // (B, D)
  torch::Tensor states;   // (B, T, H)
};

Outputs outputs(Encoder& enc) {
  torch::NoGradGuard no_grad;
  enc.module().eval();
  const auto batch = enc.tokenize(kTexts);
  const auto out = enc.forward(batch);
  const auto mask = batch.attention_mask.unsqueeze(-1).to(torch::kFloat32);  // (B, T, 1)
  return {out.vectors.clone(), (out.token_states * mask).clone()};
}

// Largest difference of the vectors, and of the token states relative to their largest magnitude
// (USE-Lite's states are not normalised and reach tens, where float32 rounding alone is ~1e-5).
double max_diff(const Outputs& a, const Outputs& b) {
  const double scale = std::max(1.0, b.states.abs().max().item<double>());
  return std::max(max_diff(a.vectors, b.vectors), max_diff(a.states, b.states) / scale);
}

// The encoder in `dir` with `adapters` attached as sources with `scales`, unfolded.
Outputs attached_outputs(const std::string& dir, const std::vector<std::string>& adapters,
                         const std::vector<double>& scales) {
  auto enc = load_encoder(dir);
  for (size_t i = 0; i < adapters.size(); ++i)
    attach_source(enc->module(), load_peft(adapters[i]), "s" + std::to_string(i), scales[i]);
  return outputs(*enc);
}

std::set<std::string> files_in(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    out.insert(e.path().filename().string());
  return out;
}

class AdapterFold : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Progress::set_quiet(true); }
};

TEST_F(AdapterFold, TinyBertFoldedEqualsAttachedAdapters) {
  const std::string a = random_adapter(tiny_bert_dir(), "bert_a", 21, "Books");
  const std::string b = random_adapter(tiny_bert_dir(), "bert_b", 22, "Movies");
  AdapterFoldOptions o;
  o.encoder_dir = tiny_bert_dir();
  o.adapters = {a, b};
  o.scales = {0.5, 2.0};
  o.out_dir = testing::temp_dir("adapter_cmd_fold_bert_out") + "/folded";
  std::ostringstream log;
  const AdapterFoldResult r = fold_adapters(o, log);
  EXPECT_EQ(r.modules.size(), 12u);  // 2 layers x 6 targets
  EXPECT_EQ(r.copied, (std::vector<std::string>{"config.json", "vocab.txt"}));
  EXPECT_NE(log.str().find("into 12 modules of the bert encoder"), std::string::npos) << log.str();

  auto folded = load_encoder(o.out_dir);
  const auto want = attached_outputs(tiny_bert_dir(), {a, b}, o.scales);
  const auto got = outputs(*folded);
  EXPECT_LT(max_diff(got, want), 1e-5);
  auto bare = load_encoder(tiny_bert_dir());
  EXPECT_GT(max_diff(got.vectors, outputs(*bare).vectors),
            1e-3);  // the adapters do change the encoder

  // The directory: config and vocabulary copied byte for byte, no LoRA tensor, provenance.
  EXPECT_EQ(files_in(o.out_dir), (std::set<std::string>{"config.json", "loid_fold.json",
                                                        "model.safetensors", "vocab.txt"}));
  EXPECT_EQ(read_file(o.out_dir + "/config.json"), read_file(tiny_bert_dir() + "/config.json"));
  EXPECT_EQ(read_file(o.out_dir + "/vocab.txt"), read_file(tiny_bert_dir() + "/vocab.txt"));
  const auto st = SafeTensors::load(o.out_dir + "/model.safetensors");
  for (const auto& [name, info] : st.tensors())
    EXPECT_EQ(name.find("lora"), std::string::npos) << name;
  EXPECT_EQ(st.tensors().size(), bare->module().named_parameters().size());

  // One weight against its definition: W + sum_i s_i (alpha / r) B_i A_i.
  const std::string q = "encoder.layer.1.attention.self.query";
  const PeftAdapter pa = load_peft(a), pb = load_peft(b);
  const auto w0 = bare->module().named_parameters()[q + ".weight"].to(torch::kFloat64);
  const auto w = w0 + 0.5 * delta(pa, q) + 2.0 * delta(pb, q);
  EXPECT_LT(max_diff(folded->module().named_parameters()[q + ".weight"], w), 1e-6);

  const json record = json::parse(read_file(o.out_dir + "/loid_fold.json"));
  ASSERT_EQ(record["adapters"].size(), 2u);
  EXPECT_EQ(record["adapters"][0]["dir"], std::filesystem::canonical(a).string());
  EXPECT_DOUBLE_EQ(record["adapters"][1]["scale"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(record["adapters"][1]["delta_scale"].get<double>(), 4.0);  // 2 * 8 / 4
  EXPECT_EQ(record["adapters"][1]["metadata"]["source_domain"], "Movies");
  EXPECT_EQ(record["encoder"]["kind"], "bert");
  EXPECT_EQ(record["folded_modules"].size(), 12u);
}

TEST_F(AdapterFold, DefaultScaleIsOneAndFoldingAFoldedModelKeepsItsRecord) {
  const std::string a = random_adapter(tiny_bert_dir(), "one_a", 23, "Books");
  const std::string b = random_adapter(tiny_bert_dir(), "one_b", 24, "Movies");
  const std::string root = testing::temp_dir("adapter_cmd_fold_one");
  AdapterFoldOptions o;
  o.encoder_dir = tiny_bert_dir();
  o.adapters = {a};
  o.out_dir = root + "/tiny";  // keeps the base name, so adapters for "tiny" fold onto it again
  std::ostringstream log;
  fold_adapters(o, log);
  AdapterFoldOptions o2;
  o2.encoder_dir = o.out_dir;
  o2.adapters = {b};
  o2.out_dir = root + "/twice";
  fold_adapters(o2, log);
  auto twice = load_encoder(o2.out_dir);
  EXPECT_LT(max_diff(outputs(*twice), attached_outputs(tiny_bert_dir(), {a, b}, {1.0, 1.0})), 1e-5);
  const json record = json::parse(read_file(o2.out_dir + "/loid_fold.json"));
  EXPECT_EQ(record["adapters"][0]["metadata"]["source_domain"], "Movies");
  EXPECT_EQ(record["encoder_fold"]["adapters"][0]["metadata"]["source_domain"], "Books");
}

TEST_F(AdapterFold, UseLiteFoldedEqualsAttachedAdapter) {
  REQUIRE_USE_LITE_PACKAGE();
  const std::string a = random_adapter(use_lite_dir(), "use_a", 25, "Books");
  AdapterFoldOptions o;
  o.encoder_dir = use_lite_dir();
  o.adapters = {a};
  o.scales = {1.5};
  o.out_dir = testing::temp_dir("adapter_cmd_fold_use_out") + "/folded";
  std::ostringstream log;
  const AdapterFoldResult r = fold_adapters(o, log);
  EXPECT_EQ(r.modules.size(), 8u);  // 2 layers x (qkv, attn_out, ffn_in, ffn_out)
  EXPECT_EQ(r.copied, (std::vector<std::string>{"config.json", "tokenizer.json"}));
  auto folded = load_encoder(o.out_dir);  // the USE-Lite loader refuses missing or extra tensors
  EXPECT_EQ(folded->kind(), "use_lite");
  const auto got = outputs(*folded);
  EXPECT_LT(max_diff(got, attached_outputs(use_lite_dir(), {a}, o.scales)), 1e-5);
  auto bare = load_encoder(use_lite_dir());
  EXPECT_GT(max_diff(got.vectors, outputs(*bare).vectors), 1e-3);
  EXPECT_EQ(read_file(o.out_dir + "/tokenizer.json"),
            read_file(use_lite_dir() + "/tokenizer.json"));
  // The converter's metadata travels on, with a pointer to the fold record.
  const auto st = SafeTensors::load(o.out_dir + "/model.safetensors");
  EXPECT_EQ(st.metadata().at("format"), "loid use_lite");
  EXPECT_NE(st.metadata().at("loid_fold").find("loid_fold.json"), std::string::npos);
}

TEST_F(AdapterFold, AdapterForAnotherBaseIsAnInputErrorAndWritesNothing) {
  const std::string root = testing::temp_dir("adapter_cmd_fold_other");
  AdapterFoldOptions o;
  o.encoder_dir = tiny_bert_dir();
  o.out_dir = root + "/folded";
  // Made for "bert-base-uncased" (base_model_name_or_path).
  o.adapters = {write_adapter("fold_other_name", 31, "Books")};
  std::ostringstream log;
  std::string msg = testing::error_of<InputError>([&] { fold_adapters(o, log); });
  EXPECT_NE(msg.find("bert-base-uncased"), std::string::npos) << msg;
  // Same name, other shapes: query 6 -> 5 is not the tiny BERT's 32 -> 32.
  PeftAdapter shaped = make_adapter(32, "Books");
  shaped.base_model = "tiny";
  o.adapters = {testing::temp_dir("adapter_cmd_fold_other_shape")};
  save_peft(o.adapters[0], shaped);
  msg = testing::error_of<InputError>([&] { fold_adapters(o, log); });
  EXPECT_NE(msg.find("shape mismatch"), std::string::npos) << msg;
  // A USE-Lite module path does not exist in BERT.
  PeftAdapter foreign;
  foreign.config.r = 2;
  foreign.modules["layers.0.qkv"] = {torch::randn({2, 32}), torch::randn({96, 2})};
  o.adapters = {testing::temp_dir("adapter_cmd_fold_other_module")};
  save_peft(o.adapters[0], foreign);
  msg = testing::error_of<InputError>([&] { fold_adapters(o, log); });
  EXPECT_NE(msg.find("'layers.0.qkv' does not exist in the base model"), std::string::npos) << msg;
  EXPECT_TRUE(std::filesystem::is_empty(root));  // neither the output nor a temporary remains
}

TEST_F(AdapterFold, ExistingOutputIsRefusedUnlessForced) {
  const std::string a = random_adapter(tiny_bert_dir(), "exist_a", 26, "Books");
  const std::string out_dir = testing::temp_dir("adapter_cmd_fold_exist");
  write_file_atomic(out_dir + "/keep.txt", "precious\n");
  AdapterFoldOptions o;
  o.encoder_dir = tiny_bert_dir();
  o.adapters = {a};
  o.out_dir = out_dir;
  std::ostringstream log;
  const std::string msg = testing::error_of<UsageError>([&] { fold_adapters(o, log); });
  EXPECT_NE(msg.find("exists and is not empty"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--force"), std::string::npos) << msg;
  EXPECT_EQ(read_file(out_dir + "/keep.txt"), "precious\n");

  o.force = true;
  fold_adapters(o, log);
  EXPECT_FALSE(file_exists(out_dir + "/keep.txt"));  // replaced as a whole
  EXPECT_LT(
      max_diff(outputs(*load_encoder(out_dir)), attached_outputs(tiny_bert_dir(), {a}, {1.0})),
      1e-5);

  // An existing empty directory is fine without --force.
  o.force = false;
  o.out_dir = testing::temp_dir("adapter_cmd_fold_empty");
  fold_adapters(o, log);
  EXPECT_TRUE(file_exists(o.out_dir + "/model.safetensors"));
}

TEST_F(AdapterFold, BadFlagsAreUsageErrors) {
  const std::string a = write_adapter("fold_flags", 33, "Books");
  const std::string root = testing::temp_dir("adapter_cmd_fold_flags");
  AdapterFoldOptions base;
  base.encoder_dir = tiny_bert_dir();
  base.adapters = {a};
  base.out_dir = root + "/folded";
  std::ostringstream log;
  auto usage = [&](const AdapterFoldOptions& o) {
    return testing::error_of<UsageError>([&] { fold_adapters(o, log); });
  };
  auto o = base;
  o.scales = {1.0, 2.0};
  EXPECT_NE(usage(o).find("--scale has 2 values but 1 adapters"), std::string::npos) << usage(o);
  o = base;
  o.adapters.clear();
  EXPECT_NE(usage(o).find("--adapter"), std::string::npos) << usage(o);
  o = base;
  o.out_dir = a;
  EXPECT_NE(usage(o).find("is or contains the input"), std::string::npos) << usage(o);
  o = base;
  o.out_dir = testing::golden("bert");  // would delete the encoder with --force
  o.force = true;
  EXPECT_NE(usage(o).find("is or contains the input"), std::string::npos) << usage(o);
  EXPECT_TRUE(std::filesystem::is_empty(root));
}

TEST_F(AdapterFold, CliEndToEnd) {
  const std::string cli = testing::cli_path();
  if (!std::filesystem::exists(cli)) GTEST_SKIP() << cli << " not built; skipping CLI test";
  const std::string a = random_adapter(tiny_bert_dir(), "cli_a", 27, "Books");
  const std::string b = random_adapter(tiny_bert_dir(), "cli_b", 28, "Movies");
  const std::string tmp = testing::temp_dir("adapter_cmd_fold_cli");
  const std::string out_dir = tmp + "/folded";
  const std::string log = tmp + "/log.txt";
  const std::string cmd = "'" + cli + "' adapter fold --encoder '" + tiny_bert_dir() +
                          "' --adapter '" + a + "' --adapter '" + b + "' --scale 0.5,2 --out '" +
                          out_dir + "' > '" + log + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(log);
  EXPECT_NE(read_file(log).find("wrote"), std::string::npos) << read_file(log);
  EXPECT_LT(max_diff(outputs(*load_encoder(out_dir)),
                     attached_outputs(tiny_bert_dir(), {a, b}, {0.5, 2.0})),
            1e-5);
  // Again without --force: refused with a message, exit code non-zero.
  ASSERT_NE(std::system(cmd.c_str()), 0);
  EXPECT_NE(read_file(log).find("--force"), std::string::npos) << read_file(log);
  const std::string help = "'" + cli + "' adapter fold --help > '" + log + "' 2>&1";
  ASSERT_EQ(std::system(help.c_str()), 0);
  EXPECT_NE(read_file(log).find("--adapter"), std::string::npos) << read_file(log);
}

}  // namespace
}  // namespace loid
