// Universal Sentence Encoder Lite (converted from the TF.js npm package) behind the Encoder
// interface. Full declarations follow; this entry point is what load_encoder() calls.
#pragma once

#include <memory>
#include <string>

#include "nn/encoder.h"

namespace loid {

// Loads a converted USE-Lite model directory (config.json "model_type": "use_lite",
// model.safetensors, tokenizer.json).
std::unique_ptr<Encoder> load_use_lite_encoder(const std::string& dir);

}  // namespace loid
