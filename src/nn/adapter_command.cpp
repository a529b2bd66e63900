// `loid adapter info` / `loid adapter merge`: thin library entry points over peft.h and merge.h,
// so the CLI stays a flag parser and the tests can call them directly.
#include "nn/adapter_command.h"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "nn/merge.h"
#include "nn/peft.h"

namespace loid {
namespace {

using nlohmann::json;

int64_t lora_parameters(const PeftAdapter& a) {
  int64_t n = 0;
  for (const auto& [path, ab] : a.modules) n += ab[0].numel() + ab[1].numel();
  return n;
}

int64_t saved_parameters(const PeftAdapter& a) {
  int64_t n = 0;
  for (const auto& [key, t] : a.saved) n += t.numel();
  return n;
}

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& it : items) s += (s.empty() ? "" : ", ") + it;
  return s.empty() ? "(none)" : s;
}

// load_peft has already validated the config; peft_type is not kept in PeftAdapter, so read it.
std::string peft_type(const std::string& dir) {
  const std::string path = dir + "/" + kAdapterConfigFile;
  json cfg = json::parse(read_file(path), nullptr, false);
  if (cfg.is_object() && cfg.contains("peft_type") && cfg["peft_type"].is_string())
    return cfg["peft_type"].get<std::string>();
  return "LORA";
}

json info_json(const std::string& dir, const PeftAdapter& a) {
  json shapes = json::object();
  for (const auto& [path, ab] : a.modules)
    shapes[path] = {{"in", ab[0].size(1)}, {"out", ab[1].size(0)}};
  return {{"dir", dir},
          {"peft_type", peft_type(dir)},
          {"r", a.config.r},
          {"lora_alpha", a.config.alpha},
          {"scale", a.scale()},
          {"use_rslora", a.use_rslora},
          {"lora_dropout", a.config.dropout},
          {"target_modules", a.config.target_modules},
          {"modules", a.modules.size()},
          {"lora_parameters", lora_parameters(a)},
          {"modules_to_save", a.modules_to_save},
          {"saved_parameters", saved_parameters(a)},
          {"base_model", a.base_model},
          {"task_type", a.task_type},
          {"module_shapes", shapes},
          {"metadata", a.metadata}};
}

void print_info_text(const json& j, std::ostream& out) {
  auto line = [&out](const char* key, const std::string& value) {
    out << std::left << std::setw(18) << key << value << "\n";
  };
  auto num = [](double v) {
    std::ostringstream s;
    s << v;
    return s.str();
  };
  line("directory", j["dir"].get<std::string>());
  line("peft_type", j["peft_type"].get<std::string>());
  line("r", std::to_string(j["r"].get<int>()));
  line("lora_alpha", num(j["lora_alpha"].get<double>()));
  line("scale", num(j["scale"].get<double>()) + (j["use_rslora"].get<bool>() ? " (rslora)" : ""));
  line("lora_dropout", num(j["lora_dropout"].get<double>()));
  line("target_modules", join(j["target_modules"].get<std::vector<std::string>>()));
  line("modules", std::to_string(j["modules"].get<int64_t>()));
  line("lora_parameters", std::to_string(j["lora_parameters"].get<int64_t>()));
  line("modules_to_save", join(j["modules_to_save"].get<std::vector<std::string>>()));
  line("saved_parameters", std::to_string(j["saved_parameters"].get<int64_t>()));
  const std::string base = j["base_model"].get<std::string>();
  line("base_model", base.empty() ? "(unset)" : base);
  line("task_type", j["task_type"].get<std::string>());
  const json& meta = j["metadata"];
  if (meta.is_object() && !meta.empty()) {
    out << "provenance (" << kLoidMetadataFile << "):\n";
    for (const auto& [key, value] : meta.items()) {
      // Merge records nest their inputs' metadata; one line per top-level key keeps this readable.
      std::string v = value.is_string() ? value.get<std::string>() : value.dump();
      if (v.size() > 200) v = v.substr(0, 197) + "...";
      out << "  " << std::left << std::setw(16) << key << v << "\n";
    }
  } else {
    line("provenance", std::string("(no ") + kLoidMetadataFile + ")");
  }
}

void validate(const AdapterMergeOptions& o) {
  if (o.inputs.empty())
    throw UsageError("adapter merge: give at least one input adapter directory");
  if (o.out_dir.empty()) throw UsageError("adapter merge: --out DIR is required");
  if (!o.weights.empty() && o.weights.size() != o.inputs.size())
    throw UsageError("adapter merge: --weights has " + std::to_string(o.weights.size()) +
                     " values but " + std::to_string(o.inputs.size()) +
                     " input adapters were given; give one weight per input");
  for (double w : o.weights)
    if (!std::isfinite(w)) throw UsageError("adapter merge: --weights must be finite numbers");
  if (o.rank < 0) throw UsageError("adapter merge: --rank must be >= 0 (0 = largest input rank)");
  if (!(o.density > 0.0 && o.density <= 1.0))
    throw UsageError("adapter merge: --density must be in (0, 1], got " +
                     std::to_string(o.density));
  namespace fs = std::filesystem;
  const fs::path out = fs::weakly_canonical(fs::absolute(o.out_dir));
  for (const auto& in : o.inputs)
    if (fs::weakly_canonical(fs::absolute(in)) == out)
      throw UsageError("adapter merge: --out '" + o.out_dir +
                       "' is also an input; write the merge to a new directory");
}

}  // namespace

void run_adapter_info(const std::string& dir, bool json_output, std::ostream& out) {
  const PeftAdapter adapter = load_peft(dir);
  const json j = info_json(dir, adapter);
  if (json_output)
    out << j.dump(2) << "\n";
  else
    print_info_text(j, out);
}

void run_adapter_merge(const AdapterMergeOptions& options, std::ostream& out) {
  const MergeMethod method = merge_method_from_name(options.method);  // lists valid names
  validate(options);
  if (method == MergeMethod::kCat && options.rank > 0)
    throw UsageError("adapter merge: --rank does not apply to cat (its rank is the sum of ranks)");
  MergeOptions mo;
  mo.method = method;
  // Spelled out so the metadata records the weights actually used.
  mo.weights =
      options.weights.empty() ? std::vector<double>(options.inputs.size(), 1.0) : options.weights;
  mo.rank = options.rank;
  mo.density = options.density;
  mo.seed = options.seed;
  std::vector<PeftAdapter> adapters;
  for (const auto& dir : options.inputs) adapters.push_back(load_peft(dir));
  PeftAdapter merged = merge_adapters(adapters, mo);
  merged.metadata["merge"]["input_dirs"] = options.inputs;
  merged.metadata["merge"]["rank"] = options.rank;
  save_peft(options.out_dir, merged);

  out << "merged " << options.inputs.size() << " adapter" << (options.inputs.size() == 1 ? "" : "s")
      << " with " << merge_method_name(method) << " (weights";
  for (double w : mo.weights) out << " " << w;
  out << ")";
  if (method == MergeMethod::kTies || method == MergeMethod::kDareLinear ||
      method == MergeMethod::kDareTies)
    out << ", density " << options.density;
  if (method == MergeMethod::kDareLinear || method == MergeMethod::kDareTies)
    out << ", seed " << options.seed;
  out << "\n";
  out << "wrote " << options.out_dir << ": r " << merged.config.r << ", " << merged.modules.size()
      << " modules, " << lora_parameters(merged) << " LoRA parameters\n";
}

}  // namespace loid
