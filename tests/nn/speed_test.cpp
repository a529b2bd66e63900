// What the speed work (issue 7) adds: the OpenBLAS helpers behind set_threads, the encoders'
// multiply-add counts used for effective GFLOP/s, and no-grad inference in eval mode.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "core/blas.h"
#include "core/progress.h"
#include "nn/bert.h"
#include "nn/encoder.h"
#include "nn/lora_inject.h"
#include "nn/use_lite.h"
#include "support/test_paths.h"
#include "support/use_lite_model.h"
#include "train/setup.h"

namespace loid {
namespace {

std::string tiny_bert_dir() {
  return std::string(LOID_SOURCE_DIR) + "/tests/golden/bert/tiny";
}

TEST(BlasKernel, WarnsOnlyForGenericKernelsOnVectorCpus) {
  BlasInfo info;
  info.openblas = true;
  info.core = "Prescott";
  const std::string w = blas_kernel_warning(info, "avx512");
  EXPECT_NE(w.find("'Prescott'"), std::string::npos) << w;
  EXPECT_NE(w.find("OPENBLAS_CORETYPE=SkylakeX"), std::string::npos) << w;
  EXPECT_NE(blas_kernel_warning(info, "avx2").find("OPENBLAS_CORETYPE=Haswell"), std::string::npos);
  info.core = "NEHALEM";
  EXPECT_FALSE(blas_kernel_warning(info, "avx2").empty());
  // A CPU without AVX2 runs generic kernels rightly; an unknown CPU gets no advice.
  EXPECT_EQ(blas_kernel_warning(info, ""), "");
  for (const char* good : {"Cooperlake", "SkylakeX", "Haswell", "Zen", "SapphireRapids"}) {
    info.core = good;
    EXPECT_EQ(blas_kernel_warning(info, "avx512"), "") << good;
  }
  info.core = "Prescott";
  info.openblas = false;
  EXPECT_EQ(blas_kernel_warning(info, "avx512"), "");
}

TEST(BlasKernel, SetThreadsReachesOpenBlas) {
  const BlasInfo before = blas_info();
  if (!before.openblas) GTEST_SKIP() << "OpenBLAS is not in this process";
  EXPECT_FALSE(before.core.empty());
  const int torch_before = torch::get_num_threads();
  EXPECT_EQ(set_threads(1), 1);
  EXPECT_EQ(blas_info().threads, 1);
  EXPECT_EQ(torch::get_num_threads(), 1);
  set_threads(2);
  EXPECT_EQ(blas_info().threads, 2);
  set_threads(torch_before);
  EXPECT_TRUE(set_blas_thread_count(before.threads));
}

// Multiply-adds per token of every linear map in the encoder's layers, read from the weight
// shapes of the module itself (an independent count of what multiply_adds() derives from the
// config), skipping the given prefixes (embeddings, pooler, head).
double linear_macs_per_token(torch::nn::Module& m, const std::vector<std::string>& skip) {
  double total = 0;
  for (const auto& p : m.named_parameters()) {
    const std::string& name = p.key();
    if (p.value().dim() != 2 || name.find("lora_") != std::string::npos) continue;
    bool skipped = false;
    for (const auto& s : skip) skipped = skipped || name.rfind(s, 0) == 0;
    if (!skipped) total += static_cast<double>(p.value().numel());
  }
  return total;
}

TEST(MultiplyAdds, BertCountsProjectionsAndAttention) {
  Progress::set_quiet(true);
  auto enc = load_encoder(tiny_bert_dir());
  auto* bert = dynamic_cast<BertEncoder*>(enc.get());
  ASSERT_NE(bert, nullptr);
  const double per_token = linear_macs_per_token(enc->module(), {"embeddings.", "pooler."});
  ASSERT_GT(per_token, 0);
  const double h = static_cast<double>(bert->config().hidden_size);
  const double layers = static_cast<double>(bert->config().num_hidden_layers);
  // Two sequences of 5 and 9 tokens: linear maps per token, plus Q K^T and P V per layer.
  const double expected = 14 * per_token + layers * 2 * h * (5 * 5 + 9 * 9);
  EXPECT_DOUBLE_EQ(enc->multiply_adds({5, 9}), expected);
  EXPECT_DOUBLE_EQ(enc->multiply_adds({}), 0.0);
}

TEST(MultiplyAdds, UseLiteCountsEveryLayerAndTheHead) {
  REQUIRE_USE_LITE_PACKAGE();
  auto enc = load_encoder(testing::use_lite_dir());
  auto* use = dynamic_cast<UseLiteEncoder*>(enc.get());
  ASSERT_NE(use, nullptr);
  const double per_token = linear_macs_per_token(enc->module(), {"embeddings.", "head."});
  const auto& o = use->model()->options_;
  const double head = static_cast<double>(o.hidden_size * o.hidden_size);
  // Attention: 2 n^2 d per layer, d = the layer's input width.
  double square = 0;
  for (std::int64_t l = 0; l < o.num_layers; ++l)
    square += 2.0 * static_cast<double>(l == 0 ? o.embedding_size : o.hidden_size);
  const double expected = 10 * per_token + square * (3 * 3 + 7 * 7) + 2 * head;
  EXPECT_DOUBLE_EQ(enc->multiply_adds({3, 7}), expected);
}

TEST(NoGradInference, EvalModeForwardBuildsNoGraphTrainModeDoes) {
  Progress::set_quiet(true);
  std::vector<std::unique_ptr<Encoder>> encoders;
  encoders.push_back(load_encoder(tiny_bert_dir()));
  if (file_exists(default_use_lite_npm_dir() + "/model.json"))
    encoders.push_back(load_encoder(testing::use_lite_dir()));
  for (auto& enc : encoders) {
    for (auto& p : enc->module().parameters()) p.requires_grad_(false);
    inject_lora(*enc, LoraConfig{});
    for (auto& p : trainable_parameters(enc->module())) p.requires_grad_(true);
    const TokenBatch batch = enc->tokenize({"a short text", "another, somewhat longer text"});
    enc->module().eval();
    EXPECT_FALSE(enc->forward(batch).vectors.requires_grad()) << enc->kind();
    enc->module().train();
    EXPECT_TRUE(enc->forward(batch).vectors.requires_grad()) << enc->kind();
    enc->module().eval();
  }
}

}  // namespace
}  // namespace loid
