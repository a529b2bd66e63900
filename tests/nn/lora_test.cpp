// LoraLinear: a fresh adapter changes nothing, only the target trains, stacking matches the
// formula, folding is exact.
#include "nn/lora.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace loid {
namespace {

// A tiny model with two LoRA layers and one plain head, as an encoder would look after injection.
struct TinyImpl : torch::nn::Module {
  TinyImpl() {
    torch::manual_seed(7);
    l1 = register_module("l1", LoraLinear(torch::nn::Linear(6, 5)));
    l2 = register_module("l2", LoraLinear(torch::nn::Linear(5, 4)));
  }
  torch::Tensor forward(const torch::Tensor& x) { return l2(torch::tanh(l1(x))); }
  LoraLinear l1{nullptr}, l2{nullptr};
};
TORCH_MODULE(Tiny);

LoraConfig config(int r, double alpha, double dropout = 0.0) {
  LoraConfig c;
  c.r = r;
  c.alpha = alpha;
  c.dropout = dropout;
  return c;
}

TEST(LoraLinear, FreshAdapterChangesNothingAndNamesFollowPeft) {
  torch::manual_seed(1);
  torch::nn::Linear base(8, 3);
  LoraLinear layer(base);
  layer->add_target("default", config(4, 8));
  torch::Tensor x = torch::randn({2, 5, 8});
  EXPECT_TRUE(torch::equal(layer(x), base(x)));
  auto names = layer->named_parameters().keys();
  std::vector<std::string> expected = {"weight", "bias", "lora_A.default.weight",
                                       "lora_B.default.weight"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(layer->named_parameters()["lora_A.default.weight"].sizes().vec(),
            (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(layer->named_parameters()["lora_B.default.weight"].sizes().vec(),
            (std::vector<int64_t>{3, 4}));
  // PEFT's kaiming_uniform_(a = sqrt(5)) bound is 1 / sqrt(in).
  EXPECT_LE(layer->target().a.abs().max().item<float>(), 1.0f / std::sqrt(8.0f) + 1e-6f);
  EXPECT_GT(layer->target().a.abs().max().item<float>(), 0.0f);
  EXPECT_EQ(peft_key("encoder.layer.0.attention.self.query", 'A'),
            "base_model.model.encoder.layer.0.attention.self.query.lora_A.weight");
}

TEST(LoraLinear, TrainingMovesOnlyTheTarget) {
  Tiny model;
  torch::manual_seed(3);
  for (auto* l : {&model->l1, &model->l2}) {
    auto& layer = *l;
    layer->add_source("src", torch::randn({2, layer->in_features()}),
                      torch::randn({layer->out_features(), 2}), 0.5);
    layer->add_target("tgt", config(3, 6, 0.1));
  }
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : model->named_parameters()) before[p.key()] = p.value().detach().clone();
  auto params = trainable_parameters(*model);
  ASSERT_EQ(params.size(), 4u);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(0.05));
  torch::Tensor x = torch::randn({16, 6}), target = torch::randn({16, 4});
  model->train();
  for (int step = 0; step < 5; ++step) {
    opt.zero_grad();
    torch::Tensor loss = torch::mse_loss(model(x), target);
    loss.backward();
    if (step == 0)
      for (const auto& p : model->named_parameters()) {
        bool is_target = p.key().find(".tgt.") != std::string::npos;
        EXPECT_EQ(p.value().grad().defined(), is_target) << p.key();
      }
    opt.step();
  }
  for (const auto& p : model->named_parameters()) {
    bool is_target = p.key().find(".tgt.") != std::string::npos;
    if (is_target)
      EXPECT_FALSE(torch::equal(p.value(), before[p.key()])) << p.key() << " did not train";
    else
      EXPECT_TRUE(torch::equal(p.value(), before[p.key()])) << p.key() << " changed";
  }
}

TEST(LoraLinear, StackedOutputEqualsFormulaAndFoldIsExact) {
  torch::manual_seed(5);
  torch::Tensor w = torch::randn({4, 6}), b = torch::randn({4});
  LoraLinear layer(w, b);
  torch::Tensor a1 = torch::randn({2, 6}), b1 = torch::randn({4, 2});
  torch::Tensor a2 = torch::randn({3, 6}), b2 = torch::randn({4, 3});
  layer->add_source("s1", a1, b1, 0.7);
  layer->add_source("s2", a2, b2, 1.3);
  layer->add_target("t", config(2, 5, 0.3));
  torch::Tensor at = torch::randn({2, 6}), bt = torch::randn({4, 2});
  {
    torch::NoGradGuard g;
    layer->target_parameters()[0].copy_(at);
    layer->target_parameters()[1].copy_(bt);
  }
  layer->eval();  // dropout off
  torch::Tensor x = torch::randn({3, 6});
  torch::Tensor expected = x.matmul(w.t()) + b + 0.7 * x.matmul(a1.t()).matmul(b1.t()) +
                           1.3 * x.matmul(a2.t()).matmul(b2.t()) +
                           2.5 * x.matmul(at.t()).matmul(bt.t());
  torch::Tensor y = layer(x).detach();
  EXPECT_TRUE(torch::allclose(y, expected, 1e-5, 1e-5));

  torch::Tensor w_orig = layer->weight.detach().clone();
  layer->fold();
  EXPECT_TRUE(layer->folded());
  torch::Tensor plain = torch::nn::functional::linear(x, layer->folded_weight(), b);
  EXPECT_TRUE(torch::allclose(layer(x).detach(), y, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(plain, y, 1e-5, 1e-5));
  layer->unfold();
  EXPECT_TRUE(torch::equal(layer->weight, w_orig));
  EXPECT_TRUE(torch::equal(layer(x).detach(), y));
}

TEST(LoraLinear, DropoutTouchesOnlyTheTargetBranch) {
  torch::manual_seed(6);
  torch::Tensor w = torch::randn({4, 6}), b = torch::randn({4});
  torch::Tensor as = torch::randn({2, 6}), bs = torch::randn({4, 2});
  LoraLinear layer(w, b);
  layer->add_source("s", as, bs, 0.5);
  // A loaded target (to continue training) with dropout 1: in training its branch is all dropped.
  layer->add_target("t", config(2, 2, 1.0), torch::randn({2, 6}), torch::randn({4, 2}));
  for (const auto& p : layer->target_parameters()) EXPECT_TRUE(p.requires_grad());
  torch::Tensor x = torch::randn({3, 6});
  torch::Tensor base_and_source = x.matmul(w.t()) + b + 0.5 * x.matmul(as.t()).matmul(bs.t());
  layer->train();
  EXPECT_TRUE(torch::allclose(layer(x).detach(), base_and_source, 1e-5, 1e-5));
  layer->eval();
  EXPECT_FALSE(torch::allclose(layer(x).detach(), base_and_source, 1e-3, 1e-3));
}

TEST(LoraLinear, RejectsBadAdapters) {
  LoraLinear layer(torch::zeros({4, 6}), torch::Tensor());
  EXPECT_THROW(layer->add_source("s", torch::zeros({2, 5}), torch::zeros({4, 2}), 1.0), UsageError);
  EXPECT_THROW(layer->add_source("a.b", torch::zeros({2, 6}), torch::zeros({4, 2}), 1.0),
               UsageError);
  layer->add_target("t", config(2, 2));
  EXPECT_THROW(layer->add_target("t2", config(2, 2)), UsageError);
  EXPECT_THROW(layer->add_source("t", torch::zeros({2, 6}), torch::zeros({4, 2}), 1.0), UsageError);
}

}  // namespace
}  // namespace loid
