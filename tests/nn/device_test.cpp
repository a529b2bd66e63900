// --device on this build: what each value resolves to, errors that name the flag, where modules
// and adapters live, and the generic kernels (what other devices run) against the CPU's fast ones.
#include "nn/device.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "nn/encode.h"
#include "nn/encoder.h"
#include "nn/lora.h"
#include "nn/token_rows.h"
#include "support/error_of.h"
#include "support/test_paths.h"

namespace loid {
namespace {

TEST(Device, CpuAndAutoResolve) {
  EXPECT_EQ(resolve_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_EQ(device_name(resolve_device("cpu")), "cpu");
  const torch::Device a = resolve_device("auto");
  if (torch::cuda::is_available()) {
    EXPECT_EQ(a, torch::Device(torch::kCUDA, 0));
    EXPECT_EQ(device_name(a), "cuda:0");
  } else {
    EXPECT_EQ(a, torch::Device(torch::kCPU));
  }
}

TEST(Device, CudaWithoutAGpuIsAUsageErrorNamingTheFlag) {
  if (torch::cuda::is_available()) {
    EXPECT_EQ(resolve_device("cuda"), torch::Device(torch::kCUDA, 0));
    const int n = cuda_device_count();
    const std::string past = "cuda:" + std::to_string(n);
    const std::string e = testing::error_of<UsageError>([&] { resolve_device(past); });
    EXPECT_NE(e.find("--device " + past), std::string::npos) << e;
    EXPECT_NE(e.find("visible"), std::string::npos) << e;
    return;
  }
  for (const char* asked : {"cuda", "cuda:1"}) {
    const std::string e = testing::error_of<UsageError>([&] { resolve_device(asked); });
    const std::string canonical = to_string(parse_device(asked));
    EXPECT_NE(e.find("--device " + canonical), std::string::npos) << e;
    EXPECT_NE(e.find("--device cpu"), std::string::npos) << e;  // what to do instead
    if (!cuda_built()) EXPECT_NE(e.find("without CUDA"), std::string::npos) << e;
  }
  const std::string e =
      testing::error_of<UsageError>([] { resolve_device("cuda", "--eval-device"); });
  EXPECT_NE(e.find("--eval-device cuda:0"), std::string::npos) << e;
  // Bad spellings are the parser's error, with the flag.
  EXPECT_NE(testing::error_of<UsageError>([] { resolve_device("gpu"); }).find("--device 'gpu'"),
            std::string::npos);
}

TEST(Device, ModuleDeviceIsItsFirstParameters) {
  torch::nn::Linear linear(3, 2);
  EXPECT_EQ(module_device(*linear), torch::Device(torch::kCPU));
  torch::nn::Module empty;
  EXPECT_EQ(module_device(empty), torch::Device(torch::kCPU));
}

// Adapters are made on their base weight's device, in float32, as copies of what was given.
TEST(Device, AdaptersFollowTheBaseWeight) {
  const auto w = torch::randn({6, 4});
  LoraLinear layer(w, torch::Tensor());
  const auto a = torch::randn({2, 4}, torch::kFloat64), b = torch::randn({6, 2});
  layer->add_source("s", a, b, 1.0);
  const LoraPair s = layer->source("s");
  EXPECT_EQ(s.a.device(), layer->weight.device());
  EXPECT_EQ(s.a.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(s.a, a.to(torch::kFloat32)));
  EXPECT_NE(s.b.data_ptr(), b.data_ptr());  // a copy, not the caller's tensor
  LoraConfig c;
  c.r = 2;
  layer->add_target("t", c);
  for (const auto& p : layer->target_parameters()) {
    EXPECT_EQ(p.device(), layer->weight.device());
    EXPECT_TRUE(p.requires_grad());
  }
}

// The padded attention that GPUs run (packed attention is a CPU kernel) gives the vectors of the
// CPU's packed path: encoding with the packed path switched off is the generic path on the CPU.
TEST(Device, GenericAttentionPathEncodesLikeThePackedPath) {
  auto encoder = load_encoder(testing::golden("bert/tiny"));
  encoder->module().eval();
  const std::vector<std::string> texts = {
      "The guitar strings sound great!", "zzz qqq", "Loud noise.",
      "I bought this tuner after two months and it still works well. Would recommend", "ok"};
  EncodeOptions eo;
  eo.progress = false;
  eo.batch_size = 8;  // one batch of mixed lengths: grouped and packed paths both apply
  for (const Pooling pooling : {Pooling::kCls, Pooling::kMean}) {
    eo.pooling = pooling;
    const bool before = packed_attention_enabled();
    set_packed_attention_enabled(true);
    const auto packed = encode_texts(*encoder, texts, eo);
    set_packed_attention_enabled(false);
    const auto generic = encode_texts(*encoder, texts, eo);
    set_packed_attention_enabled(before);
    ASSERT_EQ(packed.sizes(), generic.sizes());
    EXPECT_LE((packed - generic).abs().max().item<double>(), 1e-5);
    EXPECT_GT(packed.abs().sum().item<double>(), 0.0);
  }
}

}  // namespace
}  // namespace loid
