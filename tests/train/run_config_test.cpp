// config.json's settings round trip: what a run writes today reads back to the same JSON, a run
// written before `read`, `compute_dtype`, `fit_id_biases` and `device` existed loads with their
// defaults, and a missing or malformed key is an InputError naming the file and the key.
#include "train/run_config.h"

#include <gtest/gtest.h>

#include "support/error_of.h"

namespace loid {
namespace {

using json = nlohmann::json;

// The "settings" of a bf16 run with non-default reader settings, as `loid train` writes them today
// (typed out, not produced by train_config_json).
json settings_written_today() {
  return json::parse(R"({
    "data": "data/Musical_Instruments_5.json.gz",
    "read": {"text": "review", "duplicates": "all", "repeated_texts": "keep",
             "invalid_utf8": "repair", "max_line_bytes": 1048576, "strict": false},
    "encoder": "",
    "split": {"seed": 3, "ratios": [0.7, 0.2, 0.1]},
    "plugins": {"dirs": ["plugins/a", "plugins/b"], "merge": "ties", "weights": [0.5, 1.5],
                "density": 0.3},
    "protocol": "leak-free",
    "encoder_mode": "frozen",
    "lora": {"r": 16, "alpha": 32.0, "dropout": 0.1, "target_modules": ["query", "value"]},
    "relora": {"epochs": 2, "patience": 1, "batch_size": 32, "learning_rate": 0.001,
               "max_steps": 0, "head_hidden": 256, "head_dropout": 0.1},
    "model": {"k": 5, "embed_size": 0, "heads": 4, "hidden": 256, "dropout": 0.1,
              "id_biases": true, "fit_id_biases": true},
    "training": {"lambda": 0.2, "margin": 1.0, "learning_rate": 0.001, "weight_decay": 0.0,
                 "batch_size": 64, "epochs": 30, "patience": 3, "e2e_learning_rate": 0.0001},
    "threads": 0,
    "compute_dtype": "bf16",
    "device": "cuda:1"
  })");
}

TEST(RunConfig, TodaysSettingsRoundTripUnchanged) {
  const json s = settings_written_today();
  const LoidTrainOptions o = train_options_from_json(s, "run/config.json");
  EXPECT_EQ(train_config_json(o), s);
  EXPECT_EQ(train_config_json(o).dump(), s.dump());  // same key order and number formatting
  EXPECT_EQ(o.split.seed, 3u);
  EXPECT_EQ(o.relora.seed, 3u);
  EXPECT_EQ(o.plugins.seed, 3u);
  EXPECT_EQ(o.compute_dtype, ComputeDtype::kBFloat16);
  EXPECT_EQ(o.device, parse_device("cuda:1"));
  EXPECT_EQ(o.read.duplicates, DuplicatePolicy::kKeepAll);
  EXPECT_EQ(o.k, 5u);
  EXPECT_TRUE(o.fit_id_biases);
}

TEST(RunConfig, DefaultOptionsRoundTrip) {
  LoidTrainOptions o;
  o.data = "d.json";
  o.out = "ignored/run";
  const json s = train_config_json(o);
  EXPECT_FALSE(s.contains("compute_dtype"));  // fp32 is not recorded
  EXPECT_FALSE(s.contains("device"));         // nor is the CPU
  EXPECT_EQ(train_config_json(train_options_from_json(s, "config.json")), s);
}

TEST(RunConfig, OlderRunsLoadWithDefaults) {
  json s = settings_written_today();
  s.erase("read");
  s.erase("compute_dtype");
  s.erase("device");
  s["model"].erase("fit_id_biases");
  s["model"].erase("id_biases");
  const LoidTrainOptions o = train_options_from_json(s, "run/config.json");
  EXPECT_EQ(o.compute_dtype, ComputeDtype::kFloat32);
  EXPECT_EQ(o.device, DeviceSpec{});  // the CPU
  EXPECT_EQ(to_string(o.device), "cpu");
  EXPECT_EQ(train_config_json(o).at("read"), read_options_json(ReadOptions{}));
  EXPECT_FALSE(o.id_biases);
  EXPECT_FALSE(o.fit_id_biases);
  EXPECT_EQ(o.lora.r, 16);
}

TEST(RunConfig, MissingOrMalformedKeyNamesFileAndKey) {
  json s = settings_written_today();
  s["model"].erase("k");
  std::string msg =
      testing::error_of<InputError>([&] { train_options_from_json(s, "runs/a/config.json"); });
  EXPECT_NE(msg.find("runs/a/config.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'model.k'"), std::string::npos) << msg;

  s = settings_written_today();
  s["training"]["epochs"] = "thirty";
  msg = testing::error_of<InputError>([&] { train_options_from_json(s, "config.json"); });
  EXPECT_NE(msg.find("'training.epochs'"), std::string::npos) << msg;

  s = settings_written_today();
  s["protocol"] = "sideways";
  msg = testing::error_of<InputError>([&] { train_options_from_json(s, "config.json"); });
  EXPECT_NE(msg.find("'protocol'"), std::string::npos) << msg;

  s = settings_written_today();
  s["device"] = "gpu0";
  msg = testing::error_of<InputError>([&] { train_options_from_json(s, "config.json"); });
  EXPECT_NE(msg.find("'device'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cuda:N"), std::string::npos) << msg;

  s = settings_written_today();
  s["split"]["ratios"] = {0.8, 0.2};
  msg = testing::error_of<InputError>([&] { train_options_from_json(s, "config.json"); });
  EXPECT_NE(msg.find("'split.ratios'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace loid
