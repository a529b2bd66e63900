// `loid adapter info` / `merge` / `fold`: thin library entry points over peft.h, merge.h and the
// encoders, so the CLI stays a flag parser and the tests can call them directly.
#include "nn/adapter_command.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "nn/encoder.h"
#include "nn/merge.h"
#include "nn/peft.h"
#include "nn/tensor_io.h"
#include "core/strings.h"

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
          {"fan_in_fan_out", a.fan_in_fan_out},
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
  // Which weight layout the adapted layers have decides how PEFT applies the delta; A and B have
  // the same shapes either way, so without this line a GPT-2 adapter reads like a BERT one.
  line("fan_in_fan_out", j["fan_in_fan_out"].get<bool>()
                             ? "true (Conv1D layers, as GPT-2: weight stored (in, out), "
                               "PEFT adds (B A)^T)"
                             : "false (Linear layers: weight (out, in), PEFT adds B A)");
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

// ---------------------------------------------------------------------------------------------
// adapter fold

namespace {

namespace fs = std::filesystem;

constexpr const char* kModelWeightsFile = "model.safetensors";  // what both encoder loaders read

// Absolute, symlink-resolved where it exists, without a trailing separator.
fs::path normal_path(const std::string& p) {
  fs::path out = fs::weakly_canonical(fs::absolute(p));
  if (out.filename().empty()) out = out.parent_path();
  return out;
}

bool inside_or_equal(const fs::path& p, const fs::path& dir) {
  return std::mismatch(dir.begin(), dir.end(), p.begin(), p.end()).first == dir.end();
}

// Weight files of any framework: never copied, since they would hold the unfolded weights.
bool is_weight_file(const std::string& name) {
  for (const char* ext : {".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".onnx", ".ot",
                          ".pb", ".tflite", ".gguf", ".index.json"})
    if (ends_with(name, ext)) return true;
  return name.find(".ckpt") != std::string::npos;
}

void validate(const AdapterFoldOptions& o) {
  if (o.encoder_dir.empty()) throw UsageError("adapter fold: --encoder DIR is required");
  if (o.adapters.empty()) throw UsageError("adapter fold: give at least one --adapter DIR");
  if (o.out_dir.empty()) throw UsageError("adapter fold: --out DIR is required");
  if (!o.scales.empty() && o.scales.size() != o.adapters.size())
    throw UsageError("adapter fold: --scale has " + std::to_string(o.scales.size()) +
                     " values but " + std::to_string(o.adapters.size()) +
                     " adapters were given; give one scale per --adapter");
  for (double s : o.scales)
    if (!std::isfinite(s)) throw UsageError("adapter fold: --scale values must be finite numbers");
  const fs::path out = normal_path(o.out_dir);
  std::vector<std::string> inputs = o.adapters;
  inputs.push_back(o.encoder_dir);
  for (const auto& in : inputs)
    if (inside_or_equal(normal_path(in), out))
      throw UsageError("adapter fold: --out '" + o.out_dir + "' is or contains the input '" + in +
                       "'; write the folded model to a new directory");
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec))
      throw UsageError("adapter fold: --out '" + o.out_dir + "' exists and is not a directory");
    if (!fs::is_empty(out, ec) && !o.force)
      throw UsageError("adapter fold: --out '" + o.out_dir +
                       "' exists and is not empty; choose a new directory or pass --force to "
                       "replace it");
  }
}

// The "__metadata__" strings of a safetensors file, read from its header only (the weights of a
// large encoder are not read twice); empty when the file or its header is unreadable.
std::map<std::string, std::string> safetensors_metadata(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char len_bytes[8] = {};
  if (!in || !in.read(reinterpret_cast<char*>(len_bytes), 8)) return {};
  std::uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | len_bytes[i];
  if (len > (100u << 20)) return {};
  std::string header(len, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(len))) return {};
  std::map<std::string, std::string> out;
  const json j = json::parse(header, nullptr, false);
  if (j.is_object() && j.contains("__metadata__") && j["__metadata__"].is_object())
    for (const auto& [k, v] : j["__metadata__"].items())
      if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

// Every tensor the encoder's loader expects, LoRA matrices left out and each adapted weight
// replaced by its folded value; `modules` receives the adapted module paths.
std::map<std::string, torch::Tensor> folded_state(torch::nn::Module& module,
                                                  std::vector<std::string>& modules) {
  std::map<std::string, torch::Tensor> tensors;
  std::set<std::string> lora_keys;
  for (const auto& [path, layer] : lora_layers(module)) {
    for (const auto& p : layer->named_parameters())
      if (p.key() != "weight" && p.key() != "bias") lora_keys.insert(path + "." + p.key());
    if (layer->sources().empty() && !layer->has_target()) continue;
    tensors[path + ".weight"] = layer->folded_weight();
    modules.push_back(path);
  }
  for (const auto& p : module.named_parameters())
    if (!lora_keys.count(p.key()) && !tensors.count(p.key()))
      tensors[p.key()] = p.value().detach().to(torch::kFloat32);
  for (const auto& b : module.named_buffers())
    tensors.emplace(b.key(), b.value().detach().to(torch::kFloat32));
  return tensors;
}

// A directory removed on destruction unless released.
struct TempDir {
  fs::path path;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// Moves the finished `tmp` onto `out`, replacing an existing `out` only once `tmp` is complete.
void move_into_place(const fs::path& tmp, const fs::path& out) {
  std::error_code ec;
  if (!fs::exists(out, ec)) {
    fs::rename(tmp, out);
    return;
  }
  const fs::path old = out.parent_path() /
                       ("." + out.filename().string() + ".fold-old-" + std::to_string(::getpid()));
  fs::remove_all(old, ec);
  fs::rename(out, old);
  try {
    fs::rename(tmp, out);
  } catch (...) {
    fs::rename(old, out, ec);  // put the previous directory back
    throw;
  }
  fs::remove_all(old, ec);
}

}  // namespace

AdapterFoldResult fold_adapters(const AdapterFoldOptions& options, std::ostream& out) {
  validate(options);
  const std::vector<double> scales =
      options.scales.empty() ? std::vector<double>(options.adapters.size(), 1.0) : options.scales;
  const fs::path encoder_path = normal_path(options.encoder_dir);
  const fs::path out_path = normal_path(options.out_dir);

  std::unique_ptr<Encoder> encoder = load_encoder(options.encoder_dir);
  torch::nn::Module& module = encoder->module();
  module.eval();
  const BaseShapes shapes = base_shapes(module);
  const std::set<std::string> modules = module_paths(module);
  // load_peft compares the adapter's base_model_name_or_path with the encoder directory's name.
  const std::string base_name = encoder_path.filename().string();
  json adapters = json::array();
  std::set<std::string> not_folded;
  for (size_t i = 0; i < options.adapters.size(); ++i) {
    const std::string& dir = options.adapters[i];
    const PeftAdapter adapter = load_peft(dir, &shapes, base_name, &modules);
    attach_source(module, adapter, "fold" + std::to_string(i), scales[i],
                  dir + "/" + kAdapterWeightsFile);
    for (const auto& m : adapter.modules_to_save) not_folded.insert(m);
    adapters.push_back({{"dir", normal_path(dir).string()},
                        {"scale", scales[i]},
                        {"r", adapter.config.r},
                        {"lora_alpha", adapter.config.alpha},
                        {"use_rslora", adapter.use_rslora},
                        {"delta_scale", scales[i] * adapter.scale()},
                        {"base_model", adapter.base_model},
                        {"modules", adapter.modules.size()},
                        {"modules_to_save", adapter.modules_to_save},
                        {"metadata", adapter.metadata}});
  }

  AdapterFoldResult result;
  std::map<std::string, torch::Tensor> tensors;
  {
    torch::NoGradGuard no_grad;
    tensors = folded_state(module, result.modules);
  }
  encoder->to_checkpoint_layout(tensors);  // e.g. GPT-2's Conv1D weights back to (in, out)

  make_dirs(out_path.parent_path().string());
  TempDir tmp{out_path.parent_path() /
              ("." + out_path.filename().string() + ".fold-tmp-" + std::to_string(::getpid()))};
  fs::remove_all(tmp.path);
  fs::create_directories(tmp.path);

  auto metadata = safetensors_metadata(options.encoder_dir + "/" + kModelWeightsFile);
  metadata["loid_fold"] = std::string("adapters folded into the weights; see ") + kFoldMetadataFile;
  save_tensors((tmp.path / kModelWeightsFile).string(), tensors, metadata);

  for (const auto& entry : fs::directory_iterator(encoder_path)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name.empty() || name[0] == '.' || name == kFoldMetadataFile ||
        is_weight_file(name))
      continue;
    fs::copy_file(entry.path(), tmp.path / name);
    result.copied.push_back(name);
  }
  std::sort(result.copied.begin(), result.copied.end());

  json record = {
      {"encoder", {{"dir", encoder_path.string()}, {"kind", encoder->kind()}}},
      {"formula",
       "W' = W + sum_i delta_scale_i B_i A_i, delta_scale_i = scale_i lora_alpha_i / r_i "
       "(/ sqrt(r_i) with use_rslora), summed in float64, stored as float32"},
      {"adapters", adapters},
      {"folded_modules", result.modules},
      {"not_folded_modules_to_save",
       std::vector<std::string>(not_folded.begin(), not_folded.end())},
      {"copied_files", result.copied},
      {"dtype", "float32"}};
  // Folding onto an already folded model keeps the earlier record.
  const std::string earlier = options.encoder_dir + "/" + kFoldMetadataFile;
  if (file_exists(earlier)) {
    const json previous = json::parse(read_file(earlier), nullptr, false);
    if (!previous.is_discarded()) record["encoder_fold"] = previous;
  }
  write_file_atomic((tmp.path / kFoldMetadataFile).string(), record.dump(2) + "\n");

  load_encoder(tmp.path.string());  // the written directory must load before it replaces anything
  move_into_place(tmp.path, out_path);
  tmp.path.clear();

  out << "folded " << options.adapters.size() << " adapter"
      << (options.adapters.size() == 1 ? "" : "s") << " (scales";
  for (double s : scales) out << " " << s;
  out << ") into " << result.modules.size() << " modules of the " << encoder->kind() << " encoder "
      << options.encoder_dir << "\n";
  if (!not_folded.empty()) {
    out << "not folded (modules saved whole, not part of the encoder):";
    for (const auto& m : not_folded) out << " " << m;
    out << "\n";
  }
  out << "wrote " << options.out_dir << ": " << kModelWeightsFile << " (" << tensors.size()
      << " tensors, no LoRA), " << kFoldMetadataFile;
  for (const auto& f : result.copied) out << ", " << f;
  out << "\n";
  return result;
}

}  // namespace loid
