// A module's parameters and buffers by name, saved and loaded with every name and shape checked:
// the one state-dict mechanism of checkpoints, run models and adapter heads.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>

namespace loid {

// Detached clones of every parameter and buffer of `module`, keyed by prefix + its name
// (e.g. prefix "rating_head." gives "rating_head.fc1.weight").
std::map<std::string, torch::Tensor> state_dict(const torch::nn::Module& module,
                                                const std::string& prefix = "");

// Copies state[prefix + name] into every parameter and buffer of `module` (without gradients).
// Throws InputError naming `file` (where the state came from) when a name is missing or a shape
// differs (both shapes given). Extra entries in `state` are ignored.
void load_state_dict(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& state,
                     const std::string& file, const std::string& prefix = "");

}  // namespace loid
