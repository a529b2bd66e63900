// Writing a trained target and rating head as a PEFT adapter (see target_adapter.h).
#include "train/target_adapter.h"

#include <filesystem>
#include <utility>

#include "nn/state_dict.h"

namespace loid {

PeftAdapter target_adapter(const torch::nn::Module& encoder_module, const LoraConfig& lora,
                           const std::string& encoder_dir, const RatingHeadImpl* head,
                           nlohmann::json metadata) {
  PeftAdapter adapter = extract_target(encoder_module);
  adapter.config = lora;
  adapter.base_model = std::filesystem::path(encoder_dir).lexically_normal().filename();
  if (head) {
    adapter.modules_to_save = {kRatingHeadName};
    adapter.saved = state_dict(*head, std::string(kRatingHeadName) + ".");
  }
  adapter.metadata = std::move(metadata);
  return adapter;
}

void save_target_adapter(const std::string& dir, const torch::nn::Module& encoder_module,
                         const LoraConfig& lora, const std::string& encoder_dir,
                         const RatingHeadImpl* head, nlohmann::json metadata) {
  save_peft(dir, target_adapter(encoder_module, lora, encoder_dir, head, std::move(metadata)));
}

}  // namespace loid
