// PEFT adapter directories: a fixture written from PEFT's format loads with the right names, shapes
// and values; our files round-trip; bad directories fail with actionable errors.
#include "nn/peft.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/fs.h"
#include "nn/tensor_io.h"
#include "support/test_paths.h"

namespace loid {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

const std::string kQuery = "encoder.layer.0.attention.self.query";

// A module tree holding the fixture's seven BERT paths as LoraLinear layers with the base
// weights the fixture script uses: W[i][j] = 0.01 (i - 2 j), b[i] = 0.1 i.
struct FakeBertImpl : torch::nn::Module {
  explicit FakeBertImpl(const json& modules) {
    for (const auto& item : modules.items()) {
      const std::string path = item.key();
      const int64_t out = item.value()["out"].get<int64_t>(),
                    in = item.value()["in"].get<int64_t>();
      torch::Tensor w = torch::empty({out, in}), b = torch::empty({out});
      for (int64_t i = 0; i < out; ++i) {
        b[i] = static_cast<float>(0.1 * i);
        for (int64_t j = 0; j < in; ++j) w[i][j] = static_cast<float>(0.01 * (i - 2 * j));
      }
      // Nested paths need nested modules: register along the dotted path.
      torch::nn::Module* at = this;
      std::string rest = path;
      for (auto dot = rest.find('.'); dot != std::string::npos; dot = rest.find('.')) {
        std::string part = rest.substr(0, dot);
        rest = rest.substr(dot + 1);
        auto children = at->named_children();
        if (!children.contains(part))
          at->register_module(part, std::make_shared<torch::nn::Module>());
        at = at->named_children()[part].get();
      }
      at->register_module(rest, LoraLinear(w, b).ptr());
    }
  }
};
TORCH_MODULE(FakeBert);

json expected() {
  return json::parse(read_file(testing::golden("peft/expected.json")));
}

torch::Tensor fixture_input(int64_t in) {
  torch::Tensor x = torch::empty({3, in});
  for (int64_t t = 0; t < 3; ++t)
    for (int64_t j = 0; j < in; ++j) x[t][j] = static_cast<float>(0.05 * (t + 1) * (j - 3));
  return x;
}

std::map<std::string, std::shared_ptr<LoraLinearImpl>> layers_of(const torch::nn::Module& m) {
  std::map<std::string, std::shared_ptr<LoraLinearImpl>> out;
  for (const auto& [p, l] : lora_layers(m)) out[p] = l;
  return out;
}

TEST(Peft, LoadsFixtureWrittenInPeftFormat) {
  json exp = expected();
  FakeBert model(exp["modules"]);
  BaseShapes shapes = base_shapes(*model);
  PeftAdapter ad =
      load_peft(testing::golden("peft/bert_tiny"), &shapes, "/models/bert-base-uncased");
  EXPECT_EQ(ad.config.r, 2);
  EXPECT_DOUBLE_EQ(ad.config.alpha, 4.0);
  EXPECT_DOUBLE_EQ(ad.scale(), exp["scale"].get<double>());
  EXPECT_EQ(ad.task_type, "FEATURE_EXTRACTION");
  EXPECT_EQ(ad.base_model, "bert-base-uncased");
  EXPECT_EQ(ad.modules.size(), 7u);  // six layer-0 maps and the pooler
  EXPECT_EQ(ad.modules_to_save, std::vector<std::string>{"head"});
  ASSERT_EQ(ad.saved.count("head.weight"), 1u);
  ASSERT_EQ(ad.saved.count("head.bias"), 1u);
  EXPECT_FLOAT_EQ(ad.saved["head.bias"].item<float>(), 0.5f);
  auto hw = exp["head_weight"].get<std::vector<float>>();
  EXPECT_TRUE(torch::equal(ad.saved["head.weight"].flatten(), torch::tensor(hw)));
  const auto& ffn = ad.modules.at("encoder.layer.0.intermediate.dense");
  EXPECT_EQ(ffn[0].sizes().vec(), (std::vector<int64_t>{2, 8}));
  EXPECT_EQ(ffn[1].sizes().vec(), (std::vector<int64_t>{16, 2}));

  attach_source(*model, ad, "plugin");
  auto layers = layers_of(*model);
  for (const auto& item : exp["modules"].items()) {
    const std::string path = item.key();
    const json& m = item.value();
    EXPECT_FLOAT_EQ(ad.modules.at(path)[0][0][0].item<float>(), m["a00"].get<float>()) << path;
    torch::Tensor y = layers.at(path)->forward(fixture_input(m["in"].get<int64_t>())).flatten();
    torch::Tensor want = torch::tensor(m["y"].get<std::vector<float>>());
    EXPECT_TRUE(torch::allclose(y, want, 1e-5, 1e-5))
        << path << " max diff " << (y - want).abs().max().item<float>();
  }
}

TEST(Peft, RoundTripGivesIdenticalOutputs) {
  json exp = expected();
  FakeBert model(exp["modules"]);
  torch::manual_seed(11);
  LoraConfig c;
  c.r = 3;
  c.alpha = 6;
  c.target_modules = {"query", "key", "value", "dense"};
  for (auto& [path, layer] : lora_layers(*model)) {
    layer->add_target("default", c);
    torch::NoGradGuard g;
    layer->target_parameters()[1].normal_();  // make B non-zero so the delta matters
  }
  PeftAdapter ad = extract_target(*model);
  ad.base_model = "bert-base-uncased";
  ad.modules_to_save = {"head"};
  ad.saved["head.weight"] = torch::randn({1, 8});
  ad.metadata = {{"source_domain", "Musical_Instruments"}, {"metrics", {{"rmse", 0.91}}}};
  std::string dir = testing::temp_dir("peft_roundtrip");
  save_peft(dir, ad);

  // The file uses PEFT's key names.
  auto tensors = load_tensors(dir + "/adapter_model.safetensors");
  EXPECT_EQ(tensors.count("base_model.model." + kQuery + ".lora_A.weight"), 1u);
  EXPECT_EQ(tensors.count("base_model.model." + kQuery + ".lora_B.weight"), 1u);
  EXPECT_EQ(tensors.count("base_model.model.head.weight"), 1u);
  EXPECT_EQ(tensors.size(), 15u);  // A and B of 7 modules (the pooler's too), the head
  json config = json::parse(read_file(dir + "/adapter_config.json"));
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["bias"], "none");
  EXPECT_EQ(config["fan_in_fan_out"], false);

  BaseShapes shapes = base_shapes(*model);
  PeftAdapter back = load_peft(dir, &shapes);
  EXPECT_EQ(back.metadata["source_domain"], "Musical_Instruments");
  EXPECT_TRUE(torch::equal(back.saved["head.weight"], ad.saved["head.weight"]));
  FakeBert other(exp["modules"]);
  attach_source(*other, back, "loaded");
  auto a = layers_of(*model), b = layers_of(*other);
  for (const auto& [path, layer] : a) {
    layer->eval();
    torch::Tensor x = fixture_input(layer->in_features());
    EXPECT_TRUE(torch::equal(layer->forward(x), b.at(path)->forward(x))) << path;
  }
}

// Copies the fixture into a temp dir and lets the test damage it.
std::string damaged_copy(const std::string& name) {
  std::string dir = testing::temp_dir("peft_bad_" + name);
  for (const auto& e : fs::directory_iterator(testing::golden("peft/bert_tiny")))
    fs::copy_file(e.path(), dir + "/" + e.path().filename().string());
  return dir;
}

std::string load_error(const std::string& dir, const BaseShapes* base = nullptr,
                       const std::string& expected_base = "") {
  try {
    load_peft(dir, base, expected_base);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

void edit_config(const std::string& dir, const std::function<void(json&)>& f) {
  json j = json::parse(read_file(dir + "/adapter_config.json"));
  f(j);
  write_file_atomic(dir + "/adapter_config.json", j.dump());
}

void drop_tensor(const std::string& dir, const std::string& key) {
  auto t = load_tensors(dir + "/adapter_model.safetensors");
  t.erase(key);
  save_tensors(dir + "/adapter_model.safetensors", t);
}

TEST(Peft, ErrorsAreActionable) {
  std::string dir = damaged_copy("type");
  edit_config(dir, [](json& j) { j["peft_type"] = "IA3"; });
  EXPECT_THAT(load_error(dir), HasSubstr("peft_type \"IA3\" is not supported"));

  dir = damaged_copy("rank");
  edit_config(dir, [](json& j) { j["r"] = 4; });
  EXPECT_THAT(load_error(dir), HasSubstr("rank mismatch: config r = 4"));

  dir = damaged_copy("noB");
  drop_tensor(dir, "base_model.model." + kQuery + ".lora_B.weight");
  EXPECT_THAT(load_error(dir), HasSubstr(kQuery + ".lora_A.weight' has no matching"));

  dir = damaged_copy("noA");
  drop_tensor(dir, "base_model.model." + kQuery + ".lora_A.weight");
  EXPECT_THAT(load_error(dir), HasSubstr(kQuery + ".lora_B.weight' has no matching"));

  dir = damaged_copy("base");
  BaseShapes shapes = {{kQuery, {8, 8}}};
  EXPECT_THAT(
      load_error(dir, &shapes),
      HasSubstr("does not exist in the base model (hint: adapter made for another base model?)"));
  shapes.clear();
  const json exp = expected();  // kept alive: items() of a temporary would dangle
  for (const auto& item : exp["modules"].items())
    shapes[item.key()] = {item.value()["out"].get<int64_t>(), item.value()["in"].get<int64_t>()};
  shapes[kQuery] = {16, 16};
  EXPECT_THAT(load_error(dir, &shapes), HasSubstr("shape mismatch at '" + kQuery));
  EXPECT_THAT(load_error(dir, nullptr, "roberta-base"), HasSubstr("trained on base model"));

  dir = damaged_copy("stray");
  auto t = load_tensors(dir + "/adapter_model.safetensors");
  t["base_model.model.pooler.dense.weight"] = torch::zeros({2, 2});
  save_tensors(dir + "/adapter_model.safetensors", t);
  EXPECT_THAT(load_error(dir),
              HasSubstr("unexpected tensor 'base_model.model.pooler.dense.weight'"));

  EXPECT_THAT(load_error(testing::temp_dir("peft_empty")),
              HasSubstr("not a PEFT adapter directory"));
}

}  // namespace
}  // namespace loid
