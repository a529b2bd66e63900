// LoRA injection by module-name patterns: match, validate, then add one target per matched layer.
#include "nn/lora_inject.h"

#include "core/error.h"

namespace loid {

bool module_matches(const std::string& path, const std::string& pattern) {
  if (pattern.empty()) return false;
  if (path == pattern) return true;
  return path.size() > pattern.size() &&
         path.compare(path.size() - pattern.size(), pattern.size(), pattern) == 0 &&
         path[path.size() - pattern.size() - 1] == '.';
}

namespace {

// The distinct module names after the layer index ("attention.self.query", ...), in order: what
// users write as patterns.
std::vector<std::string> module_names(
    const std::vector<std::pair<std::string, LoraLinear>>& linears) {
  std::vector<std::string> names;
  for (const auto& item : linears) {
    // Drop everything up to the first all-digit component ("encoder.layer.0.") so each kind of
    // layer is listed once.
    std::string n = item.first;
    std::size_t begin = 0;
    while (begin < n.size()) {
      std::size_t end = n.find('.', begin);
      if (end == std::string::npos) break;
      if (end > begin && n.find_first_not_of("0123456789", begin) >= end) {
        n = n.substr(end + 1);
        break;
      }
      begin = end + 1;
    }
    bool seen = false;
    for (const auto& m : names) seen = seen || m == n;
    if (!seen) names.push_back(n);
  }
  return names;
}

std::string module_hint(const std::vector<std::pair<std::string, LoraLinear>>& linears) {
  const auto names = module_names(linears);
  std::string out = "hint: module names of this encoder are ";
  for (std::size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out + " (a pattern matches a full path or its end after a '.')";
}

}  // namespace

std::vector<std::string> inject_lora(Encoder& encoder, const LoraConfig& config,
                                     const std::string& name) {
  const auto linears = encoder.adaptable_linears();
  for (const auto& pattern : config.target_modules) {  // validate before changing anything
    bool any = false;
    for (const auto& item : linears) any = any || module_matches(item.first, pattern);
    if (!any)
      throw UsageError("LoRA target module '" + pattern + "' matches no adaptable layer of the " +
                       encoder.kind() + " encoder; " + module_hint(linears));
  }
  std::vector<std::pair<std::string, LoraLinear>> chosen;
  for (const auto& item : linears) {
    bool match = config.target_modules.empty() && encoder.default_target(item.first);
    for (const auto& pattern : config.target_modules)
      match = match || module_matches(item.first, pattern);
    if (!match) continue;
    if (item.second->has_target())
      throw UsageError("LoRA: '" + item.first + "' already has a target adapter '" +
                       item.second->target_name() + "'");
    chosen.push_back(item);
  }
  // The layers keep the config that extract_target writes to adapter_config.json, so an empty
  // list is stored as the explicit default targets (PEFT needs them to load the adapter).
  LoraConfig stored = config;
  if (stored.target_modules.empty()) {
    std::vector<std::pair<std::string, LoraLinear>> defaults;
    for (const auto& item : linears)
      if (encoder.default_target(item.first)) defaults.push_back(item);
    stored.target_modules = module_names(defaults);
  }
  std::vector<std::string> paths;
  for (auto& [path, layer] : chosen) {
    layer->add_target(name, stored);
    paths.push_back(path);
  }
  return paths;
}

}  // namespace loid
