// GPT-2 encoder against the float64 PyTorch reference in tests/golden/gpt2 (make_golden.py): last
// and mean pooling, padded batches, tokenized texts, PEFT-layout LoRA adapters (attached, folded,
// saved), plus checkpoint and config validation.
#include "nn/gpt2.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "io/safetensors.h"
#include "nn/adapter_command.h"
#include "nn/lora_inject.h"
#include "nn/peft.h"
#include "support/error_of.h"
#include "support/test_paths.h"

namespace loid {
namespace {

namespace fs = std::filesystem;
using loid::testing::error_of;
using loid::testing::golden;

constexpr double kTolerance = 1e-4;  // max abs difference allowed against the reference

std::string tiny_dir() {
  return golden("gpt2/tiny");
}
std::string adapter_dir() {
  return golden("gpt2/adapter");
}

torch::Tensor golden_tensor(const std::string& name) {
  static const SafeTensors st = SafeTensors::load(golden("gpt2/expected.safetensors"));
  const auto& info = st.info(name);
  if (info.dtype == DType::I64)
    return torch::tensor(st.to_i64(name), torch::kInt64).reshape(info.shape);
  return torch::tensor(st.to_f32(name), torch::kFloat32).reshape(info.shape);
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

TokenBatch golden_batch() {
  return {golden_tensor("input_ids"), golden_tensor("attention_mask")};
}

// Copies the tiny model to a temp dir, optionally editing config.json and the weights.
std::string tiny_copy(
    const std::string& name, const std::function<void(nlohmann::json&)>& edit_config = nullptr,
    const std::function<void(const SafeTensors&, SafeTensorsWriter&)>& edit_weights = nullptr) {
  const std::string dir = loid::testing::temp_dir(name);
  for (const char* f : {"vocab.json", "merges.txt"}) {
    fs::copy_file(tiny_dir() + "/" + f, dir + "/" + f);
  }
  auto config = nlohmann::json::parse(read_file(tiny_dir() + "/config.json"));
  if (edit_config) edit_config(config);
  write_file_atomic(dir + "/config.json", config.dump(2));
  if (edit_weights) {
    auto st = SafeTensors::load(tiny_dir() + "/model.safetensors");
    SafeTensorsWriter w;
    edit_weights(st, w);
    w.write(dir + "/model.safetensors");
  } else {
    fs::copy_file(tiny_dir() + "/model.safetensors", dir + "/model.safetensors");
  }
  return dir;
}

void copy_tensor(const SafeTensors& st, const std::string& from, const std::string& to,
                 SafeTensorsWriter& w) {
  const auto& info = st.info(from);
  w.add(to, info.dtype, info.shape, st.data(from), info.nbytes());
}

class Gpt2Golden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Progress::set_quiet(true); }
};

TEST_F(Gpt2Golden, LastAndMeanPoolingMatchPyTorchReference) {
  auto enc = load_encoder(tiny_dir());
  ASSERT_EQ(enc->kind(), "gpt2");
  EXPECT_EQ(enc->width(), 32);
  EXPECT_EQ(enc->max_length(), 24);
  const auto batch = golden_batch();
  auto last = enc->forward(batch, Pooling::kLast);
  const double d_states = max_abs(last.token_states, golden_tensor("last_hidden"));
  const double d_last = max_abs(last.vectors, golden_tensor("last"));
  const double d_default = max_abs(enc->forward(batch).vectors, golden_tensor("last"));
  const double d_mean = max_abs(enc->forward(batch, Pooling::kMean).vectors, golden_tensor("mean"));
  EXPECT_LT(d_states, kTolerance);
  EXPECT_LT(d_last, kTolerance);
  EXPECT_LT(d_default, kTolerance);
  EXPECT_LT(d_mean, kTolerance);
  // The poolings differ, so each comparison could fail.
  EXPECT_GT(max_abs(last.vectors, golden_tensor("mean")), 0.1);
}

// Right padding: each text alone gives its row of the padded batch (and the reference's).
TEST_F(Gpt2Golden, PaddedBatchEqualsTextsOneAtATime) {
  auto enc = load_encoder(tiny_dir());
  const auto batch = golden_batch();
  const auto want = golden_tensor("last");
  for (std::int64_t i = 0; i < batch.input_ids.size(0); ++i) {
    const auto n = batch.attention_mask[i].sum().item<std::int64_t>();
    TokenBatch one{batch.input_ids[i].slice(0, 0, n).unsqueeze(0),
                   batch.attention_mask[i].slice(0, 0, n).unsqueeze(0)};
    EXPECT_LT(max_abs(enc->forward(one).vectors[0], want[i]), kTolerance) << "row " << i;
  }
}

TEST_F(Gpt2Golden, TextsTokenizeAndEncodeLikeReference) {
  auto enc = load_encoder(tiny_dir());
  auto j = nlohmann::json::parse(read_file(golden("gpt2/texts.json")));
  auto batch = enc->tokenize(j["texts"].get<std::vector<std::string>>());
  EXPECT_TRUE(torch::equal(batch.input_ids, golden_tensor("text_input_ids")));
  EXPECT_TRUE(torch::equal(batch.attention_mask, golden_tensor("text_attention_mask")));
  EXPECT_LT(max_abs(enc->forward(batch).vectors, golden_tensor("text_last")), kTolerance);
}

// GPT2LMHeadModel's checkpoints: "transformer." prefix, lm_head.weight and attention buffers.
TEST_F(Gpt2Golden, TransformerPrefixAndExtraTensorsLoad) {
  const auto dir =
      tiny_copy("gpt2_prefix", nullptr, [](const SafeTensors& st, SafeTensorsWriter& w) {
        for (const auto& kv : st.tensors()) copy_tensor(st, kv.first, "transformer." + kv.first, w);
        copy_tensor(st, "wte.weight", "lm_head.weight", w);
        copy_tensor(st, "h.0.ln_1.bias", "transformer.h.0.attn.masked_bias", w);
      });
  auto enc = load_encoder(dir);
  EXPECT_LT(max_abs(enc->forward(golden_batch()).vectors, golden_tensor("last")), kTolerance);
}

TEST_F(Gpt2Golden, MissingOrMisShapedTensorIsNamed) {
  const auto missing =
      tiny_copy("gpt2_missing", nullptr, [](const SafeTensors& st, SafeTensorsWriter& w) {
        for (const auto& kv : st.tensors())
          if (kv.first != "h.1.mlp.c_fc.weight") copy_tensor(st, kv.first, kv.first, w);
      });
  auto msg = error_of([&] { load_encoder(missing); });
  EXPECT_NE(msg.find("tensor 'h.1.mlp.c_fc.weight' is missing (expected shape (32, 128)"),
            std::string::npos)
      << msg;
  // A Conv1D weight stored (out, in), as a Linear would be, is refused with both shapes.
  const auto transposed =
      tiny_copy("gpt2_transposed", nullptr, [](const SafeTensors& st, SafeTensorsWriter& w) {
        for (const auto& kv : st.tensors()) {
          if (kv.first != "h.0.mlp.c_proj.weight") {
            copy_tensor(st, kv.first, kv.first, w);
            continue;
          }
          auto t = torch::tensor(st.to_f32(kv.first)).reshape(kv.second.shape).t().contiguous();
          w.add_f32(kv.first, {t.size(0), t.size(1)}, t.data_ptr<float>());
        }
      });
  msg = error_of([&] { load_encoder(transposed); });
  EXPECT_NE(msg.find("tensor 'h.0.mlp.c_proj.weight' has shape (32, 128), expected (128, 32) "
                     "(a Conv1D weight, stored (in, out))"),
            std::string::npos)
      << msg;
}

TEST(Gpt2Config, BadConfigsNameFileAndField) {
  auto bad = [](const std::string& text) {
    return error_of([&] { parse_gpt2_config(text, "c.json"); });
  };
  const std::string base = R"("vocab_size": 10, "n_layer": 1, "n_embd": 8)";
  EXPECT_NE(bad("{" + base + "}").find("c.json: missing field 'n_head'"), std::string::npos);
  EXPECT_NE(
      bad("{" + base + R"(, "n_head": 3})").find("'n_embd' (8) is not divisible by 'n_head' (3)"),
      std::string::npos);
  EXPECT_NE(bad("{" + base + R"(, "n_head": 2, "model_type": "bert"})").find("expected \"gpt2\""),
            std::string::npos);
  EXPECT_NE(bad("{" + base + R"(, "n_head": 2, "activation_function": "swish"})")
                .find("'activation_function' is 'swish'"),
            std::string::npos);
  auto c = parse_gpt2_config("{" + base + R"(, "n_head": 2, "n_inner": null})", "c.json");
  EXPECT_EQ(c.inner(), 32);
  EXPECT_EQ(c.activation, Activation::kGeluNew);
  EXPECT_EQ(c.n_positions, 1024);
}

TEST_F(Gpt2Golden, ModuleNamesAndAdaptableLinearsAreHuggingFaces) {
  auto enc = load_encoder(tiny_dir());
  auto params = enc->module().named_parameters();
  for (const char* name : {"wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.1.attn.c_attn.weight",
                           "h.1.attn.c_proj.bias", "h.0.mlp.c_fc.weight", "ln_f.bias"}) {
    EXPECT_TRUE(params.contains(name)) << name;
  }
  auto linears = enc->adaptable_linears();
  ASSERT_EQ(linears.size(), 8u);
  EXPECT_EQ(linears[0].first, "h.0.attn.c_attn");
  EXPECT_EQ(linears[3].first, "h.0.mlp.c_proj");
  EXPECT_EQ(linears[0].second->out_features(), 96);  // held (out, in)
  EXPECT_THROW(enc->forward(golden_batch(), Pooling::kCls), UsageError);
  LoraConfig config;
  config.r = 2;
  config.target_modules = {"c_proj"};  // PEFT's suffix match: attn.c_proj and mlp.c_proj
  EXPECT_EQ(inject_lora(*enc, config),
            (std::vector<std::string>{"h.0.attn.c_proj", "h.0.mlp.c_proj", "h.1.attn.c_proj",
                                      "h.1.mlp.c_proj"}));
}

// A PEFT-layout adapter (fan_in_fan_out, Conv1D targets) attached as a source gives the
// reference's adapted states.
TEST_F(Gpt2Golden, PeftAdapterMatchesReference) {
  auto enc = load_encoder(tiny_dir());
  const BaseShapes shapes = base_shapes(enc->module());
  const auto modules = module_paths(enc->module());
  PeftAdapter adapter = load_peft(adapter_dir(), &shapes, "tiny", &modules);
  EXPECT_TRUE(adapter.fan_in_fan_out);
  EXPECT_EQ(adapter.modules.size(), 8u);
  attach_source(enc->module(), adapter, "plugin");
  auto out = enc->forward(golden_batch());
  EXPECT_LT(max_abs(out.token_states, golden_tensor("lora_last_hidden")), kTolerance);
  EXPECT_LT(max_abs(out.vectors, golden_tensor("lora_last")), kTolerance);
  EXPECT_GT(max_abs(out.vectors, golden_tensor("last")), 0.1);  // the adapter changes outputs
}

// PEFT on GPT2LMHeadModel names the blocks "transformer.h.N": such an adapter attaches too.
TEST_F(Gpt2Golden, CausalLmAdapterPathsLoad) {
  const std::string dir = loid::testing::temp_dir("gpt2_lm_adapter");
  fs::copy_file(adapter_dir() + "/adapter_config.json", dir + "/adapter_config.json");
  auto st = SafeTensors::load(adapter_dir() + "/adapter_model.safetensors");
  SafeTensorsWriter w;
  const std::string prefix = kPeftPrefix;
  for (const auto& kv : st.tensors()) {
    copy_tensor(st, kv.first, prefix + "transformer." + kv.first.substr(prefix.size()), w);
  }
  w.write(dir + "/adapter_model.safetensors");
  auto enc = load_encoder(tiny_dir());
  const BaseShapes shapes = base_shapes(enc->module());
  PeftAdapter adapter = load_peft(dir, &shapes);
  EXPECT_EQ(adapter.modules.count("h.0.attn.c_attn"), 1u);
  attach_source(enc->module(), adapter, "plugin");
  EXPECT_LT(max_abs(enc->forward(golden_batch()).vectors, golden_tensor("lora_last")), kTolerance);
}

// `loid adapter fold` writes a GPT-2 directory (Conv1D weights back to (in, out)) that loads and
// gives the adapted outputs; a loid-saved adapter keeps PEFT's keys and fan_in_fan_out.
TEST_F(Gpt2Golden, FoldAndSaveKeepHuggingFaceLayouts) {
  const std::string out_dir = loid::testing::temp_dir("gpt2_fold") + "/folded";
  AdapterFoldOptions options;
  options.encoder_dir = tiny_dir();  // ".../tiny": the base the adapter names
  options.adapters = {adapter_dir()};
  options.out_dir = out_dir;
  std::ostringstream log;
  auto result = fold_adapters(options, log);
  EXPECT_EQ(result.modules.size(), 8u);
  auto st = SafeTensors::load(out_dir + "/model.safetensors");
  EXPECT_EQ(st.info("h.0.attn.c_attn.weight").shape, (std::vector<std::int64_t>{32, 96}));
  EXPECT_EQ(st.info("h.1.mlp.c_proj.weight").shape, (std::vector<std::int64_t>{128, 32}));
  auto folded = load_encoder(out_dir);
  EXPECT_LT(max_abs(folded->forward(golden_batch()).vectors, golden_tensor("lora_last")),
            kTolerance);

  auto enc = load_encoder(tiny_dir());
  LoraConfig config;
  config.r = 2;
  config.target_modules = {"c_attn", "c_fc"};
  inject_lora(*enc, config);
  PeftAdapter saved = extract_target(enc->module());
  EXPECT_TRUE(saved.fan_in_fan_out);
  const std::string adapter_out = loid::testing::temp_dir("gpt2_saved");
  save_peft(adapter_out, saved);
  auto j = nlohmann::json::parse(read_file(adapter_out + "/adapter_config.json"));
  EXPECT_EQ(j["fan_in_fan_out"], true);
  auto keys = SafeTensors::load(adapter_out + "/adapter_model.safetensors");
  EXPECT_EQ(keys.info("base_model.model.h.1.mlp.c_fc.lora_A.weight").shape,
            (std::vector<std::int64_t>{2, 32}));
  EXPECT_EQ(keys.info("base_model.model.h.1.mlp.c_fc.lora_B.weight").shape,
            (std::vector<std::int64_t>{128, 2}));
}

}  // namespace
}  // namespace loid
