// config.json's settings to and from LoidTrainOptions (see run_config.h).
#include "train/run_config.h"

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "core/error.h"
#include "train/setup.h"

namespace loid {

using json = nlohmann::json;

json train_config_json(const LoidTrainOptions& o) {
  json c = {
      {"data", o.data},
      {"read", read_options_json(o.read)},
      {"encoder", o.encoder_dir},
      {"split",
       {{"seed", o.split.seed}, {"ratios", {o.split.train, o.split.validation, o.split.test}}}},
      {"plugins",
       {{"dirs", o.plugins.dirs},
        {"merge", o.plugins.merge},
        {"weights", o.plugins.weights},
        {"density", o.plugins.density}}},
      {"protocol", protocol_name(o.protocol)},
      {"encoder_mode", to_string(o.encoder_mode)},
      {"lora", lora_json(o.lora)},
      {"relora",
       {{"epochs", o.relora.epochs},
        {"patience", o.relora.patience},
        {"batch_size", o.relora.batch_size},
        {"learning_rate", o.relora.learning_rate},
        {"max_steps", o.relora.max_steps},
        {"head_hidden", o.head_hidden},
        {"head_dropout", o.head_dropout}}},
      {"model",
       {{"k", o.k},
        {"embed_size", o.embed_size},
        {"heads", o.heads},
        {"hidden", o.hidden},
        {"dropout", o.dropout},
        {"id_biases", o.id_biases},
        {"fit_id_biases", o.fit_id_biases}}},
      {"training",
       {{"lambda", o.lambda},
        {"margin", o.margin},
        {"learning_rate", o.learning_rate},
        {"weight_decay", o.weight_decay},
        {"batch_size", o.batch_size},
        {"epochs", o.epochs},
        {"patience", o.patience},
        {"e2e_learning_rate", o.e2e_learning_rate}}},
      {"threads", o.threads},
  };
  // Recorded only when not fp32, so fp32 configs read as before the option existed.
  if (o.compute_dtype != ComputeDtype::kFloat32) c["compute_dtype"] = to_string(o.compute_dtype);
  // Recorded only when not the CPU, so CPU configs read as before the option existed.
  if (!(o.device == DeviceSpec{})) c["device"] = to_string(o.device);
  // Recorded only below 1, so runs on all the training reviews read as before.
  if (o.split.train_fraction < 1.0) c["split"]["train_fraction"] = o.split.train_fraction;
  // Recorded only when not the paper's, so configs of mlp runs read as before.
  if (o.predictor != LoidPredictor::kMlp) {
    c["model"]["predictor"] = to_string(o.predictor);
    c["model"]["mf_factors"] = o.mf_factors;
    c["model"]["mf_regularization"] = o.mf_regularization;
    c["model"]["text_factors"] = o.text_factors;
    c["model"]["text_factor_regularization"] = o.text_factor_regularization;
  }
  return c;
}

namespace {

// Reads the settings by dotted key ("model.k"); every failure names config.json and the key.
class SettingsReader {
 public:
  SettingsReader(const json& settings, const std::string& file) : s_(settings), file_(file) {}

  // True when the key (and every object above it) is present.
  bool has(std::initializer_list<const char*> path) const {
    const json* j = &s_;
    for (const char* k : path) {
      if (!j->is_object() || !j->contains(k)) return false;
      j = &(*j)[k];
    }
    return true;
  }

  template <typename T>
  T get(std::initializer_list<const char*> path) const {
    try {
      const json* j = &s_;
      for (const char* k : path) j = &j->at(k);
      return j->get<T>();
    } catch (const json::exception& e) {
      throw InputError(file_, 0,
                       "missing or malformed key '" + name(path) + "' (" + e.what() + ")");
    }
  }

  // A value parsed from the key's string by `parse`, whose errors are reported with the key.
  template <typename Parse>
  auto parsed(std::initializer_list<const char*> path, Parse parse) const {
    const std::string text = get<std::string>(path);
    try {
      return parse(text);
    } catch (const Error& e) {
      throw InputError(file_, 0, "bad value of key '" + name(path) + "': " + e.what());
    }
  }

  static std::string name(std::initializer_list<const char*> path) {
    std::string n;
    for (const char* k : path) n += (n.empty() ? "" : ".") + std::string(k);
    return n;
  }

 private:
  const json& s_;
  const std::string& file_;
};

}  // namespace

LoidTrainOptions train_options_from_json(const json& settings, const std::string& file) {
  const SettingsReader r(settings, file);
  if (!settings.is_object()) throw InputError(file, 0, "\"settings\" is not an object");
  LoidTrainOptions o;
  o.data = r.get<std::string>({"data"});
  // Runs written before "read" was recorded read their data with the default settings.
  if (r.has({"read"})) {
    try {
      o.read = read_options_from_json(settings.at("read"));
    } catch (const std::exception& e) {
      throw InputError(file, 0, std::string("bad value of key 'read': ") + e.what());
    }
  }
  o.encoder_dir = r.get<std::string>({"encoder"});

  o.split.seed = r.get<std::uint64_t>({"split", "seed"});
  const auto ratios = r.get<std::vector<double>>({"split", "ratios"});
  if (ratios.size() != 3)
    throw InputError(file, 0, "key 'split.ratios' needs 3 numbers (train, validation, test)");
  o.split.train = ratios[0];
  o.split.validation = ratios[1];
  o.split.test = ratios[2];
  // Absent when all the training reviews were kept.
  if (r.has({"split", "train_fraction"}))
    o.split.train_fraction = r.get<double>({"split", "train_fraction"});

  o.plugins.dirs = r.get<std::vector<std::string>>({"plugins", "dirs"});
  o.plugins.merge = r.get<std::string>({"plugins", "merge"});
  o.plugins.weights = r.get<std::vector<double>>({"plugins", "weights"});
  o.plugins.density = r.get<double>({"plugins", "density"});
  o.plugins.seed =
      o.split.seed;  // not recorded; a loaded run has always merged with the split seed

  o.protocol = r.parsed({"protocol"}, protocol_from_name);
  o.encoder_mode = r.parsed({"encoder_mode"}, parse_encoder_mode);
  // Runs written before "compute_dtype" was recorded (and every fp32 run) computed in fp32.
  if (r.has({"compute_dtype"})) o.compute_dtype = r.parsed({"compute_dtype"}, parse_compute_dtype);

  o.lora.r = r.get<int>({"lora", "r"});
  o.lora.alpha = r.get<double>({"lora", "alpha"});
  o.lora.dropout = r.get<double>({"lora", "dropout"});
  o.lora.target_modules = r.get<std::vector<std::string>>({"lora", "target_modules"});

  o.relora.epochs = r.get<int>({"relora", "epochs"});
  o.relora.patience = r.get<int>({"relora", "patience"});
  o.relora.batch_size = r.get<std::int64_t>({"relora", "batch_size"});
  o.relora.learning_rate = r.get<double>({"relora", "learning_rate"});
  o.relora.max_steps = r.get<std::int64_t>({"relora", "max_steps"});
  o.relora.seed = o.split.seed;  // not recorded; the CLI seeds Re-LoRA with the split seed
  o.head_hidden = r.get<std::int64_t>({"relora", "head_hidden"});
  o.head_dropout = r.get<double>({"relora", "head_dropout"});

  o.k = r.get<std::size_t>({"model", "k"});
  o.embed_size = r.get<std::int64_t>({"model", "embed_size"});
  o.heads = r.get<std::int64_t>({"model", "heads"});
  o.hidden = r.get<std::int64_t>({"model", "hidden"});
  o.dropout = r.get<double>({"model", "dropout"});
  // Both absent in runs written before the options existed: off.
  if (r.has({"model", "id_biases"})) o.id_biases = r.get<bool>({"model", "id_biases"});
  if (r.has({"model", "fit_id_biases"})) o.fit_id_biases = r.get<bool>({"model", "fit_id_biases"});
  // Absent for the paper's predictor (mlp).
  if (r.has({"model", "predictor"})) {
    o.predictor = r.parsed({"model", "predictor"}, parse_loid_predictor);
    o.mf_factors = r.get<std::vector<int>>({"model", "mf_factors"});
    o.mf_regularization = r.get<std::vector<double>>({"model", "mf_regularization"});
    // Absent in mf+text runs written before text factors existed: off.
    o.text_factors = 0;
    if (r.has({"model", "text_factors"})) {
      o.text_factors = r.get<std::int64_t>({"model", "text_factors"});
      o.text_factor_regularization = r.get<double>({"model", "text_factor_regularization"});
    }
  }

  o.lambda = r.get<double>({"training", "lambda"});
  o.margin = r.get<double>({"training", "margin"});
  o.learning_rate = r.get<double>({"training", "learning_rate"});
  o.weight_decay = r.get<double>({"training", "weight_decay"});
  o.batch_size = r.get<std::int64_t>({"training", "batch_size"});
  o.epochs = r.get<int>({"training", "epochs"});
  o.patience = r.get<int>({"training", "patience"});
  o.e2e_learning_rate = r.get<double>({"training", "e2e_learning_rate"});

  o.threads = r.get<int>({"threads"});
  // Runs written before "device" was recorded (and every CPU run) ran on the CPU.
  if (r.has({"device"}))
    o.device = r.parsed({"device"}, [](const std::string& s) { return parse_device(s, "device"); });
  return o;
}

}  // namespace loid
