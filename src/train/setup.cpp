// Shared set-up of the training commands (see setup.h).
#include "train/setup.h"

#include <cstdlib>
#include <filesystem>
#include <unordered_set>

#include <torch/torch.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/paths.h"
#include "core/progress.h"
#include "core/thread_wait.h"
#include "nn/merge.h"
#include "nn/peft.h"

namespace loid {

std::vector<std::string> DomainData::texts(const std::vector<std::int64_t>& ids) const {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (std::int64_t id : ids) out.push_back(dataset.review(id).text);
  return out;
}

std::vector<float> DomainData::ratings(const std::vector<std::int64_t>& ids) const {
  std::vector<float> out;
  out.reserve(ids.size());
  for (std::int64_t id : ids) out.push_back(dataset.review(id).rating);
  return out;
}

DomainData load_domain(const std::string& path, const SplitOptions& split,
                       const ReadOptions& read) {
  DomainData d;
  d.path = path;
  ReviewFile file = read_reviews(path, read);
  d.report = file.report;
  if (file.reviews.empty()) throw InputError(path, 0, "no usable reviews in the file");
  d.dataset = Dataset(std::move(file.reviews));
  d.split = make_split(d.dataset, split);
  if (d.split.train.empty() || d.split.validation.empty() || d.split.test.empty())
    throw InputError(path, 0,
                     "too few reviews (" + std::to_string(d.dataset.num_reviews()) +
                         ") to fill train, validation and test");
  return d;
}

nlohmann::json read_options_json(const ReadOptions& read) {
  return {{"text", name_of(read.text)},
          {"duplicates", name_of(read.duplicates)},
          {"repeated_texts", name_of(read.repeated_texts)},
          {"invalid_utf8", name_of(read.invalid_utf8)},
          {"max_line_bytes", read.max_line_bytes},
          {"strict", read.strict}};
}

ReadOptions read_options_from_json(const nlohmann::json& j) {
  ReadOptions r;
  if (!j.is_object()) return r;
  if (j.contains("text")) r.text = text_fields_from_name(j["text"].get<std::string>());
  if (j.contains("duplicates"))
    r.duplicates = duplicate_policy_from_name(j["duplicates"].get<std::string>());
  if (j.contains("repeated_texts"))
    r.repeated_texts = repeated_text_policy_from_name(j["repeated_texts"].get<std::string>());
  if (j.contains("invalid_utf8"))
    r.invalid_utf8 = utf8_policy_from_name(j["invalid_utf8"].get<std::string>());
  if (j.contains("max_line_bytes")) r.max_line_bytes = j["max_line_bytes"].get<std::size_t>();
  if (j.contains("strict")) r.strict = j["strict"].get<bool>();
  return r;
}

std::int64_t held_out_texts_seen_in_train(const DomainData& d) {
  std::unordered_set<std::string> train;
  for (std::int64_t id : d.split.train) train.insert(d.dataset.review(id).text);
  std::int64_t n = 0;
  for (const auto* ids : {&d.split.validation, &d.split.test})
    for (std::int64_t id : *ids) n += train.count(d.dataset.review(id).text) ? 1 : 0;
  return n;
}

std::string describe_domain(const DomainData& d) {
  return d.path + ": " + std::to_string(d.dataset.num_reviews()) + " reviews, " +
         std::to_string(d.dataset.num_users()) + " users, " +
         std::to_string(d.dataset.num_items()) + " items; split seed " +
         std::to_string(d.split.options.seed) + " -> " + std::to_string(d.split.counts.train) +
         " / " + std::to_string(d.split.counts.validation) + " / " +
         std::to_string(d.split.counts.test);
}

std::string resolve_encoder_dir(const std::string& dir) {
  if (!dir.empty()) return dir;
  const std::string def = models_dir() + "/use_lite";
  if (!file_exists(def + "/config.json"))
    throw UsageError("no encoder given and the default " + def +
                     " is not installed; run `loid models install` (or scripts/build.sh) first");
  return def;
}

std::unique_ptr<Encoder> load_encoder_with_plugins(const std::string& encoder_dir,
                                                   const PluginOptions& p, nlohmann::json* record) {
  auto encoder = load_encoder(encoder_dir);
  if (record) *record = nlohmann::json::object();
  if (p.dirs.empty()) return encoder;
  if (!p.weights.empty() && p.weights.size() != p.dirs.size())
    throw UsageError("got " + std::to_string(p.weights.size()) + " plugin weights for " +
                     std::to_string(p.dirs.size()) + " plugins");
  const BaseShapes shapes = base_shapes(encoder->module());
  const std::set<std::string> modules = module_paths(encoder->module());
  const std::string base_name = std::filesystem::path(encoder_dir).lexically_normal().filename();
  std::vector<PeftAdapter> adapters;
  nlohmann::json list = nlohmann::json::array();
  for (std::size_t i = 0; i < p.dirs.size(); ++i) {
    adapters.push_back(load_peft(p.dirs[i], &shapes, base_name, &modules));
    list.push_back({{"dir", p.dirs[i]},
                    {"weight", p.weights.empty() ? 1.0 : p.weights[i]},
                    {"r", adapters.back().config.r},
                    {"metadata", adapters.back().metadata}});
  }
  if (p.merge == "stack") {
    for (std::size_t i = 0; i < adapters.size(); ++i) {
      attach_source(encoder->module(), adapters[i], "source" + std::to_string(i),
                    p.weights.empty() ? 1.0 : p.weights[i], p.dirs[i]);
    }
  } else {
    MergeOptions mo;
    mo.method = merge_method_from_name(p.merge);
    mo.weights = p.weights;
    mo.density = p.density;
    mo.seed = p.seed;
    const PeftAdapter merged = merge_adapters(adapters, mo);
    attach_source(encoder->module(), merged, "merged", 1.0, "merged plugins");
  }
  if (record) *record = {{"plugins", list}, {"merge", p.merge}, {"density", p.density}};
  return encoder;
}

nlohmann::json runtime_environment_json() {
  nlohmann::json j = nlohmann::json::object();
  for (const char* name : {kOmpWaitPolicy, kOpenblasThreadTimeout, "LOID_MALLOC"}) {
    const char* v = std::getenv(name);
    j[name] = v ? nlohmann::json(v) : nlohmann::json(nullptr);
  }
  return j;
}

nlohmann::json lora_json(const LoraConfig& c) {
  return {
      {"r", c.r}, {"alpha", c.alpha}, {"dropout", c.dropout}, {"target_modules", c.target_modules}};
}

}  // namespace loid
