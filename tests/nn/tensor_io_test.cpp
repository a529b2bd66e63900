// Tests of torch <-> safetensors conversion; half and bfloat16 decoding is checked exhaustively
// against torch's own conversions (c10::Half, c10::BFloat16), an independent implementation.
#include "nn/tensor_io.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "support/test_paths.h"

namespace loid {
namespace {

// Bitwise equality, so that NaN payloads and signed zeros count too.
void expect_same_bits(const torch::Tensor& got, const torch::Tensor& want) {
  ASSERT_EQ(got.sizes(), want.sizes());
  ASSERT_EQ(got.scalar_type(), want.scalar_type());
  ASSERT_EQ(got.nbytes(), want.nbytes());
  EXPECT_EQ(std::memcmp(got.data_ptr(), want.data_ptr(), got.nbytes()), 0);
}

TEST(TensorIo, RoundTripsFloatAndIntTensors) {
  auto f = torch::randn({3, 4, 5});
  auto i = torch::arange(-6, 6, torch::kInt64).reshape({2, 6});
  auto scalar = torch::tensor(2.5f).reshape({});
  auto empty = torch::empty({0, 7});
  SafeTensorsWriter w;
  add_tensor(w, "f", f);
  add_tensor(w, "i", i);
  add_tensor(w, "scalar", scalar);
  add_tensor(w, "empty", empty);
  auto st = SafeTensors::parse(w.serialize(), "mem");
  expect_same_bits(tensor_from(st, "f"), f);
  expect_same_bits(tensor_from(st, "i"), i);
  expect_same_bits(tensor_from(st, "scalar"), scalar);
  EXPECT_EQ(tensor_from(st, "empty").sizes(), empty.sizes());
  EXPECT_EQ(st.info("f").dtype, DType::F32);
  EXPECT_EQ(st.info("i").dtype, DType::I64);
}

TEST(TensorIo, KeepsDTypeOnWriteAndWidensOnRead) {
  auto d = torch::tensor({1.0 / 3.0, -1e39, 1e-50}, torch::kFloat64);
  auto i32 = torch::tensor({-7, 2147483647}, torch::kInt32);
  auto i16 = torch::tensor({-300, 300}, torch::kInt16);
  auto i8 = torch::tensor({-128, 127}, torch::kInt8);
  auto u8 = torch::tensor({0, 255}, torch::kUInt8);
  auto b = torch::tensor({true, false, true});
  SafeTensorsWriter w;
  add_tensor(w, "d", d);
  add_tensor(w, "i32", i32);
  add_tensor(w, "i16", i16);
  add_tensor(w, "i8", i8);
  add_tensor(w, "u8", u8);
  add_tensor(w, "b", b);
  auto st = SafeTensors::parse(w.serialize(), "mem");
  EXPECT_EQ(st.info("d").dtype, DType::F64);
  EXPECT_EQ(st.info("i32").dtype, DType::I32);
  EXPECT_EQ(st.info("i16").dtype, DType::I16);
  EXPECT_EQ(st.info("i8").dtype, DType::I8);
  EXPECT_EQ(st.info("u8").dtype, DType::U8);
  EXPECT_EQ(st.info("b").dtype, DType::BOOL);
  expect_same_bits(tensor_from(st, "d"), d.to(torch::kFloat32));  // torch's own cast
  for (const char* n : {"i32", "i16", "i8", "u8"}) {
    SCOPED_TRACE(n);
    auto src = n == std::string("i32")   ? i32
               : n == std::string("i16") ? i16
               : n == std::string("i8")  ? i8
                                         : u8;
    expect_same_bits(tensor_from(st, n), src.to(torch::kInt64));
  }
  expect_same_bits(tensor_from(st, "b"), b.to(torch::kInt64));
}

TEST(TensorIo, HalfAndBFloat16MatchTorchExhaustively) {
  // Every 16-bit pattern, as F16 and as BF16.
  auto bits = torch::arange(0, 65536, torch::kInt32).to(torch::kInt16);
  auto half = bits.view(torch::kFloat16);
  auto bf16 = bits.view(torch::kBFloat16);
  SafeTensorsWriter w;
  add_tensor(w, "half", half);
  add_tensor(w, "bf16", bf16);
  auto st = SafeTensors::parse(w.serialize(), "mem");
  EXPECT_EQ(st.info("half").dtype, DType::F16);
  EXPECT_EQ(st.info("bf16").dtype, DType::BF16);
  for (const char* n : {"half", "bf16"}) {
    SCOPED_TRACE(n);
    auto got = tensor_from(st, n);
    auto want = (n == std::string("half") ? half : bf16).to(torch::kFloat32);
    ASSERT_EQ(got.sizes(), want.sizes());
    auto nan_got = torch::isnan(got);
    EXPECT_TRUE(torch::equal(nan_got, torch::isnan(want)));
    auto finite = ~nan_got;
    // Bitwise on non-NaN values (signed zeros included).
    EXPECT_TRUE(torch::equal(got.view(torch::kInt32).masked_select(finite),
                             want.view(torch::kInt32).masked_select(finite)));
  }
}

TEST(TensorIo, NonContiguousAndGradTensorsAreCopied) {
  auto base = torch::arange(12, torch::kFloat32).reshape({3, 4});
  auto t = base.t();  // (4, 3) view, not contiguous
  auto g = torch::ones({2}, torch::requires_grad());
  SafeTensorsWriter w;
  add_tensor(w, "t", t);
  add_tensor(w, "slice", base.index({torch::indexing::Slice(), 1}));
  add_tensor(w, "g", g);
  auto st = SafeTensors::parse(w.serialize(), "mem");
  EXPECT_TRUE(torch::equal(tensor_from(st, "t"), t));
  EXPECT_TRUE(torch::equal(tensor_from(st, "slice"), torch::tensor({1.0f, 5.0f, 9.0f})));
  EXPECT_FALSE(tensor_from(st, "g").requires_grad());
  EXPECT_TRUE(torch::equal(tensor_from(st, "g"), g.detach()));
}

TEST(TensorIo, LoadedTensorOutlivesTheFile) {
  torch::Tensor t;
  {
    SafeTensorsWriter w;
    add_tensor(w, "x", torch::full({5}, 3.0f));
    auto st = SafeTensors::parse(w.serialize(), "mem");
    t = tensor_from(st, "x");
  }
  t.add_(1.0f);  // owns its storage: writable, and the SafeTensors is gone
  EXPECT_TRUE(torch::equal(t, torch::full({5}, 4.0f)));
}

TEST(TensorIo, SaveAndLoadFiles) {
  std::string dir = testing::temp_dir("tensor_io");
  std::string path = dir + "/sub/weights.safetensors";
  std::map<std::string, torch::Tensor> in = {
      {"encoder.layer.0.attention.self.query.weight", torch::randn({8, 8})},
      {"embeddings.position_ids", torch::arange(8, torch::kInt64).unsqueeze(0)},
  };
  save_tensors(path, in, {{"format", "pt"}});
  EXPECT_EQ(SafeTensors::load(path).metadata().at("format"), "pt");
  auto out = load_tensors(path);
  ASSERT_EQ(out.size(), in.size());
  for (const auto& [name, t] : in) {
    SCOPED_TRACE(name);
    expect_same_bits(out.at(name), t);
  }
}

TEST(TensorIo, ClearErrors) {
  SafeTensorsWriter w;
  EXPECT_THROW(add_tensor(w, "u", torch::Tensor()), UsageError);
  try {
    add_tensor(w, "c", torch::zeros({2}, torch::kComplexFloat));
    FAIL() << "complex tensors cannot be saved";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'c' has dtype ComplexFloat"), std::string::npos)
        << e.what();
  }
  add_tensor(w, "x", torch::zeros({1}));
  auto st = SafeTensors::parse(w.serialize(), "model.safetensors");
  try {
    tensor_from(st, "y");
    FAIL() << "absent tensor";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "model.safetensors");
    EXPECT_NE(e.problem().find("'y'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_tensors(testing::temp_dir("tensor_io_missing") + "/none.safetensors"),
               InputError);
  // Valid safetensors (no bytes), but torch cannot lay it out: an InputError, not a c10::Error.
  std::string header =
      R"({"z": {"dtype": "F32", "shape": [0, 4611686018427387904, 4], "data_offsets": [0, 0]}})";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  auto odd = SafeTensors::parse(bytes + header, "odd.safetensors");
  try {
    auto t = tensor_from(odd, "z");
    EXPECT_EQ(t.numel(), 0);  // acceptable too, if this torch version can represent it
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("odd.safetensors: tensor 'z'"), std::string::npos);
  }
}

}  // namespace
}  // namespace loid
