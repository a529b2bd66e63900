// The PEFT writer of trained targets: the LoRA pairs, the rating head as module to save (every
// parameter and buffer) and the metadata read back by load_peft; the head loads into a new head.
#include "train/target_adapter.h"

#include <gtest/gtest.h>

#include "nn/encoder.h"
#include "nn/lora_inject.h"
#include "nn/state_dict.h"
#include "support/test_paths.h"

namespace loid {
namespace {

TEST(TargetAdapter, WritesTargetHeadAndMetadataThatLoadBack) {
  torch::manual_seed(1);
  const std::string encoder_dir = testing::golden("bert/tiny");
  auto enc = load_encoder(encoder_dir);
  LoraConfig lora;
  lora.r = 4;
  lora.alpha = 8;
  lora.target_modules = inject_lora(*enc, lora);
  RatingHead head(enc->width(), 8, 0.0, 3.5f);
  const std::string dir = testing::temp_dir("target_adapter") + "/adapter";
  save_target_adapter(dir, enc->module(), lora, encoder_dir, head.get(),
                      {{"kind", "source_plugin"}, {"note", 7}});

  const PeftAdapter a = load_peft(dir);
  EXPECT_EQ(a.config.r, 4);
  EXPECT_EQ(a.base_model, "tiny");
  EXPECT_EQ(a.modules.size(), lora.target_modules.size());
  EXPECT_EQ(a.modules_to_save, std::vector<std::string>{kRatingHeadName});
  EXPECT_EQ(a.metadata.at("note"), 7);
  ASSERT_EQ(a.saved.size(), 5u);  // fc1 and fc2 weight and bias, the mean buffer
  RatingHead back(enc->width(), 8, 0.0, 0.0f);
  load_state_dict(*back, a.saved, dir, std::string(kRatingHeadName) + ".");
  EXPECT_EQ(back->mean.item<float>(), 3.5f);
  EXPECT_TRUE(torch::equal(back->fc1->weight, head->fc1->weight));

  // Without a head: no module to save.
  const PeftAdapter bare =
      target_adapter(enc->module(), lora, encoder_dir, nullptr, nlohmann::json::object());
  EXPECT_TRUE(bare.modules_to_save.empty());
  EXPECT_TRUE(bare.saved.empty());
}

}  // namespace
}  // namespace loid
