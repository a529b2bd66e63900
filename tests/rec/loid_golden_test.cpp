// The LoID model against the float64 PyTorch reference in tests/golden/loid (make_golden.py):
// the forward pass (attended vectors and prediction), the triplet loss, the mf+text training
// penalty, and the parameters after one Adam step of the training loss, for the paper's predictor
// and for mf+text with text factors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "io/safetensors.h"
#include "nn/state_dict.h"
#include "rec/loid_model.h"
#include "support/test_paths.h"

namespace loid {
namespace {

using nlohmann::json;
constexpr double kTolerance = 1e-5;  // max abs difference allowed against the reference

const SafeTensors& expected() {
  static const SafeTensors st = SafeTensors::load(testing::golden("loid/expected.safetensors"));
  return st;
}

// A golden tensor, read without the code under test (F32 -> float, I64 -> int64).
torch::Tensor golden_tensor(const std::string& name) {
  const SafeTensors& st = expected();
  const auto& info = st.info(name);
  if (info.dtype == DType::I64)
    return torch::tensor(st.to_i64(name), torch::kInt64).reshape(info.shape);
  return torch::tensor(st.to_f32(name), torch::kFloat32).reshape(info.shape);
}

json meta(const std::string& key) {
  return json::parse(expected().metadata().at(key));
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// Every tensor named "<prefix><name>", keyed by name.
std::map<std::string, torch::Tensor> with_prefix(const std::string& prefix) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& entry : expected().tensors())
    if (entry.first.rfind(prefix, 0) == 0)
      out[entry.first.substr(prefix.size())] = golden_tensor(entry.first);
  return out;
}

LoidModel golden_model(const std::string& c, bool mf) {
  const json s = meta("sizes"), t = meta("training");
  LoidModelOptions o;
  o.num_users = s.at("users");
  o.num_items = s.at("items");
  o.text_width = s.at("text_width");
  o.embed_size = s.at("embed_size");
  o.heads = s.at("heads");
  o.hidden = s.at("hidden");
  o.dropout = 0.0;  // the reference has none: train mode is then deterministic
  if (mf) {
    o.predictor = LoidPredictor::kMfText;
    o.mf_factors = s.at("mf_factors");
    o.text_factors = s.at("text_factors");
    o.mf_regularization = t.at("mf_regularization");
    o.text_factor_regularization = t.at("text_factor_regularization");
  }
  LoidModel model(o);
  const auto weights = with_prefix(c + ".w.");
  // Every parameter and buffer of the model is in the golden file, and nothing else.
  EXPECT_EQ(weights.size(), state_dict(*model).size());
  load_state_dict(*model, weights, "loid/expected.safetensors");
  return model;
}

class LoidGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(LoidGolden, ForwardLossesAndOneAdamStepMatchTheReference) {
  const std::string c = GetParam();
  const bool mf = c == "mf_text";
  LoidModel model = golden_model(c, mf);
  model->train();
  const auto in = [&](const std::string& n) { return golden_tensor(c + ".in." + n); };
  const auto out = [&](const std::string& n) { return golden_tensor(c + ".out." + n); };

  const LoidOutput o = model->forward(in("users"), in("items"), in("user_text"), in("user_mask"),
                                      in("item_text"), in("item_mask"));
  EXPECT_LT(max_abs(o.prediction, out("prediction")), kTolerance);
  EXPECT_LT(max_abs(o.v_u, out("v_u")), kTolerance);
  EXPECT_LT(max_abs(o.v_i, out("v_i")), kTolerance);

  const json t = meta("training");
  const auto mse = torch::mse_loss(o.prediction, in("ratings"));
  const auto trip = triplet_loss(o, t.at("margin").get<double>());
  auto loss = mse + t.at("lambda").get<double>() * trip;
  EXPECT_LT(max_abs(mse, out("mse")), kTolerance);
  EXPECT_LT(max_abs(trip, out("triplet")), kTolerance);
  if (mf) {
    const auto pen = model->penalty(in("users"), in("items"));
    EXPECT_LT(max_abs(pen, out("penalty")), kTolerance);
    loss = loss + pen;
  }
  EXPECT_LT(max_abs(loss, out("loss")), kTolerance);

  torch::optim::Adam adam(model->parameters(),
                          torch::optim::AdamOptions(t.at("learning_rate").get<double>())
                              .weight_decay(t.at("weight_decay").get<double>()));
  adam.zero_grad();
  loss.backward();
  adam.step();
  const auto after = with_prefix(c + ".after.");
  const auto now = state_dict(*model);
  EXPECT_EQ(after.size(), model->parameters().size());
  for (const auto& [name, want] : after) {
    ASSERT_TRUE(now.count(name)) << name;
    EXPECT_LT(max_abs(now.at(name), want), kTolerance) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, LoidGolden, ::testing::Values("paper", "mf_text"));

}  // namespace
}  // namespace loid
