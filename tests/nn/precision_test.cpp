// bfloat16 autocast scopes: names, state restored (also nested), and a LoRA layer with a source and
// a target adapter under bfloat16 against float32 (close to bf16 rounding, gradients in float32).
#include "nn/precision.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "nn/encode.h"
#include "nn/lora.h"
#include "nn/torch_compat.h"
#include "support/use_lite_model.h"

namespace loid {
namespace {

TEST(ComputeDtype, NamesRoundTripAndUnknownIsAUsageError) {
  EXPECT_EQ(parse_compute_dtype("bf16"), ComputeDtype::kBFloat16);
  EXPECT_EQ(parse_compute_dtype("bfloat16"), ComputeDtype::kBFloat16);
  EXPECT_EQ(parse_compute_dtype("fp32"), ComputeDtype::kFloat32);
  EXPECT_EQ(to_string(ComputeDtype::kBFloat16), "bf16");
  EXPECT_EQ(to_string(ComputeDtype::kFloat32), "fp32");
  EXPECT_THROW(parse_compute_dtype("fp16"), UsageError);
}

TEST(ComputeDtype, ScopesSetAndRestoreAutocast) {
  constexpr auto kCpu = c10::DeviceType::CPU;
  ASSERT_FALSE(compat::autocast_enabled(kCpu));
  {
    ComputeDtypeScope bf16(ComputeDtype::kBFloat16);
    EXPECT_TRUE(compat::autocast_enabled(kCpu));
    EXPECT_EQ(compat::autocast_dtype(kCpu), at::kBFloat16);
    {
      ComputeDtypeScope fp32(ComputeDtype::kFloat32);
      EXPECT_FALSE(compat::autocast_enabled(kCpu));
      EXPECT_EQ(torch::mm(torch::ones({2, 2}), torch::ones({2, 2})).scalar_type(), torch::kFloat);
    }
    EXPECT_TRUE(compat::autocast_enabled(kCpu));
    EXPECT_EQ(torch::mm(torch::ones({2, 2}), torch::ones({2, 2})).scalar_type(), torch::kBFloat16);
  }
  EXPECT_FALSE(compat::autocast_enabled(kCpu));
}

// CUDA's autocast is thread-local state like the CPU's: a scope sets it (bf16, for models on a GPU)
// and restores it, including a dtype set before the scope, on any build.
TEST(ComputeDtype, ScopesSetAndRestoreCudaAutocast) {
  constexpr auto kCuda = c10::DeviceType::CUDA;
  const auto dtype_before = compat::autocast_dtype(kCuda);
  ASSERT_FALSE(compat::autocast_enabled(kCuda));
  compat::set_autocast_dtype(kCuda, at::kHalf);
  {
    ComputeDtypeScope bf16(ComputeDtype::kBFloat16);
    EXPECT_TRUE(compat::autocast_enabled(kCuda));
    EXPECT_EQ(compat::autocast_dtype(kCuda), at::kBFloat16);
    // The CPU's and CUDA's settings are separate: turning one off leaves the other.
    compat::set_autocast_enabled(c10::DeviceType::CPU, false);
    EXPECT_TRUE(compat::autocast_enabled(kCuda));
    compat::set_autocast_enabled(c10::DeviceType::CPU, true);
  }
  EXPECT_FALSE(compat::autocast_enabled(kCuda));
  EXPECT_EQ(compat::autocast_dtype(kCuda), at::kHalf);
  compat::set_autocast_dtype(kCuda, dtype_before);
}

TEST(ComputeDtype, LoraLayerUnderBf16IsCloseAndTrainsInFloat32) {
  torch::manual_seed(3);
  LoraLinear layer(torch::randn({24, 16}) * 0.2, torch::randn({24}) * 0.1);
  layer->add_source("plugin", torch::randn({4, 16}) * 0.2, torch::randn({24, 4}) * 0.2, 0.5);
  LoraConfig c;
  c.r = 4;
  c.alpha = 8;
  c.dropout = 0.0;
  layer->add_target("default", c, torch::randn({4, 16}) * 0.2, torch::randn({24, 4}) * 0.2);
  const torch::Tensor x = torch::randn({5, 7, 16});
  const torch::Tensor y32 = layer->forward(x);
  torch::Tensor y16;
  {
    ComputeDtypeScope scope(ComputeDtype::kBFloat16);
    y16 = layer->forward(x);
  }
  EXPECT_EQ(y16.scalar_type(), torch::kBFloat16);
  const double err = (y16.to(torch::kFloat) - y32).abs().max().item<double>();
  const double scale = y32.abs().max().item<double>();
  EXPECT_LT(err, 2e-2 * scale);  // bf16 keeps 8 significant bits per value
  EXPECT_GT(err, 0.0);           // it did run in bf16

  y16.to(torch::kFloat).sum().backward();
  for (const auto& p : layer->named_parameters()) {
    if (!p.value().requires_grad()) continue;
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_EQ(p.value().grad().scalar_type(), torch::kFloat) << p.key();
  }
}

// The default encoder end to end under bf16: unit sentence vectors within bf16 rounding of fp32's.
TEST(ComputeDtype, UseLiteEncodesUnderBf16CloseToFp32) {
  REQUIRE_USE_LITE_PACKAGE();
  auto enc = load_encoder(testing::use_lite_dir());
  const std::vector<std::string> texts = {"great strings, bright sound",
                                          "the cable broke after a week of light use", "ok"};
  EncodeOptions eo;
  eo.progress = false;
  const torch::Tensor v32 = encode_texts(*enc, texts, eo);
  eo.dtype = ComputeDtype::kBFloat16;
  const torch::Tensor v16 = encode_texts(*enc, texts, eo);
  ASSERT_EQ(v16.scalar_type(), torch::kFloat32);
  const double diff = (v16 - v32).abs().max().item<double>();
  EXPECT_GT(diff, 0.0);
  EXPECT_LT(diff, 0.03);
  const torch::Tensor cos = (v16 * v32).sum(1) / (v16.norm(2, 1) * v32.norm(2, 1));
  EXPECT_GT(cos.min().item<double>(), 0.998);
}

}  // namespace
}  // namespace loid
