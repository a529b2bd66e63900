// The state-dict helper: a module's tensors saved by name and loaded back, with missing names and
// wrong shapes refused by an error that names the file, the tensor and both shapes.
#include "nn/state_dict.h"

#include <gtest/gtest.h>

#include "support/error_of.h"

namespace loid {
namespace {

struct TinyImpl : torch::nn::Module {
  TinyImpl() {
    fc = register_module("fc", torch::nn::Linear(3, 2));
    mean = register_buffer("mean", torch::tensor(3.5f));
  }
  torch::nn::Linear fc{nullptr};
  torch::Tensor mean;
};
TORCH_MODULE(Tiny);

TEST(StateDict, SavesParametersAndBuffersWithPrefixAndLoadsThemBack) {
  torch::manual_seed(1);
  Tiny a, b;
  const auto state = state_dict(*a, "head.");
  ASSERT_EQ(state.size(), 3u);
  EXPECT_TRUE(state.count("head.fc.weight") && state.count("head.fc.bias") &&
              state.count("head.mean"));
  // Clones: changing the module afterwards leaves the saved state alone.
  {
    torch::NoGradGuard no_grad;
    a->fc->weight.add_(1.0);
  }
  EXPECT_FALSE(torch::equal(state.at("head.fc.weight"), a->fc->weight));
  {
    torch::NoGradGuard no_grad;
    b->mean.fill_(0.0);
  }
  load_state_dict(*b, state, "x.safetensors", "head.");
  EXPECT_TRUE(torch::equal(b->fc->weight, state.at("head.fc.weight")));
  EXPECT_EQ(b->mean.item<float>(), 3.5f);
}

TEST(StateDict, MissingOrMisshapenTensorNamesFileAndShapes) {
  Tiny a;
  auto state = state_dict(*a);
  state.erase("fc.bias");
  std::string msg = testing::error_of<InputError>([&] { load_state_dict(*a, state, "m.st"); });
  EXPECT_NE(msg.find("m.st"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'fc.bias'"), std::string::npos) << msg;

  state = state_dict(*a);
  state["fc.weight"] = torch::zeros({3, 2});
  msg = testing::error_of<InputError>([&] { load_state_dict(*a, state, "m.st"); });
  EXPECT_NE(msg.find("m.st"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'fc.weight' has shape (3, 2), expected (2, 3)"), std::string::npos) << msg;
}

}  // namespace
}  // namespace loid
