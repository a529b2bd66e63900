// PEFT adapter directory writer and validating reader; module-tree bridges for LoraLinear layers.
#include "nn/peft.h"

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "io/safetensors.h"
#include "nn/gpt2.h"
#include "nn/shape.h"
#include "nn/tensor_io.h"
#include "core/strings.h"

namespace loid {

namespace {

using nlohmann::json;

const std::string kSuffixA = ".lora_A.weight";
const std::string kSuffixB = ".lora_B.weight";
const std::string kHint = " (hint: adapter made for another base model?)";

std::string last_component(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  auto slash = s.find_last_of('/');
  return slash == std::string::npos ? s : s.substr(slash + 1);
}

// Parses adapter_config.json into `out` (everything but the tensors).
void read_config(const std::string& path, PeftAdapter& out) {
  json j;
  try {
    j = json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw InputError(path, 0, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw InputError(path, 0, "expected a JSON object");
  auto field = [&](const char* key) -> const json& {
    if (!j.contains(key)) throw InputError(path, 0, std::string("missing \"") + key + "\"");
    return j.at(key);
  };
  try {
    std::string type = field("peft_type").get<std::string>();
    if (type != "LORA")
      throw InputError(
          path, 0, "peft_type \"" + type + "\" is not supported; only \"LORA\" adapters load here");
    out.config.r = field("r").get<int>();
    if (out.config.r <= 0) throw InputError(path, 0, "r must be positive");
    out.config.alpha = j.value("lora_alpha", 8.0);  // PEFT's default
    out.config.dropout = j.value("lora_dropout", 0.0);
    out.config.target_modules.clear();
    if (j.contains("target_modules") && j["target_modules"].is_array())
      out.config.target_modules = j["target_modules"].get<std::vector<std::string>>();
    else if (j.contains("target_modules") && j["target_modules"].is_string())
      out.config.target_modules = {j["target_modules"].get<std::string>()};  // PEFT regex form
    if (j.contains("task_type") && j["task_type"].is_string())
      out.task_type = j["task_type"].get<std::string>();
    if (j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string())
      out.base_model = j["base_model_name_or_path"].get<std::string>();
    out.use_rslora = j.value("use_rslora", false);
    if (j.value("bias", std::string("none")) != "none")
      throw InputError(
          path, 0, "bias \"" + j["bias"].get<std::string>() + "\" is not supported; only \"none\"");
    out.fan_in_fan_out = j.value("fan_in_fan_out", false);
    for (const char* key : {"rank_pattern", "alpha_pattern"})
      if (j.contains(key) && !j[key].is_null() && !j[key].empty())
        throw InputError(
            path, 0,
            std::string(key) + " is not supported: every module must use r and lora_alpha");
    out.modules_to_save.clear();
    if (j.contains("modules_to_save") && j["modules_to_save"].is_array())
      out.modules_to_save = j["modules_to_save"].get<std::vector<std::string>>();
  } catch (const json::exception& e) {
    throw InputError(path, 0, std::string("bad field type: ") + e.what());
  }
}

// The module-to-save name that owns parameter key `rest` ("head.weight"), or "".
std::string owner_to_save(const std::vector<std::string>& names, const std::string& rest) {
  for (const auto& m : names)
    if (rest.rfind(m + ".", 0) == 0 || rest.find("." + m + ".") != std::string::npos) return m;
  return "";
}

}  // namespace

double PeftAdapter::scale() const {
  return use_rslora ? config.alpha / std::sqrt(double(config.r)) : config.alpha / config.r;
}

void save_peft(const std::string& dir, const PeftAdapter& adapter) {
  make_dirs(dir);
  json j;
  j["peft_type"] = "LORA";
  j["task_type"] = adapter.task_type;
  j["r"] = adapter.config.r;
  j["lora_alpha"] = adapter.config.alpha;
  j["lora_dropout"] = adapter.config.dropout;
  j["target_modules"] = adapter.config.target_modules;
  j["bias"] = "none";
  j["fan_in_fan_out"] = adapter.fan_in_fan_out;
  j["use_rslora"] = adapter.use_rslora;
  j["base_model_name_or_path"] = adapter.base_model;
  j["modules_to_save"] =
      adapter.modules_to_save.empty() ? json(nullptr) : json(adapter.modules_to_save);
  j["inference_mode"] = true;
  j["init_lora_weights"] = true;
  j["rank_pattern"] = json::object();
  j["alpha_pattern"] = json::object();

  SafeTensorsWriter writer;
  for (const auto& [path, ab] : adapter.modules) {
    add_tensor(writer, peft_key(path, 'A'), ab[0].detach().contiguous());
    add_tensor(writer, peft_key(path, 'B'), ab[1].detach().contiguous());
  }
  for (const auto& [name, t] : adapter.saved)
    add_tensor(writer, std::string(kPeftPrefix) + name, t.detach().contiguous());
  writer.set_metadata("format", "pt");  // what PEFT / safetensors.torch writes
  writer.write(dir + "/" + kAdapterWeightsFile);
  write_file_atomic(dir + "/" + kAdapterConfigFile, j.dump(2) + "\n");
  write_file_atomic(dir + "/" + kLoidMetadataFile, adapter.metadata.dump(2) + "\n");
}

PeftAdapter load_peft(const std::string& dir, const BaseShapes* base,
                      const std::string& expected_base, const std::set<std::string>* modules) {
  PeftAdapter out;
  const std::string config_path = dir + "/" + kAdapterConfigFile;
  const std::string weights_path = dir + "/" + kAdapterWeightsFile;
  if (!std::filesystem::exists(config_path))
    throw InputError(config_path, 0, "missing: not a PEFT adapter directory");
  read_config(config_path, out);
  if (!expected_base.empty() && !out.base_model.empty() &&
      last_component(out.base_model) != last_component(expected_base))
    throw InputError(config_path, 0,
                     "adapter was trained on base model \"" + out.base_model + "\", not \"" +
                         expected_base + "\"");
  if (!std::filesystem::exists(weights_path))
    throw InputError(weights_path, 0,
                     "missing (adapter_model.bin pickles are not read; convert to safetensors)");
  SafeTensors st = SafeTensors::load(weights_path);
  const std::string prefix = kPeftPrefix;
  for (const auto& [key, info] : st.tensors()) {
    if (key.rfind(prefix, 0) != 0)
      throw InputError(weights_path, 0,
                       "tensor '" + key + "' does not start with '" + prefix + "'");
    std::string rest = key.substr(prefix.size());
    int which = ends_with(rest, kSuffixA) ? 0 : ends_with(rest, kSuffixB) ? 1 : -1;
    if (which >= 0) {
      std::string path = rest.substr(0, rest.size() - kSuffixA.size());
      out.modules[path][which] = tensor_from(st, key);
    } else if (!owner_to_save(out.modules_to_save, rest).empty()) {
      out.saved[rest] = tensor_from(st, key);
    } else {
      throw InputError(
          weights_path, 0,
          "unexpected tensor '" + key + "': neither a LoRA A/B weight nor part of modules_to_save");
    }
  }
  if (base) {
    // GPT2LMHeadModel's adapters name the blocks "transformer.h.N.*", GPT2Model's (loid's)
    // "h.N.*": the one mapping of adapter module paths, applied only where the base has the
    // shorter path and not the longer.
    std::map<std::string, std::array<torch::Tensor, 2>> renamed;
    for (auto& [path, ab] : out.modules) {
      const std::string wrapper = "transformer.";
      std::string inner = path.rfind(wrapper, 0) == 0 ? path.substr(wrapper.size()) : path;
      renamed[!base->count(path) && base->count(inner) ? inner : path] = ab;
    }
    out.modules = std::move(renamed);
  }
  const int64_t r = out.config.r;
  for (const auto& [path, ab] : out.modules) {
    const std::string ka = peft_key(path, 'A'), kb = peft_key(path, 'B');
    if (!ab[0].defined())
      throw InputError(weights_path, 0, "'" + kb + "' has no matching '" + ka + "'");
    if (!ab[1].defined())
      throw InputError(weights_path, 0, "'" + ka + "' has no matching '" + kb + "'");
    if (ab[0].dim() != 2 || ab[1].dim() != 2)
      throw InputError(weights_path, 0, "'" + ka + "' and '" + kb + "' must be matrices");
    if (ab[0].size(0) != r || ab[1].size(1) != r)
      throw InputError(weights_path, 0,
                       "rank mismatch: config r = " + std::to_string(r) + " but '" + ka + "' is " +
                           shape_str(ab[0]) + " and '" + kb + "' is " + shape_str(ab[1]) +
                           " (expected (r, in) and (out, r))");
    if (!base) continue;
    auto it = base->find(path);
    if (it == base->end() && modules && modules->count(path)) {
      std::string adaptable;
      for (const auto& [p, shape] : *base) adaptable += (adaptable.empty() ? "" : ", ") + p;
      throw InputError(weights_path, 0,
                       "LoRA module '" + path +
                           "' is a module of the base model that loid does not adapt (adaptable: " +
                           adaptable + "); drop it from the adapter's target_modules");
    }
    if (it == base->end())
      throw InputError(weights_path, 0,
                       "LoRA module '" + path + "' does not exist in the base model" + kHint);
    if (ab[0].size(1) != it->second[1] || ab[1].size(0) != it->second[0])
      throw InputError(weights_path, 0,
                       "shape mismatch at '" + path + "': A " + shape_str(ab[0]) + ", B " +
                           shape_str(ab[1]) + " but the base layer is (out " +
                           std::to_string(it->second[0]) + ", in " + std::to_string(it->second[1]) +
                           ")" + kHint);
  }
  const std::string meta_path = dir + "/" + kLoidMetadataFile;
  if (std::filesystem::exists(meta_path)) {
    try {
      out.metadata = json::parse(read_file(meta_path));
    } catch (const json::exception& e) {
      throw InputError(meta_path, 0, std::string("not valid JSON: ") + e.what());
    }
  }
  return out;
}

BaseShapes base_shapes(const torch::nn::Module& module) {
  BaseShapes out;
  for (const auto& [path, layer] : lora_layers(module))
    out[path] = {layer->out_features(), layer->in_features()};
  return out;
}

std::set<std::string> module_paths(const torch::nn::Module& module) {
  std::set<std::string> out;
  for (const auto& item : module.named_modules("", /*include_self=*/false)) out.insert(item.key());
  return out;
}

PeftAdapter extract_target(const torch::nn::Module& module) {
  PeftAdapter out;
  out.fan_in_fan_out = dynamic_cast<const Gpt2ModelImpl*>(&module) != nullptr;  // Conv1D base
  bool first = true;
  for (const auto& [path, layer] : lora_layers(module)) {
    if (!layer->has_target()) continue;
    const LoraConfig& c = layer->target_config();
    if (first) {
      out.config = c;
      first = false;
    } else if (c.r != out.config.r || c.alpha != out.config.alpha) {
      throw UsageError("extract_target: layer '" + path +
                       "' has r/alpha different from the others");
    }
    LoraPair p = layer->target();
    out.modules[path] = {p.a.clone(), p.b.clone()};
  }
  if (first) throw UsageError("extract_target: no LoraLinear layer has a target adapter");
  return out;
}

void attach_source(torch::nn::Module& module, const PeftAdapter& adapter, const std::string& name,
                   double user_scale, const std::string& origin) {
  std::map<std::string, std::shared_ptr<LoraLinearImpl>> layers;
  for (auto& [path, layer] : lora_layers(module)) layers[path] = layer;
  for (const auto& [path, ab] : adapter.modules) {  // validate everything before changing anything
    auto it = layers.find(path);
    if (it == layers.end())
      throw InputError(origin, 0, "LoRA module '" + path + "' does not exist in the model" + kHint);
    if (ab[0].size(1) != it->second->in_features() || ab[1].size(0) != it->second->out_features())
      throw InputError(origin, 0, "shape mismatch at '" + path + "'" + kHint);
  }
  for (const auto& [path, ab] : adapter.modules)
    layers[path]->add_source(name, ab[0], ab[1], user_scale * adapter.scale());
}

}  // namespace loid
