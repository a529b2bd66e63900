// A trained LoRA target with its rating head as a PEFT adapter directory: the one writer of
// `loid pretrain`'s plugins and `loid train`'s Re-LoRA adapter.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>

#include "nn/lora.h"
#include "nn/peft.h"
#include "rec/rating_head.h"

namespace loid {

// The trainable LoRA target of `encoder_module` (inject_lora) as a PEFT adapter: `lora` its config
// (target_modules filled in), base model the last component of `encoder_dir`, `head` (when not
// null) saved whole as the module to save kRatingHeadName, and `metadata` our provenance.
PeftAdapter target_adapter(const torch::nn::Module& encoder_module, const LoraConfig& lora,
                           const std::string& encoder_dir, const RatingHeadImpl* head,
                           nlohmann::json metadata);

// target_adapter(...) written to `dir` (save_peft).
void save_target_adapter(const std::string& dir, const torch::nn::Module& encoder_module,
                         const LoraConfig& lora, const std::string& encoder_dir,
                         const RatingHeadImpl* head, nlohmann::json metadata);

}  // namespace loid
