// PEFT adapter directories (adapter_config.json + adapter_model.safetensors), the exchange format
// of Hugging Face PEFT, plus our provenance in loid_metadata.json beside them.
#pragma once

#include <torch/torch.h>

#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "nn/lora.h"

namespace loid {

constexpr const char* kAdapterConfigFile = "adapter_config.json";
constexpr const char* kAdapterWeightsFile = "adapter_model.safetensors";
constexpr const char* kLoidMetadataFile = "loid_metadata.json";  // ours; PEFT ignores it

// One LoRA adapter as stored on disk. Every module has the same rank config.r (PEFT's
// rank_pattern / alpha_pattern are refused on load).
struct PeftAdapter {
  LoraConfig config;                             // r, lora_alpha, lora_dropout, target_modules
  std::string task_type = "FEATURE_EXTRACTION";  // PEFT task_type
  std::string base_model;                        // base_model_name_or_path
  bool use_rslora = false;                       // scale alpha/sqrt(r) instead of alpha/r
  // PEFT's flag for Conv1D bases (GPT-2), whose weights are (in, out): A is still (r, in) and B
  // (out, r), and PEFT adds (B A)^T to the stored weight, so the adapter attaches as for a linear
  // map. Recorded and written back; PEFT corrects a wrong value itself, with a warning.
  bool fan_in_fan_out = false;
  std::map<std::string, std::array<torch::Tensor, 2>> modules;  // path -> {A (r,in), B (out,r)}
  std::vector<std::string> modules_to_save;    // module names saved whole (the rating head)
  std::map<std::string, torch::Tensor> saved;  // "<module>.<param>" -> tensor, e.g. head.weight
  nlohmann::json metadata = nlohmann::json::object();  // source domain, dataset, metrics, config
  double scale() const;                                // alpha / r (or alpha / sqrt(r) with rslora)
};

// Module path -> (out, in) of every linear map in a base model that adapters can attach to, for
// validating an adapter.
using BaseShapes = std::map<std::string, std::array<int64_t, 2>>;

// Writes `dir` (created if needed) atomically file by file. File keys: see peft_key(); a module to
// save M with parameter p is stored as "base_model.model.M.p", as PEFT's get_peft_model_state_dict
// writes it (its in-memory "M.modules_to_save.default.p" with "modules_to_save." and the adapter
// name removed).
void save_peft(const std::string& dir, const PeftAdapter& adapter);

// Reads and validates a PEFT directory: known peft_type ("LORA"), complete A/B pairs, A of rank r
// and B of rank r, no tensors other than LoRA pairs and modules to save. With `base`, also checks
// that every module exists in the base and that A is (r, in) and B is (out, r) for its shape.
// With a non-empty `expected_base`, the config's base_model_name_or_path (when set) must end in the
// same final path component (so "bert-base-uncased" matches "/models/bert-base-uncased").
// With `modules` (every module path of the base), an adapted module missing from `base` is told
// apart: one the base has but loid does not adapt, or one the base does not have at all.
// Throws InputError naming the file, the tensor and what to do.
PeftAdapter load_peft(const std::string& dir, const BaseShapes* base = nullptr,
                      const std::string& expected_base = "",
                      const std::set<std::string>* modules = nullptr);

// The (out, in) of every LoraLinear under `module`.
BaseShapes base_shapes(const torch::nn::Module& module);

// Every module path under `module` ("encoder.layer.0.attention.self", "pooler.dense", ...).
std::set<std::string> module_paths(const torch::nn::Module& module);

// The trainable target adapters under `module` as a PeftAdapter (config from the layers; all
// layers must share it). Caller fills task_type, base_model, modules_to_save and metadata.
PeftAdapter extract_target(const torch::nn::Module& module);

// Attaches `adapter` to the LoraLinear layers under `module` as frozen source `name`, with
// delta scale user_scale * adapter.scale(). Validates names and shapes first (InputError with
// `origin` as the file).
void attach_source(torch::nn::Module& module, const PeftAdapter& adapter, const std::string& name,
                   double user_scale = 1.0, const std::string& origin = "adapter");

}  // namespace loid
