// LoRA injection by module-name patterns into both encoders: which layers get a target, that a
// fresh target changes nothing, that training moves only the adapters, and the PEFT round trip.
#include "nn/lora_inject.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "nn/encode.h"
#include "nn/peft.h"
#include "nn/tensor_io.h"
#include "nn/use_lite.h"
#include "support/test_paths.h"
#include "support/use_lite_model.h"

namespace loid {
namespace {

const std::vector<std::string> kTexts = {"great little speaker, clear sound",
                                         "broke after two days. returning it", "ok"};

std::unique_ptr<Encoder> tiny_bert() {
  return load_encoder(testing::golden("bert/tiny"));
}

using testing::use_lite_dir;

torch::Tensor vectors(Encoder& enc) {
  torch::NoGradGuard no_grad;
  return enc.forward(enc.tokenize(kTexts)).vectors.detach().clone();
}

// Every parameter that is not a LoRA adapter matrix, cloned.
std::map<std::string, torch::Tensor> base_parameters(Encoder& enc) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : enc.module().named_parameters())
    if (p.key().find(".lora_") == std::string::npos) out[p.key()] = p.value().detach().clone();
  return out;
}

// A few Adam steps on the trainable adapters, pulling the vectors towards a fixed random target.
void train_adapters(Encoder& enc, int steps) {
  torch::manual_seed(7);
  const auto params = trainable_parameters(enc.module());
  ASSERT_FALSE(params.empty());
  torch::optim::Adam opt(params, torch::optim::AdamOptions(1e-2));
  const auto batch = enc.tokenize(kTexts);
  enc.module().train();
  const auto goal = torch::randn({static_cast<int64_t>(kTexts.size()), enc.width()});
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    auto loss = torch::mse_loss(enc.forward(batch).vectors, goal);
    loss.backward();
    opt.step();
  }
  enc.module().eval();
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

class LoraInject : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Progress::set_quiet(true); }
};

TEST_F(LoraInject, SuffixMatchingFollowsPeft) {
  EXPECT_TRUE(module_matches("encoder.layer.0.attention.self.query", "query"));
  EXPECT_TRUE(module_matches("encoder.layer.0.attention.self.query", "self.query"));
  EXPECT_TRUE(module_matches("encoder.layer.0.attention.self.query",
                             "encoder.layer.0.attention.self.query"));
  EXPECT_TRUE(module_matches("encoder.layer.1.output.dense", "output.dense"));
  EXPECT_TRUE(module_matches("encoder.layer.1.attention.output.dense", "output.dense"));
  EXPECT_FALSE(module_matches("encoder.layer.0.attention.self.query", "uery"));
  EXPECT_FALSE(module_matches("encoder.layer.0.attention.self.query", "self"));
  EXPECT_FALSE(module_matches("encoder.layer.0.attention.self.query", ""));
  EXPECT_FALSE(module_matches("query", "self.query"));
}

TEST_F(LoraInject, BertPaperTargetsAddSixAdaptersPerLayer) {
  auto enc = tiny_bert();
  LoraConfig config;
  config.r = 4;
  config.alpha = 8;
  config.target_modules = {
      "query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"};
  const auto paths = inject_lora(*enc, config);
  ASSERT_EQ(paths.size(), 12u);  // 2 layers x 6
  EXPECT_EQ(paths.front(), "encoder.layer.0.attention.self.query");
  EXPECT_EQ(paths.back(), "encoder.layer.1.output.dense");
  for (const auto& [path, layer] : enc->adaptable_linears()) {
    if (path == "pooler.dense") {  // no pattern above matches the pooler
      EXPECT_FALSE(layer->has_target());
      continue;
    }
    ASSERT_TRUE(layer->has_target()) << path;
    EXPECT_EQ(layer->target_name(), kTargetAdapterName);
    EXPECT_EQ(layer->target().a.size(0), 4);
  }
  EXPECT_EQ(trainable_parameters(enc->module()).size(), 24u);
  // The pooler is adaptable but matched by none of these patterns.
  for (const auto& [path, layer] : lora_layers(enc->module()))
    if (path.find("pooler") != std::string::npos) EXPECT_FALSE(layer->has_target()) << path;
}

TEST_F(LoraInject, PatternsSelectASubset) {
  auto enc = tiny_bert();
  LoraConfig config;
  config.r = 2;
  config.target_modules = {"query", "value"};
  const auto paths = inject_lora(*enc, config);
  EXPECT_EQ(paths,
            (std::vector<std::string>{
                "encoder.layer.0.attention.self.query", "encoder.layer.0.attention.self.value",
                "encoder.layer.1.attention.self.query", "encoder.layer.1.attention.self.value"}));
  // A second injection into a layer that already has a target is refused.
  EXPECT_THROW(inject_lora(*enc, config), UsageError);
}

TEST_F(LoraInject, EmptyTargetListMeansAllAdaptableLinears) {
  auto enc = tiny_bert();
  LoraConfig config;
  config.r = 2;
  EXPECT_EQ(inject_lora(*enc, config).size(), 12u);
  // The stored config names the default targets explicitly, so the saved adapter is loadable.
  const auto adapter = extract_target(enc->module());
  EXPECT_EQ(adapter.config.target_modules,
            (std::vector<std::string>{"attention.self.query", "attention.self.key",
                                      "attention.self.value", "attention.output.dense",
                                      "intermediate.dense", "output.dense"}));
}

TEST_F(LoraInject, BadPatternNamesItAndChangesNothing) {
  auto enc = tiny_bert();
  LoraConfig config;
  config.target_modules = {"query", "qurey"};
  try {
    inject_lora(*enc, config);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'qurey'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("hint: module names of this encoder are attention.self.query"),
              std::string::npos)
        << msg;
  }
  EXPECT_TRUE(trainable_parameters(enc->module()).empty());
}

TEST_F(LoraInject, EncodeTextsFoldsAdaptersForTheCallOnly) {
  auto enc = tiny_bert();
  LoraConfig config;
  config.r = 4;
  config.alpha = 8;
  config.dropout = 0.0;
  inject_lora(*enc, config);
  train_adapters(*enc, 5);  // B != 0: the adapters change the vectors
  const auto weights = base_parameters(*enc);
  EncodeOptions eo;
  eo.progress = false;
  eo.batch_size = 2;
  const auto unmerged = encode_texts(*enc, kTexts, eo);
  eo.fold_adapters = true;
  const auto folded = encode_texts(*enc, kTexts, eo);
  EXPECT_LT(max_abs(folded, unmerged), 1e-5);
  // Unfolded again: every base weight bit for bit, and the adapters apply again.
  for (const auto& [name, t] : base_parameters(*enc))
    EXPECT_TRUE(torch::equal(t, weights.at(name))) << name;
  for (auto& [name, layer] : enc->adaptable_linears()) EXPECT_FALSE(layer->folded()) << name;
  EXPECT_TRUE(torch::equal(encode_texts(*enc, kTexts, EncodeOptions{Pooling::kDefault, 2, false}),
                           unmerged));
  // fold_encoder_adapters skips plain layers; the folded weight is not the base weight.
  auto layers = fold_encoder_adapters(*enc);
  EXPECT_EQ(layers.size(), enc->adaptable_linears().size() - 1);  // all but the plain pooler
  EXPECT_GT(max_abs(layers[0]->weight, weights.at(enc->adaptable_linears()[0].first + ".weight")),
            1e-7);
  EXPECT_TRUE(fold_encoder_adapters(*enc).empty());  // already folded
  unfold_encoder_adapters(layers);
  EXPECT_TRUE(
      torch::equal(layers[0]->weight, weights.at(enc->adaptable_linears()[0].first + ".weight")));
}

TEST_F(LoraInject, BertFreshTargetKeepsOutputsAndTrainingMovesOnlyAdapters) {
  auto enc = tiny_bert();
  const auto before = vectors(*enc);
  const auto base = base_parameters(*enc);
  LoraConfig config;
  config.r = 4;
  config.alpha = 8;
  config.dropout = 0.0;
  inject_lora(*enc, config);
  // B = 0 adds exactly nothing; the vectors may still differ in the last bits, because frozen
  // BERT without adapters runs Q, K and V as one fused product and with adapters as three
  // (1.2e-6 measured).
  EXPECT_LT(max_abs(vectors(*enc), before), 5e-6);

  train_adapters(*enc, 5);
  const auto after = vectors(*enc);
  EXPECT_GT(max_abs(after, before), 1e-4);
  const auto base_after = base_parameters(*enc);
  ASSERT_EQ(base_after.size(), base.size());
  for (const auto& [name, t] : base) EXPECT_TRUE(torch::equal(base_after.at(name), t)) << name;

  // Save the trained target as a PEFT directory and attach it to a fresh encoder as a source.
  PeftAdapter adapter = extract_target(enc->module());
  adapter.base_model = "tiny";
  const std::string dir = testing::temp_dir("lora_inject_peft");
  save_peft(dir, adapter);
  auto fresh = tiny_bert();
  const BaseShapes shapes = base_shapes(fresh->module());
  const PeftAdapter loaded = load_peft(dir, &shapes, "tiny");
  EXPECT_EQ(loaded.modules.size(), 12u);
  attach_source(fresh->module(), loaded, "plugin");
  EXPECT_LT(max_abs(vectors(*fresh), after), 1e-6);
}

TEST_F(LoraInject, BertPoolerIsATargetWhenNamedNotByDefault) {
  // PEFT's most common BERT list: "dense" matches the pooler's dense too, as in PEFT.
  auto enc = tiny_bert();
  LoraConfig config;
  config.r = 2;
  config.alpha = 4;
  config.target_modules = {"query", "key", "value", "dense"};
  const auto paths = inject_lora(*enc, config);
  ASSERT_EQ(paths.size(), 13u);  // 2 layers x 6, then the pooler
  EXPECT_EQ(paths.back(), "pooler.dense");
  EXPECT_EQ(trainable_parameters(enc->module()).size(), 26u);
  // The default (an empty list) leaves the pooler out, and stores the default patterns, which
  // must not match it either when PEFT reads them back.
  auto other = tiny_bert();
  config.target_modules.clear();
  const auto defaults = inject_lora(*other, config);
  ASSERT_EQ(defaults.size(), 12u);
  for (const auto& path : defaults) EXPECT_NE(path, "pooler.dense");
  const PeftAdapter stored = extract_target(other->module());
  for (const auto& pattern : stored.config.target_modules)
    EXPECT_FALSE(module_matches("pooler.dense", pattern)) << pattern;
  // Named alone, it is the only target.
  auto third = tiny_bert();
  config.target_modules = {"pooler.dense"};
  EXPECT_EQ(inject_lora(*third, config), std::vector<std::string>{"pooler.dense"});
}

TEST_F(LoraInject, BertPoolerAdapterLoadsAndAppliesWithPoolerPooling) {
  // An adapter in PEFT's layout for the pooler alone (what PEFT saves for target "dense" holds
  // this module too): it loads against the real checkpoint, changes pooling "pooler" by exactly
  // tanh(h W^T + b + s (h A^T) B^T) on the [CLS] state h, leaves cls pooling alone, and folds.
  auto base = tiny_bert();
  const int64_t h = base->width();
  torch::manual_seed(5);
  PeftAdapter ad;
  ad.config.r = 2;
  ad.config.alpha = 4;
  ad.config.target_modules = {"query", "key", "value", "dense"};
  ad.base_model = "tiny";
  const torch::Tensor a = torch::randn({2, h}) * 0.3, b = torch::randn({h, 2}) * 0.3;
  ad.modules["pooler.dense"] = {a, b};
  const std::string dir = testing::temp_dir("lora_inject_pooler");
  save_peft(dir, ad);

  auto enc = tiny_bert();
  const BaseShapes shapes = base_shapes(enc->module());
  const std::set<std::string> modules = module_paths(enc->module());
  const PeftAdapter loaded = load_peft(dir, &shapes, "tiny", &modules);
  ASSERT_EQ(loaded.modules.count("pooler.dense"), 1u);
  attach_source(enc->module(), loaded, "plugin");

  torch::NoGradGuard no_grad;
  const auto batch = enc->tokenize(kTexts);
  const auto out = enc->forward(batch, Pooling::kPooler);
  const auto plain = base->forward(batch, Pooling::kPooler);
  EXPECT_TRUE(torch::equal(out.token_states, plain.token_states));
  EXPECT_TRUE(torch::equal(enc->forward(batch, Pooling::kCls).vectors,
                           base->forward(batch, Pooling::kCls).vectors));
  const auto weights = load_tensors(testing::golden("bert/tiny/model.safetensors"));
  const torch::Tensor w = weights.at("pooler.dense.weight"), bias = weights.at("pooler.dense.bias");
  const torch::Tensor cls = out.token_states.select(1, 0);  // (B, H)
  const double s = 4.0 / 2.0;
  const torch::Tensor want =
      torch::tanh(cls.matmul(w.t()) + bias + s * cls.matmul(a.t()).matmul(b.t()));
  EXPECT_LT(max_abs(out.vectors, want), 1e-5);
  EXPECT_GT(max_abs(plain.vectors, want), 1e-3);  // the adapter matters
  const auto folded = fold_encoder_adapters(*enc);
  ASSERT_EQ(folded.size(), 1u);
  EXPECT_LT(max_abs(enc->forward(batch, Pooling::kPooler).vectors, want), 1e-5);
  unfold_encoder_adapters(folded);
}

TEST_F(LoraInject, PeftModuleNotAdaptedIsToldApartFromOneMissing) {
  auto enc = tiny_bert();
  const int64_t h = enc->width();
  const BaseShapes shapes = base_shapes(enc->module());
  const std::set<std::string> modules = module_paths(enc->module());
  auto error_for = [&](const std::string& module) {
    PeftAdapter ad;
    ad.config.r = 2;
    ad.config.alpha = 2;
    ad.modules[module] = {torch::zeros({2, h}), torch::zeros({h, 2})};
    const std::string dir = testing::temp_dir("lora_inject_missing");
    save_peft(dir, ad);
    try {
      load_peft(dir, &shapes, "", &modules);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string not_adapted = error_for("embeddings.LayerNorm");
  EXPECT_NE(not_adapted.find("'embeddings.LayerNorm' is a module of the base model that loid "
                             "does not adapt"),
            std::string::npos)
      << not_adapted;
  EXPECT_NE(not_adapted.find("pooler.dense"), std::string::npos) << not_adapted;
  EXPECT_EQ(not_adapted.find("another base model"), std::string::npos) << not_adapted;
  const std::string missing = error_for("encoder.layer.7.attention.self.query");
  EXPECT_NE(missing.find("does not exist in the base model"), std::string::npos) << missing;
  EXPECT_NE(missing.find("another base model"), std::string::npos) << missing;
}

TEST_F(LoraInject, UseLiteDefaultTargetsAndTraining) {
  REQUIRE_USE_LITE_PACKAGE();
  auto enc = load_use_lite_encoder(use_lite_dir());
  const auto before = vectors(*enc);
  const auto base = base_parameters(*enc);
  LoraConfig config;
  config.r = 4;
  config.alpha = 4;
  const auto paths = inject_lora(*enc, config);
  EXPECT_EQ(paths,
            (std::vector<std::string>{"layers.0.qkv", "layers.0.attn_out", "layers.0.ffn_in",
                                      "layers.0.ffn_out", "layers.1.qkv", "layers.1.attn_out",
                                      "layers.1.ffn_in", "layers.1.ffn_out"}));
  EXPECT_TRUE(torch::equal(vectors(*enc), before));

  train_adapters(*enc, 3);
  const auto after = vectors(*enc);
  EXPECT_GT(max_abs(after, before), 1e-5);
  for (const auto& [name, t] : base_parameters(*enc))
    EXPECT_TRUE(torch::equal(base.at(name), t)) << name;

  auto fresh = load_use_lite_encoder(use_lite_dir());
  attach_source(fresh->module(), extract_target(enc->module()), "plugin");
  EXPECT_LT(max_abs(vectors(*fresh), after), 1e-6);
}

TEST_F(LoraInject, UseLitePatterns) {
  REQUIRE_USE_LITE_PACKAGE();
  auto enc = load_use_lite_encoder(use_lite_dir());
  LoraConfig config;
  config.r = 2;
  config.target_modules = {"qkv", "layers.1.ffn_out"};
  EXPECT_EQ(inject_lora(*enc, config),
            (std::vector<std::string>{"layers.0.qkv", "layers.1.qkv", "layers.1.ffn_out"}));
  config.target_modules = {"query"};
  try {
    inject_lora(*load_use_lite_encoder(use_lite_dir()), config);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'query'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("qkv, attn_out, ffn_in, ffn_out"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace loid
