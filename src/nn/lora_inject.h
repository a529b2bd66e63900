// Injection of trainable LoRA adapters into an encoder's adaptable linears chosen by module-name
// patterns (PEFT's target_modules suffix matching), for either encoder kind.
#pragma once

#include <string>
#include <vector>

#include "nn/encoder.h"
#include "nn/lora.h"

namespace loid {

// Adapter name of the trainable target that inject_lora adds (PEFT's default adapter name).
constexpr const char* kTargetAdapterName = "default";

// PEFT's rule: `pattern` matches module path `path` when they are equal or the path ends with
// "." + pattern ("query" matches "encoder.layer.0.attention.self.query").
bool module_matches(const std::string& path, const std::string& pattern);

// Adds the trainable target adapter `name` (config.r, alpha, dropout) to every adaptable linear of
// `encoder` whose path matches one of config.target_modules; an empty list means all of them (the
// encoder's default targets). Validates every pattern before changing anything: a pattern that
// matches no adaptable linear throws UsageError naming it and listing the module names. Returns
// the matched paths in the encoder's order. Frozen sources are attached with attach_source()
// (peft.h) on encoder.module().
std::vector<std::string> inject_lora(Encoder& encoder, const LoraConfig& config,
                                     const std::string& name = kTargetAdapterName);

}  // namespace loid
