// BERT encoder against the float64 PyTorch reference in tests/golden/bert (make_golden.py), plus
// checkpoint/config validation, padding invariance and the LoRA-facing module names.
#include "nn/bert.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "io/safetensors.h"
#include "support/error_of.h"
#include "support/test_paths.h"

namespace loid {
namespace {

namespace fs = std::filesystem;
using loid::testing::golden;

constexpr double kTolerance = 1e-4;  // max abs difference allowed against the reference

std::string tiny_dir() {
  return golden("bert/tiny");
}

// A golden tensor, read without the code under test (F32 -> float, I64 -> int64).
torch::Tensor golden_tensor(const SafeTensors& st, const std::string& name) {
  const auto& info = st.info(name);
  if (info.dtype == DType::I64) {
    auto v = st.to_i64(name);
    return torch::tensor(v, torch::kInt64).reshape(info.shape);
  }
  auto v = st.to_f32(name);
  return torch::tensor(v, torch::kFloat32).reshape(info.shape);
}

const SafeTensors& expected() {
  static const SafeTensors st = SafeTensors::load(golden("bert/expected.safetensors"));
  return st;
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// Copies the tiny model to a temp dir, optionally editing config.json and the weights.
std::string tiny_copy(
    const std::string& name, const std::function<void(nlohmann::json&)>& edit_config = nullptr,
    const std::function<void(const SafeTensors&, SafeTensorsWriter&)>& edit_weights = nullptr) {
  const std::string dir = loid::testing::temp_dir(name);
  fs::copy_file(tiny_dir() + "/vocab.txt", dir + "/vocab.txt");
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

using loid::testing::error_of;

TokenBatch golden_batch(const std::string& prefix = "") {
  return {golden_tensor(expected(), prefix + "input_ids"),
          golden_tensor(expected(), prefix + "attention_mask")};
}

// The reference's last-layer states with padding positions set to 0: loid computes states for the
// real tokens only and returns 0 at padding, where the reference holds values nothing reads.
torch::Tensor real_tokens_only(const torch::Tensor& states, const torch::Tensor& mask) {
  return states * mask.unsqueeze(-1).to(states.scalar_type());  // (B, T, H)
}

class BertGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Progress::set_quiet(true); }
};

TEST_F(BertGolden, AllOutputsMatchPyTorchReference) {
  auto enc = load_encoder(tiny_dir());
  ASSERT_EQ(enc->kind(), "bert");
  EXPECT_EQ(enc->width(), 32);
  EXPECT_EQ(enc->max_length(), 40);
  const auto batch = golden_batch();
  ASSERT_GT(batch.attention_mask.eq(0).sum().item<std::int64_t>(), 0) << "the batch has padding";
  auto cls = enc->forward(batch, Pooling::kCls);
  const double d_hidden =
      max_abs(cls.token_states,
              real_tokens_only(golden_tensor(expected(), "last_hidden"), batch.attention_mask));
  const double d_cls = max_abs(cls.vectors, golden_tensor(expected(), "cls"));
  const double d_default = max_abs(enc->forward(batch).vectors, golden_tensor(expected(), "cls"));
  const double d_pooler =
      max_abs(enc->forward(batch, Pooling::kPooler).vectors, golden_tensor(expected(), "pooler"));
  const double d_mean =
      max_abs(enc->forward(batch, Pooling::kMean).vectors, golden_tensor(expected(), "mean"));
  std::printf("max abs diff vs PyTorch: last_hidden %.3g cls %.3g pooler %.3g mean %.3g\n",
              d_hidden, d_cls, d_pooler, d_mean);
  EXPECT_LT(d_hidden, kTolerance);
  EXPECT_LT(d_cls, kTolerance);
  EXPECT_LT(d_default, kTolerance);
  EXPECT_LT(d_pooler, kTolerance);
  EXPECT_LT(d_mean, kTolerance);
  // The outputs are not trivially close to each other (the comparison can fail).
  EXPECT_GT(max_abs(cls.vectors, golden_tensor(expected(), "mean")), 0.1);
}

TEST_F(BertGolden, GeluNewActivationMatches) {
  auto dir = tiny_copy("bert_gelu_new", [](nlohmann::json& c) { c["hidden_act"] = "gelu_new"; });
  auto enc = load_encoder(dir);
  const auto batch = golden_batch();
  auto out = enc->forward(batch);
  const double d = max_abs(
      out.token_states,
      real_tokens_only(golden_tensor(expected(), "last_hidden_gelu_new"), batch.attention_mask));
  std::printf("max abs diff vs PyTorch (gelu_new): %.3g\n", d);
  EXPECT_LT(d, kTolerance);
  EXPECT_GT(max_abs(out.token_states, golden_tensor(expected(), "last_hidden")), 1e-4);
}

TEST_F(BertGolden, TextsTokenizeAndEncodeLikeReference) {
  auto enc = load_encoder(tiny_dir());
  auto j = nlohmann::json::parse(read_file(golden("bert/texts.json")));
  auto texts = j["texts"].get<std::vector<std::string>>();
  auto batch = enc->tokenize(texts);
  EXPECT_TRUE(torch::equal(batch.input_ids, golden_tensor(expected(), "text_input_ids")));
  EXPECT_TRUE(torch::equal(batch.attention_mask, golden_tensor(expected(), "text_attention_mask")));
  const double d = max_abs(enc->forward(batch).vectors, golden_tensor(expected(), "text_cls"));
  std::printf("max abs diff vs PyTorch (texts, cls): %.3g\n", d);
  EXPECT_LT(d, kTolerance);
}

TEST_F(BertGolden, BertPrefixAndExtraTensorsLoad) {
  auto dir = tiny_copy("bert_prefix", nullptr, [](const SafeTensors& st, SafeTensorsWriter& w) {
    for (const auto& kv : st.tensors()) copy_tensor(st, kv.first, "bert." + kv.first, w);
    std::vector<float> bias(120, 0.5f);
    w.add_f32("cls.predictions.bias", {120}, bias.data());
  });
  auto enc = load_encoder(dir);
  const double d = max_abs(enc->forward(golden_batch()).vectors, golden_tensor(expected(), "cls"));
  EXPECT_LT(d, kTolerance);
}

TEST_F(BertGolden, MissingTensorNamesFileAndTensor) {
  auto dir = tiny_copy("bert_missing", nullptr, [](const SafeTensors& st, SafeTensorsWriter& w) {
    for (const auto& kv : st.tensors())
      if (kv.first != "encoder.layer.1.output.dense.weight") copy_tensor(st, kv.first, kv.first, w);
  });
  const auto msg = error_of([&] { load_encoder(dir); });
  EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'encoder.layer.1.output.dense.weight' is missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(32, 64)"), std::string::npos) << msg;
}

TEST_F(BertGolden, WrongShapeSuggestsWrongConfig) {
  auto dir = tiny_copy("bert_shape", [](nlohmann::json& c) { c["intermediate_size"] = 48; });
  const auto msg = error_of([&] { load_encoder(dir); });
  EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'encoder.layer.0.intermediate.dense.weight' has shape (64, 32), "
                     "expected (48, 32)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("wrong config.json"), std::string::npos) << msg;
}

TEST(BertConfig, BadConfigsNameFileAndField) {
  const std::string good = read_file(tiny_dir() + "/config.json");
  auto with = [&](const std::function<void(nlohmann::json&)>& edit) {
    auto j = nlohmann::json::parse(good);
    edit(j);
    return error_of([&] { parse_bert_config(j.dump(), "dir/config.json"); });
  };
  EXPECT_EQ(error_of([&] { parse_bert_config(good, "dir/config.json"); }), "(no error)");
  auto msg = with([](nlohmann::json& j) { j["num_attention_heads"] = 5; });
  EXPECT_NE(msg.find("dir/config.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not divisible by 'num_attention_heads' (5)"), std::string::npos) << msg;
  msg = with([](nlohmann::json& j) { j["hidden_size"] = -32; });
  EXPECT_NE(msg.find("'hidden_size' must be positive"), std::string::npos) << msg;
  msg = with([](nlohmann::json& j) { j.erase("vocab_size"); });
  EXPECT_NE(msg.find("missing field 'vocab_size'"), std::string::npos) << msg;
  msg = with([](nlohmann::json& j) { j["num_hidden_layers"] = "two"; });
  EXPECT_NE(msg.find("'num_hidden_layers' must be an integer"), std::string::npos) << msg;
  msg = with([](nlohmann::json& j) { j["hidden_act"] = "swish"; });
  EXPECT_NE(msg.find("'hidden_act' is 'swish'"), std::string::npos) << msg;
  msg = error_of([] { parse_bert_config("{ \"hidden_size\": ", "dir/config.json"); });
  EXPECT_NE(msg.find("dir/config.json: not valid JSON"), std::string::npos) << msg;
  // Through load_encoder the real path is named.
  auto dir = tiny_copy("bert_badcfg", [](nlohmann::json& c) { c["max_position_embeddings"] = 0; });
  msg = error_of([&] { load_encoder(dir); });
  EXPECT_NE(msg.find(dir + "/config.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'max_position_embeddings' must be positive"), std::string::npos) << msg;
}

TEST_F(BertGolden, PaddingDoesNotChangeRealTokens) {
  auto enc = load_encoder(tiny_dir());
  const auto batch = golden_batch();
  auto together = enc->forward(batch, Pooling::kMean);
  auto lengths = batch.attention_mask.sum(1);
  for (std::int64_t i = 0; i < batch.input_ids.size(0); ++i) {
    const auto n = lengths[i].item<std::int64_t>();
    TokenBatch alone{batch.input_ids.slice(0, i, i + 1).slice(1, 0, n),
                     batch.attention_mask.slice(0, i, i + 1).slice(1, 0, n)};
    auto single = enc->forward(alone, Pooling::kMean);
    EXPECT_LT(max_abs(single.token_states[0], together.token_states[i].slice(0, 0, n)), 1e-5)
        << "sequence " << i;
    EXPECT_LT(max_abs(single.vectors[0], together.vectors[i]), 1e-5) << "sequence " << i;
  }
}

TEST_F(BertGolden, TrainingModeMatchesReferenceAndPaddingGetsNoGradient) {
  // With gradients on, the unfused projections run on the real tokens' rows too.
  auto enc = load_encoder(tiny_dir());
  enc->module().train();
  const auto batch = golden_batch();
  auto out = enc->forward(batch, Pooling::kCls);
  EXPECT_LT(max_abs(out.vectors, golden_tensor(expected(), "cls")), kTolerance);
  EXPECT_LT(max_abs(out.token_states, real_tokens_only(golden_tensor(expected(), "last_hidden"),
                                                       batch.attention_mask)),
            kTolerance);
  // The gradient of the whole batch is the sum of each sequence's gradient alone: padding
  // contributes nothing.
  const std::string name = "encoder.layer.0.output.LayerNorm.weight";
  auto params = enc->module().named_parameters();
  out.vectors.sum().backward();
  const auto together = params[name].grad().clone();
  auto sum = torch::zeros_like(together);
  const auto lengths = batch.attention_mask.sum(1);
  for (std::int64_t i = 0; i < batch.input_ids.size(0); ++i) {
    const auto n = lengths[i].item<std::int64_t>();
    params[name].mutable_grad().zero_();
    TokenBatch alone{batch.input_ids.slice(0, i, i + 1).slice(1, 0, n),
                     batch.attention_mask.slice(0, i, i + 1).slice(1, 0, n)};
    enc->forward(alone, Pooling::kCls).vectors.sum().backward();
    sum += params[name].grad();
  }
  EXPECT_LT(max_abs(together, sum), 1e-4);
  EXPECT_GT(together.abs().max().item<double>(), 1e-3);  // a gradient that could differ
}

TEST_F(BertGolden, ParameterNamesAreHuggingFaceNames) {
  auto enc = load_bert_encoder(tiny_dir());
  std::set<std::string> ours, theirs;
  for (const auto& p : enc->model()->named_parameters()) ours.insert(p.key());
  const auto st = SafeTensors::load(tiny_dir() + "/model.safetensors");
  for (const auto& kv : st.tensors()) theirs.insert(kv.first);
  EXPECT_EQ(ours, theirs);
}

TEST_F(BertGolden, AdaptableLinearsAreTheModelsLinears) {
  auto enc = load_encoder(tiny_dir());
  auto linears = enc->adaptable_linears();
  ASSERT_EQ(linears.size(), 13u);  // 6 per layer, 2 layers, then the pooler
  const std::vector<std::string> suffixes = {"attention.self.query", "attention.self.key",
                                             "attention.self.value", "attention.output.dense",
                                             "intermediate.dense",   "output.dense"};
  auto params = enc->module().named_parameters();
  for (std::size_t i = 0; i < linears.size(); ++i) {
    const std::string want = i == 12
                                 ? std::string("pooler.dense")
                                 : "encoder.layer." + std::to_string(i / 6) + "." + suffixes[i % 6];
    EXPECT_EQ(linears[i].first, want);
    EXPECT_EQ(linears[i].second->weight.data_ptr(), params[want + ".weight"].data_ptr()) << want;
  }
}

TEST_F(BertGolden, SentencePoolingIsRejected) {
  auto enc = load_encoder(tiny_dir());
  try {
    enc->forward(golden_batch(), Pooling::kSentence);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("cls, pooler or mean"), std::string::npos) << e.what();
  }
}

TEST_F(BertGolden, MaxLengthTruncatesKeepingSep) {
  auto enc = load_bert_encoder(tiny_dir());
  enc->set_max_length(6);
  EXPECT_EQ(enc->max_length(), 6);
  auto batch = enc->tokenize({"the guitar strings sound great and the price is nice", "ok"});
  ASSERT_EQ(batch.input_ids.size(1), 6);
  EXPECT_EQ(batch.input_ids[0][0].item<std::int64_t>(), 2);  // [CLS]
  EXPECT_EQ(batch.input_ids[0][5].item<std::int64_t>(), 3);  // [SEP]
  EXPECT_EQ(batch.attention_mask[1].sum().item<std::int64_t>(), 3);
  EXPECT_EQ(batch.input_ids[1][4].item<std::int64_t>(), 0);  // [PAD]
  EXPECT_THROW(enc->set_max_length(41), UsageError);
}

TEST_F(BertGolden, GradientsOnlyInTrainingMode) {
  auto enc = load_encoder(tiny_dir());
  EXPECT_FALSE(enc->forward(golden_batch()).vectors.requires_grad());
  enc->module().train();
  auto v = enc->forward(golden_batch()).vectors;
  EXPECT_TRUE(v.requires_grad());
  v.sum().backward();
  auto params = enc->module().named_parameters();
  EXPECT_TRUE(params["encoder.layer.0.attention.output.LayerNorm.weight"].grad().defined());
  // The LoRA-adaptable projections hold frozen base weights.
  EXPECT_FALSE(params["encoder.layer.0.attention.self.query.weight"].grad().defined());
}

}  // namespace
}  // namespace loid
