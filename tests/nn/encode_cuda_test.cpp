// The encoders, the dropout mask and a few LoRA training steps on a CUDA GPU against the CPU
// (fp32, TF32 left off as libtorch defaults it for matrix multiplies): vectors within 1e-4,
// training metrics within 1e-3. Each test skips without a GPU.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "nn/dropout.h"
#include "nn/encode.h"
#include "nn/encoder.h"
#include "nn/lora_inject.h"
#include "rec/rating_head.h"
#include "support/cuda.h"
#include "support/test_paths.h"
#include "support/use_lite_model.h"
#include "train/text_regressor.h"

namespace loid {
namespace {

const std::vector<std::string>& texts() {
  static const std::vector<std::string> t = {
      "The guitar strings sound great!",
      "Cheap cables, playing loudly; strummed fine.",
      "I bought this tuner after two months and it still works well. Would recommend",
      "zzz qqq",
      "Loud noise.",
      "",
      "ok"};
  return t;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kCPU) - b.to(torch::kCPU)).abs().max().item<double>();
}

// Random non-zero adapters on every adaptable layer (the target's B starts at zero otherwise).
void inject_random_adapters(Encoder& encoder) {
  torch::manual_seed(11);
  LoraConfig c;
  c.r = 4;
  c.alpha = 8;
  c.dropout = 0.0;
  inject_lora(encoder, c);
  torch::NoGradGuard no_grad;
  for (auto& [path, layer] : encoder.adaptable_linears()) {
    (void)path;
    const auto ab = layer->target_parameters();  // {A, B}
    if (!ab.empty()) ab[1].normal_(0.0, 0.05);
  }
}

void expect_encodes_alike(const std::string& dir, const std::vector<Pooling>& poolings) {
  auto cpu = load_encoder(dir);
  auto gpu = load_encoder(dir);
  inject_random_adapters(*cpu);
  inject_random_adapters(*gpu);
  gpu->module().to(torch::kCUDA);
  cpu->module().eval();
  gpu->module().eval();
  EncodeOptions eo;
  eo.progress = false;
  eo.batch_size = 4;
  for (const Pooling p : poolings) {
    eo.pooling = p;
    const auto a = encode_texts(*cpu, texts(), eo);
    const auto b = encode_texts(*gpu, texts(), eo);
    ASSERT_TRUE(b.device().is_cpu());  // vectors come back to the host
    EXPECT_LE(max_diff(a, b), 1e-4) << dir << ", pooling " << static_cast<int>(p);
  }
  // The training path (gradients on, grouped padded attention) and its token states.
  const auto batch = cpu->tokenize(texts());
  const auto sa = cpu->forward(batch).token_states;
  const auto sb = gpu->forward(batch).token_states;
  EXPECT_TRUE(sb.device().is_cuda());
  EXPECT_LE(max_diff(sa, sb), 1e-4) << dir << ", token states with gradients on";
}

TEST(CudaEncode, BertVectorsEqualTheCpus) {
  REQUIRE_CUDA();
  expect_encodes_alike(testing::golden("bert/tiny"), {Pooling::kCls, Pooling::kMean});
}

TEST(CudaEncode, UseLiteVectorsEqualTheCpus) {
  REQUIRE_CUDA();
  REQUIRE_USE_LITE_PACKAGE();
  expect_encodes_alike(testing::use_lite_dir(), {Pooling::kSentence});
}

TEST(CudaDropout, DeviceMaskEqualsHostMaskAndDropoutFollowsTheSeed) {
  REQUIRE_CUDA();
  const std::int64_t n = 5 * (1 << 16) + 3;
  for (const double p : {0.1, 0.5}) {
    const auto host = dropout_mask_host(n, p, 0x0123456789abcdefULL);
    const auto dev = dropout_mask_tensor(n, p, 0x0123456789abcdefULL, torch::kCUDA);
    EXPECT_TRUE(dev.is_cuda());
    EXPECT_TRUE(torch::equal(host, dev.to(torch::kCPU))) << "p " << p;
  }
  const auto x = torch::randn({64, 300});
  torch::manual_seed(5);
  const auto on_cpu = fast_dropout(x, 0.2);
  torch::manual_seed(5);
  const auto on_gpu = fast_dropout(x.to(torch::kCUDA), 0.2);
  EXPECT_TRUE(torch::equal(on_cpu, on_gpu.to(torch::kCPU)));
}

struct Fit {
  TextRegressorResult result;
  std::vector<torch::Tensor> adapters;  // the trained target's A and B, on the CPU
};

// A few Re-LoRA steps on the tiny BERT from the same seeds on `device`. LoRA dropout on (its
// mask is the same on every device); the head's dropout off (torch's draws differ by device).
Fit fit_on(const torch::Device& device) {
  auto encoder = load_encoder(testing::golden("bert/tiny"));
  encoder->module().to(device);
  torch::manual_seed(3);
  LoraConfig c;
  c.r = 4;
  c.alpha = 8;
  c.dropout = 0.1;
  inject_lora(*encoder, c);
  torch::manual_seed(3);
  RatingHead head(encoder->width(), 8, 0.0, 3.5f);
  std::vector<std::string> train, validation;
  std::vector<float> train_y, validation_y;
  for (int i = 0; i < 24; ++i) {
    const auto& t = texts()[static_cast<std::size_t>(i) % texts().size()];
    (i % 4 == 3 ? validation : train).push_back(t + " " + std::to_string(i));
    (i % 4 == 3 ? validation_y : train_y).push_back(static_cast<float>(1 + i % 5));
  }
  TextRegressorOptions o;
  o.epochs = 2;
  o.patience = 2;
  o.batch_size = 6;
  o.learning_rate = 1e-2;
  o.progress = false;
  Fit f;
  f.result = train_text_regressor(*encoder, head, train, train_y, validation, validation_y, o);
  for (auto& [path, layer] : encoder->adaptable_linears()) {
    (void)path;
    for (const auto& t : layer->target_parameters())
      f.adapters.push_back(t.detach().to(torch::kCPU));
  }
  return f;
}

TEST(CudaTrain, LoraStepsEqualTheCpus) {
  REQUIRE_CUDA();
  const Fit a = fit_on(torch::kCPU), b = fit_on(torch::kCUDA);
  ASSERT_EQ(a.result.curve.size(), b.result.curve.size());
  EXPECT_EQ(a.result.steps, b.result.steps);
  EXPECT_NEAR(a.result.initial_validation_mse, b.result.initial_validation_mse, 1e-3);
  for (std::size_t e = 0; e < a.result.curve.size(); ++e) {
    EXPECT_NEAR(a.result.curve[e].train_loss, b.result.curve[e].train_loss, 1e-3) << "epoch " << e;
    EXPECT_NEAR(a.result.curve[e].validation_mse, b.result.curve[e].validation_mse, 1e-3)
        << "epoch " << e;
  }
  ASSERT_EQ(a.adapters.size(), b.adapters.size());
  for (std::size_t i = 0; i < a.adapters.size(); ++i)
    EXPECT_LE(max_diff(a.adapters[i], b.adapters[i]), 1e-3) << "adapter tensor " << i;
}

}  // namespace
}  // namespace loid
