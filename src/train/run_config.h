// The settings of a `loid train` run as its config.json records them: one typed round trip between
// LoidTrainOptions and JSON, holding the defaults for runs written before a key existed.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "train/loid_train.h"

namespace loid {

// The options as the run's config.json "settings" records them (everything that affects the
// result; paths of the run itself, progress and resume flags are not recorded). The layout is
// fixed: existing runs must compare equal to what this writes for the same options.
nlohmann::json train_config_json(const LoidTrainOptions& options);

// The inverse of train_config_json: `settings` is config.json's "settings" object, `file` the file
// it came from (named in errors). Every key is required except those older runs lack, which take
// their defaults here: "read" (the reader's defaults), "compute_dtype" (fp32), "device" (cpu),
// "model.id_biases" and "model.fit_id_biases" (false). Settings config.json does not record come
// from the recorded ones: the Re-LoRA seed is the split seed (as `loid train` sets it), and so is
// the plugins' merge seed (as LoadedRun has always loaded it). Throws InputError(file, 0, "missing
// or malformed key 'model.k' ...") naming the key.
LoidTrainOptions train_options_from_json(const nlohmann::json& settings, const std::string& file);

// The top-level settings the Re-LoRA adapter and the review vectors depend on: what
// --reuse-text-stage requires to be equal (besides the frozen encoder mode and compute dtype).
constexpr const char* kTextStageKeys[] = {"data",    "read",     "split", "encoder",
                                          "plugins", "protocol", "lora",  "relora"};

}  // namespace loid
