// Training on the tiny random BERT: the Re-LoRA / pretrain regressor learns while base weights stay
// bit-identical; `loid pretrain` writes a loadable plugin; `loid train` writes a complete run
// directory, is deterministic, resumes to the same result, and labels the paper-leaky protocol.
#include <gtest/gtest.h>

#include <set>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/progress.h"
#include "data/synth.h"
#include "nn/encoder.h"
#include "nn/lora_inject.h"
#include "nn/peft.h"
#include "nn/tensor_io.h"
#include "support/error_of.h"
#include "support/test_paths.h"
#include "support/tiny_run.h"
#include "train/loid_train.h"
#include "train/pretrain.h"
#include "train/run.h"
#include "rec/mf.h"
#include "train/text_regressor.h"

namespace loid {
namespace {

using json = nlohmann::json;

std::string tiny() {
  return testing::golden("bert/tiny");
}

// A two-domain synthetic corpus, written once per process.
const std::vector<std::string>& corpus() {
  static const std::vector<std::string> paths = [] {
    Progress::set_quiet(true);
    SynthOptions so;
    so.domains = 2;
    so.users = 40;
    so.items = 20;
    so.seed = 3;
    so.progress = false;
    so.out = testing::temp_dir("loid_train_corpus") + "/synth.json";
    return write_synth_corpus(so);
  }();
  return paths;
}

TEST(TextRegressor, LearnsRatingsFromWordsAndKeepsBaseWeights) {
  torch::manual_seed(1);
  auto enc = load_encoder(tiny());
  LoraConfig lc;
  lc.r = 4;
  lc.alpha = 8;
  lc.dropout = 0.0;
  inject_lora(*enc, lc);
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : enc->module().named_parameters())
    if (p.key().find("lora_") == std::string::npos) before[p.key()] = p.value().clone();
  std::vector<std::string> texts;
  std::vector<float> ratings;
  const char* good[] = {"great sound , love it", "very good quality", "nice tone , great price"};
  const char* bad[] = {"bad cable , noise", "cheap and bad", "not good , too loud noise"};
  for (int i = 0; i < 48; ++i) {
    texts.push_back(i % 2 ? good[i % 3] : bad[i % 3]);
    ratings.push_back(i % 2 ? 5.0f : 1.0f);
  }
  RatingHead head(enc->width(), 16, 0.0, 3.0f);
  TextRegressorOptions o;
  o.epochs = 8;
  o.patience = 8;
  o.batch_size = 8;
  o.learning_rate = 1e-2;
  o.progress = false;
  const auto r = train_text_regressor(*enc, head, texts, ratings, texts, ratings, o);
  EXPECT_GT(r.best_epoch, 0);
  EXPECT_LT(r.best_validation_mse, 0.25 * r.initial_validation_mse);
  for (const auto& p : enc->module().named_parameters()) {
    if (p.key().find("lora_") != std::string::npos) continue;
    EXPECT_TRUE(torch::equal(p.value(), before.at(p.key()))) << p.key();
  }
  // The restored state is the best epoch's: predicting again gives the best validation MSE.
  const auto pred = predict_ratings(*enc, head, texts);
  double mse = 0;
  for (std::size_t i = 0; i < pred.size(); ++i)
    mse += (pred[i] - ratings[i]) * (pred[i] - ratings[i]);
  EXPECT_NEAR(mse / pred.size(), r.best_validation_mse, 1e-5);
}

PretrainOptions tiny_pretrain(const std::string& out) {
  PretrainOptions o;
  o.data = {corpus()[0]};
  o.encoder_dir = tiny();
  o.out = out;
  o.lora.r = 4;
  o.lora.alpha = 8;
  o.train.epochs = 1;
  o.train.max_steps = 4;
  o.train.batch_size = 16;
  o.train.progress = false;
  o.head_hidden = 16;
  o.threads = 1;
  return o;
}

// Every tensor of two safetensors files is equal, and both hold the same names.
void expect_same_tensors(const std::string& a, const std::string& b) {
  auto ta = load_tensors(a), tb = load_tensors(b);
  ASSERT_EQ(ta.size(), tb.size());
  for (const auto& [name, t] : ta) {
    ASSERT_TRUE(tb.count(name)) << name;
    EXPECT_TRUE(torch::equal(t, tb[name])) << name;
  }
}

// torch's global generator starts from a random seed in every process; the runs must not depend on
// what it holds when they start.
TEST(Pretrain, SameSeedSameAdapterWhateverTheGlobalGeneratorHolds) {
  const std::string a = testing::temp_dir("pretrain_det_a"),
                    b = testing::temp_dir("pretrain_det_b");
  torch::manual_seed(111);
  run_pretrain(tiny_pretrain(a));
  torch::manual_seed(222);
  run_pretrain(tiny_pretrain(b));
  expect_same_tensors(a + "/adapter_model.safetensors", b + "/adapter_model.safetensors");
}

TEST(Pretrain, WritesAPluginWithHeadAndProvenance) {
  const std::string out = testing::temp_dir("pretrain_plugin");
  const PretrainResult r = run_pretrain(tiny_pretrain(out));
  EXPECT_GT(r.test.n, 0);
  auto enc = load_encoder(tiny());
  const BaseShapes shapes = base_shapes(enc->module());
  const PeftAdapter a = load_peft(out, &shapes, "tiny");
  EXPECT_EQ(a.config.r, 4);
  EXPECT_EQ(a.modules.size(), 12u);  // 2 layers x 6 default targets
  EXPECT_EQ(a.modules_to_save, std::vector<std::string>{"rating_head"});
  EXPECT_TRUE(a.saved.count("rating_head.fc1.weight"));
  EXPECT_EQ(a.metadata.at("kind"), "source_plugin");
  EXPECT_EQ(a.metadata.at("domains").at(0).at("file"), corpus()[0]);
  EXPECT_TRUE(a.metadata.at("metrics").at("test").contains("f1"));
  // Refuses to overwrite.
  EXPECT_NE(
      testing::error_of<UsageError>([&] { run_pretrain(tiny_pretrain(out)); }).find("--force"),
      std::string::npos);
}

LoidTrainOptions tiny_train(const std::string& out) {
  LoidTrainOptions o = testing::tiny_train_options(corpus()[1], out);
  o.relora.max_steps = 3;
  o.relora.batch_size = 16;
  o.head_hidden = 16;
  o.hidden = 16;
  o.epochs = 4;
  o.patience = 4;
  o.batch_size = 32;
  return o;
}

json read_json(const std::string& p) {
  return json::parse(read_file(p));
}

TEST(LoidTrain, WritesACompleteRunDirectory) {
  const std::string plugin = testing::temp_dir("train_plugin");
  run_pretrain(tiny_pretrain(plugin));
  const std::string out = testing::temp_dir("train_run");
  auto o = tiny_train(out);
  o.plugins.dirs = {plugin};
  const LoidTrainResult r = run_loid_train(o);
  for (const char* f : {kRunConfig, kRunMetrics, kRunModel, kRunVectors, kRunLog, kRunReport,
                        kRunCurve, "adapters/target/adapter_model.safetensors"})
    EXPECT_TRUE(std::filesystem::exists(out + "/" + f)) << f;
  const json m = read_json(out + "/" + kRunMetrics);
  EXPECT_EQ(m, r.metrics);
  for (const char* k : {"mse", "rmse", "mae", "precision", "recall", "f1"})
    EXPECT_TRUE(m["test"].contains(k)) << k;
  EXPECT_EQ(m["cold_start"].size(), 4u);
  EXPECT_EQ(m["protocol"], "leak-free");
  EXPECT_FALSE(m["leaky"].get<bool>());
  EXPECT_EQ(m["curve"].size(), 4u);
  const json c = read_json(out + "/" + kRunConfig);
  EXPECT_EQ(c["settings"]["plugins"]["dirs"][0], plugin);
  EXPECT_TRUE(c.contains("git"));
  EXPECT_EQ(read_file(out + "/" + kRunReport).find("LEAKY"), std::string::npos);
  // A second run into the same directory needs --resume or --force.
  EXPECT_NE(testing::error_of<UsageError>([&] { run_loid_train(o); }).find("--resume"),
            std::string::npos);
}

TEST(LoidTrain, SameSeedSameMetricsAndResumeReachesTheSameResult) {
  auto a = tiny_train(testing::temp_dir("train_det_a"));
  torch::manual_seed(111);
  const json ma = run_loid_train(a).metrics;
  auto b = tiny_train(testing::temp_dir("train_det_b"));
  torch::manual_seed(222);
  const json mb = run_loid_train(b).metrics;
  expect_same_tensors(a.out + "/adapters/target/adapter_model.safetensors",
                      b.out + "/adapters/target/adapter_model.safetensors");
  EXPECT_NEAR(ma["test"]["mse"].get<double>(), mb["test"]["mse"].get<double>(), 1e-6);
  EXPECT_NEAR(ma["validation"]["mse"].get<double>(), mb["validation"]["mse"].get<double>(), 1e-6);

  // Interrupted after 2 of 4 LoID epochs, then resumed.
  auto c = tiny_train(testing::temp_dir("train_det_c"));
  LoidTrainHooks stop_after_two;
  stop_after_two.after_epoch = [](int epoch) { return epoch < 2; };
  EXPECT_TRUE(run_loid_train(c, stop_after_two).interrupted);
  EXPECT_FALSE(std::filesystem::exists(c.out + "/" + kRunMetrics));
  EXPECT_EQ(json::parse(read_file(c.out + "/checkpoint/state.json"))["epoch"], 2);
  c.resume = true;
  const json mc = run_loid_train(c).metrics;
  EXPECT_NEAR(ma["test"]["mse"].get<double>(), mc["test"]["mse"].get<double>(), 1e-6);
  EXPECT_EQ(ma["best_epoch"], mc["best_epoch"]);
  // Resuming with other settings is refused.
  c.lambda = 0.5;
  EXPECT_NE(testing::error_of<UsageError>([&] { run_loid_train(c); }).find("other settings"),
            std::string::npos);
}

// A CPU run records no device setting and the device it used. A run interrupted on another device
// (its config as a GPU run writes it) resumes on the CPU to the uninterrupted result: --resume
// ignores the device, and the optimiser state is loaded onto the new one.
TEST(LoidTrain, ResumeMayChangeTheDevice) {
  auto a = tiny_train(testing::temp_dir("train_dev_a"));
  const json ma = run_loid_train(a).metrics;
  const json ca = read_json(a.out + "/" + kRunConfig);
  EXPECT_FALSE(ca["settings"].contains("device"));
  EXPECT_EQ(ca["device_used"], "cpu");

  auto b = tiny_train(testing::temp_dir("train_dev_b"));
  LoidTrainHooks stop_after_two;
  stop_after_two.after_epoch = [](int epoch) { return epoch < 2; };
  EXPECT_TRUE(run_loid_train(b, stop_after_two).interrupted);
  json cb = read_json(b.out + "/" + kRunConfig);
  cb["settings"]["device"] = "cuda:0";
  cb["device_used"] = "cuda:0";
  write_file_atomic(b.out + "/" + kRunConfig, cb.dump(2));
  b.resume = true;  // on the CPU (b.device is the default)
  const json mb = run_loid_train(b).metrics;
  EXPECT_NEAR(ma["test"]["mse"].get<double>(), mb["test"]["mse"].get<double>(), 1e-6);
  EXPECT_EQ(ma["best_epoch"], mb["best_epoch"]);
  const json resumed = read_json(b.out + "/" + kRunConfig);
  EXPECT_EQ(resumed["device_used"], "cpu");
  EXPECT_FALSE(resumed["settings"].contains("device"));
}

// A process killed while it writes a checkpoint: everything of epoch 2 written except the file
// that commits it (state.json), which still holds epoch 1 — the directory a SIGKILL just before
// that last write leaves. Built here from copies of the checkpoint directory after epochs 1 and 2
// (whatever its file names), since a real kill lands in that gap only by chance. Resuming must
// replay epoch 2 from epoch 1's state and reach the uninterrupted result.
TEST(LoidTrain, ResumeAfterAKillInsideACheckpointWriteReachesTheSameResult) {
  namespace fs = std::filesystem;
  auto a = tiny_train(testing::temp_dir("train_torn_a"));
  const json ma = run_loid_train(a).metrics;

  auto c = tiny_train(testing::temp_dir("train_torn_c"));
  const std::string ck = c.out + "/" + kRunCheckpoint;
  const std::string after_one = testing::temp_dir("train_torn_epoch1");
  LoidTrainHooks stop_after_two;
  stop_after_two.after_epoch = [&](int epoch) {
    if (epoch == 1) fs::copy(ck, after_one, fs::copy_options::recursive);
    return epoch < 2;
  };
  ASSERT_TRUE(run_loid_train(c, stop_after_two).interrupted);
  // The torn directory: epoch 1's files, epoch 2's files over them, epoch 1's state.json.
  for (const auto& e : fs::directory_iterator(after_one))
    if (!fs::exists(ck + "/" + e.path().filename().string()) || e.path().filename() == "state.json")
      fs::copy_file(e.path(), ck + "/" + e.path().filename().string(),
                    fs::copy_options::overwrite_existing);
  ASSERT_EQ(json::parse(read_file(ck + "/state.json"))["epoch"], 1);

  c.resume = true;
  const json mc = run_loid_train(c).metrics;
  EXPECT_NEAR(mc["test"]["mse"].get<double>(), ma["test"]["mse"].get<double>(), 1e-6);
  EXPECT_EQ(mc["best_epoch"], ma["best_epoch"]);
  ASSERT_EQ(mc["curve"].size(), ma["curve"].size());
  for (std::size_t e = 0; e < ma["curve"].size(); ++e)
    EXPECT_NEAR(mc["curve"][e]["validation_mse"].get<double>(),
                ma["curve"][e]["validation_mse"].get<double>(), 1e-6)
        << "epoch " << e + 1;
}

TEST(LoidTrain, ReusingTheTextStageGivesTheSameRun) {
  auto a = tiny_train(testing::temp_dir("train_reuse_a"));
  const json ma = run_loid_train(a).metrics;
  auto b = tiny_train(testing::temp_dir("train_reuse_b"));
  b.reuse_text_stage = a.out;
  const json mb = run_loid_train(b).metrics;
  EXPECT_NEAR(ma["test"]["mse"].get<double>(), mb["test"]["mse"].get<double>(), 1e-6);
  EXPECT_NE(read_file(b.out + "/" + kRunLog).find("reusing"), std::string::npos);
  auto c = tiny_train(testing::temp_dir("train_reuse_c"));
  c.reuse_text_stage = a.out;
  c.lora.r = 8;
  EXPECT_NE(testing::error_of<UsageError>([&] { run_loid_train(c); }).find("'lora' differs"),
            std::string::npos);
}

TEST(ReadOptionsJson, RoundTripsAndDefaultsWhatIsMissing) {
  ReadOptions r;
  r.text = TextFields::kSummaryOnly;
  r.duplicates = DuplicatePolicy::kKeepAll;
  r.invalid_utf8 = Utf8Policy::kSkip;
  r.max_line_bytes = 4096;
  r.strict = true;
  const json j = read_options_json(r);
  EXPECT_EQ(j["text"], "summary");
  EXPECT_EQ(j["duplicates"], "all");
  EXPECT_EQ(read_options_json(read_options_from_json(j)), j);
  // Written before "read" was recorded: the reader's defaults.
  EXPECT_EQ(read_options_json(read_options_from_json(json())), read_options_json(ReadOptions{}));
  EXPECT_EQ(read_options_json(read_options_from_json(json{{"text", "review"}}))["duplicates"],
            "latest");
  EXPECT_NE(testing::error_of<UsageError>([] {
              read_options_from_json(json{{"text", "title-only"}});
            }).find("title-only"),
            std::string::npos);
}

// The target file with 25 repeated (user, item) pairs carrying another rating and text: the
// default policy keeps one review per pair, --duplicates all keeps every line.
std::string corpus_with_repeats(int* lines_out) {
  const std::string path = testing::temp_dir("train_read_corpus") + "/repeats.json";
  std::ifstream in(corpus()[1]);
  std::ofstream out(path);
  std::string line;
  std::vector<json> rows;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(json::parse(line));
  for (const auto& r : rows) out << r.dump() << "\n";
  for (std::size_t i = 0; i < 25; ++i) {
    json r = rows[i * 7 % rows.size()];
    r["overall"] = r["overall"].get<double>() > 3 ? 1.0 : 5.0;
    r["reviewText"] = "repeated review " + std::to_string(i);
    out << r.dump() << "\n";
  }
  *lines_out = static_cast<int>(rows.size()) + 25;
  return path;
}

TEST(LoidTrain, ReadOptionsAreRecordedAndUsedAgainWhenTheRunIsLoaded) {
  int lines = 0;
  const std::string data = corpus_with_repeats(&lines);
  auto o = tiny_train(testing::temp_dir("train_read_all"));
  o.data = data;
  o.read.duplicates = DuplicatePolicy::kKeepAll;
  o.read.text = TextFields::kReviewOnly;
  const json m = run_loid_train(o).metrics;
  const json c = read_json(o.out + "/" + kRunConfig);
  EXPECT_EQ(c["settings"]["read"]["duplicates"], "all");
  EXPECT_EQ(c["settings"]["read"]["text"], "review");
  EXPECT_EQ(m["data"]["reviews"].get<int>(), lines);

  // Loading the run reads the file as training did: every line, the same split and test rows.
  const LoadedRun run(o.out);
  EXPECT_EQ(run.dataset().num_reviews(), lines);
  EXPECT_EQ(run.dataset().review(lines - 1).text, "repeated review 24");
  EXPECT_NEAR(run.evaluate_test()["mse"].get<double>(), m["test"]["mse"].get<double>(), 1e-6);

  // The default policy reads fewer reviews, so its text stage cannot be reused by this run.
  auto d = tiny_train(testing::temp_dir("train_read_default"));
  d.data = data;
  run_loid_train(d);
  EXPECT_LT(LoadedRun(d.out).dataset().num_reviews(), lines);
  auto e = o;
  e.out = testing::temp_dir("train_read_reuse");
  e.reuse_text_stage = d.out;
  EXPECT_NE(testing::error_of<UsageError>([&] { run_loid_train(e); }).find("'read' differs"),
            std::string::npos);
}

TEST(LoidTrain, FittedBiasesStartFromTheBiasesOnlyModel) {
  auto o = tiny_train(testing::temp_dir("train_fit_biases_none"));
  o.fit_id_biases = true;
  EXPECT_NE(testing::error_of<UsageError>([&] { run_loid_train(o); }).find("--id-biases"),
            std::string::npos);

  // The biases-only model, fitted independently on the same split.
  const DomainData d = load_domain(corpus()[1], o.split);
  const RatingRows train = rating_rows(d.dataset, d.split.train);
  const RatingRows validation = rating_rows(d.dataset, d.split.validation);
  MfOptions base;
  base.seed = o.split.seed;
  const BiasedMf b = select_mf(train, validation, d.dataset.num_users(), d.dataset.num_items(), {0},
                               {0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0}, base);

  // No LoID epoch: the run is the starting point, i.e. the biases-only model.
  o.out = testing::temp_dir("train_fit_biases_0");
  o.id_biases = true;
  o.epochs = 0;
  const json m0 = run_loid_train(o).metrics;
  EXPECT_EQ(m0["best_epoch"], 0);
  EXPECT_NEAR(m0["validation"]["mse"].get<double>(), b.best_validation_mse(), 1e-5);
  const auto test_rows = rating_rows(d.dataset, d.split.test);
  const auto bp = b.predict(test_rows);
  double sse = 0.0;
  for (std::size_t j = 0; j < bp.size(); ++j)
    sse += (bp[j] - test_rows.rating[j]) * (bp[j] - test_rows.rating[j]);
  EXPECT_NEAR(m0["test"]["mse"].get<double>(), sse / static_cast<double>(bp.size()), 1e-5);

  // With epochs, the kept model is the best of the start and the curve's epochs, and its validation
  // MSE, measured again after restoring it, is that epoch's.
  o.out = testing::temp_dir("train_fit_biases_4");
  o.epochs = 4;
  const json m4 = run_loid_train(o).metrics;
  ASSERT_GE(m4["curve"].size(), 1u);
  int best = 0;  // the start, whose validation MSE is the zero-epoch run's
  double best_mse = m0["validation"]["mse"].get<double>();
  for (const auto& e : m4["curve"])
    if (e["validation_mse"].get<double>() < best_mse) {
      best_mse = e["validation_mse"].get<double>();
      best = e["epoch"].get<int>();
    }
  EXPECT_EQ(m4["best_epoch"].get<int>(), best);
  EXPECT_NEAR(m4["validation"]["mse"].get<double>(), best_mse, 1e-5);
  EXPECT_EQ(read_json(o.out + "/" + kRunConfig)["settings"]["model"]["fit_id_biases"], true);
}

TEST(LoidTrain, MfTextPredictorStartsAsTheFittedMfAndServesTheSame) {
  auto o = tiny_train(testing::temp_dir("train_mf_text_bad"));
  o.predictor = LoidPredictor::kMfText;
  o.id_biases = true;
  o.fit_id_biases = true;
  EXPECT_NE(testing::error_of<UsageError>([&] { run_loid_train(o); }).find("--fit-id-biases"),
            std::string::npos);
  o.fit_id_biases = false;
  o.mf_factors = {2, 4};
  o.mf_regularization = {0.05, 0.5};

  // The biased MF, fitted independently on the same split with the same grid and seed.
  const DomainData d = load_domain(corpus()[1], o.split);
  const RatingRows train = rating_rows(d.dataset, d.split.train);
  const RatingRows validation = rating_rows(d.dataset, d.split.validation);
  const RatingRows test = rating_rows(d.dataset, d.split.test);
  MfOptions base;
  base.seed = o.split.seed;
  MfOptions chosen;
  const BiasedMf mf = select_mf(train, validation, d.dataset.num_users(), d.dataset.num_items(),
                                o.mf_factors, o.mf_regularization, base, &chosen);
  ASSERT_GT(chosen.factors, 0);  // the factor term is part of what is checked

  // No LoID epoch: the run is that MF, prediction for prediction.
  o.out = testing::temp_dir("train_mf_text_0");
  o.epochs = 0;
  const json m0 = run_loid_train(o).metrics;
  EXPECT_EQ(m0["best_epoch"], 0);
  EXPECT_NEAR(m0["validation"]["mse"].get<double>(), mf.best_validation_mse(), 1e-5);
  const LoadedRun run0(o.out);
  const auto expected = mf.predict(test);
  const auto got = run0.predict(test.user, test.item);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t j = 0; j < got.size(); ++j) EXPECT_NEAR(got[j], expected[j], 1e-5) << j;

  // Trained without text factors: the text part moves the predictions, the MF part stays as
  // fitted, and the serving tables (LoidPrecomputed) give the model's own predictions.
  o.out = testing::temp_dir("train_mf_text_4");
  o.epochs = 4;
  o.patience = 4;
  o.text_factors = 0;
  run_loid_train(o);
  const LoadedRun run(o.out);
  const auto state = load_tensors(o.out + "/" + kRunModel);
  EXPECT_EQ(state.at("user_factors.weight").size(1), chosen.factors);
  EXPECT_EQ(state.count("user_text_factors.weight"), 0u);
  const auto f = mf.user_factors();
  EXPECT_NEAR(state.at("user_factors.weight")[0][0].item<float>(), f[0], 1e-7);
  const auto plain = run.predict(test.user, test.item);
  const auto served = run.predict_precomputed(test.user, test.item);
  for (std::size_t j = 0; j < plain.size(); ++j) EXPECT_NEAR(served[j], plain[j], 1e-5) << j;
  const json settings = read_json(o.out + "/" + kRunConfig)["settings"]["model"];
  EXPECT_EQ(settings["predictor"], "mf+text");
  EXPECT_EQ(settings["text_factors"], 0);

  // With text factors the MF trains on with them (regularised), the maps leave zero when an epoch
  // is kept, and serving still equals the model.
  o.out = testing::temp_dir("train_mf_text_tf");
  o.text_factors = 6;
  const json mt = run_loid_train(o).metrics;
  const LoadedRun tf(o.out);
  const auto tf_state = load_tensors(o.out + "/" + kRunModel);
  ASSERT_EQ(tf_state.at("user_text_factors.weight").sizes(),
            (std::vector<std::int64_t>{chosen.factors, 6}));
  EXPECT_EQ(tf_state.at("text_basis").size(0), 6);
  const float maps = tf_state.at("user_text_factors.weight").abs().sum().item<float>();
  if (mt["best_epoch"].get<int>() > 0) {  // a trained epoch was kept: maps and factors moved
    EXPECT_GT(maps, 0.0f);
    EXPECT_GT(std::abs(tf_state.at("user_factors.weight")[0][0].item<float>() - f[0]), 1e-7);
  } else {  // epoch 0 kept: exactly the fitted MF, maps at zero
    EXPECT_EQ(maps, 0.0f);
  }
  const auto tf_plain = tf.predict(test.user, test.item);
  const auto tf_served = tf.predict_precomputed(test.user, test.item);
  for (std::size_t j = 0; j < tf_plain.size(); ++j)
    EXPECT_NEAR(tf_served[j], tf_plain[j], 1e-5) << j;
  EXPECT_EQ(read_json(o.out + "/" + kRunConfig)["settings"]["model"]["text_factors"], 6);
}

// Leak-freeness end to end: every review whose vector the run saved (all a context can show) is a
// training review of the run's split; the paper-leaky protocol is the one that saves held-out ones.
TEST(LoidTrain, SavedVectorsAreTrainingReviewsOnlyUnlessLeaky) {
  auto o = tiny_train(testing::temp_dir("train_vectors_leak_free"));
  o.relora.epochs = 0;
  o.epochs = 1;
  const DomainData d = load_domain(corpus()[1], o.split);
  const std::set<std::int64_t> train(d.split.train.begin(), d.split.train.end());
  const auto saved_ids = [](const std::string& dir) {
    const auto t = load_tensors(dir + "/" + kRunVectors).at("review_ids");
    return std::vector<std::int64_t>(t.data_ptr<std::int64_t>(),
                                     t.data_ptr<std::int64_t>() + t.numel());
  };
  run_loid_train(o);
  const auto ids = saved_ids(o.out);
  EXPECT_EQ(ids.size(), train.size());
  for (const auto id : ids) EXPECT_TRUE(train.count(id)) << "review " << id << " is held out";

  o.out = testing::temp_dir("train_vectors_leaky");
  o.protocol = Protocol::kPaperLeaky;
  run_loid_train(o);
  std::size_t held_out = 0;
  for (const auto id : saved_ids(o.out)) held_out += train.count(id) == 0;
  EXPECT_GT(held_out, 0u);
}

TEST(LoidTrain, PaperLeakyProtocolIsLabelledEverywhere) {
  auto o = tiny_train(testing::temp_dir("train_leaky"));
  o.protocol = Protocol::kPaperLeaky;
  o.relora.epochs = 0;
  o.epochs = 1;
  const json m = run_loid_train(o).metrics;
  EXPECT_TRUE(m["leaky"].get<bool>());
  EXPECT_NE(m["warning"].get<std::string>().find("LEAKY"), std::string::npos);
  EXPECT_NE(read_file(o.out + "/" + kRunReport).find("LEAKY"), std::string::npos);
  EXPECT_NE(read_file(o.out + "/" + kRunLog).find("LEAKY"), std::string::npos);
  EXPECT_NE(read_file(o.out + "/" + kRunConfig).find("LEAKY"), std::string::npos);
}

// bf16 (opt-in): recorded in the settings (fp32 runs keep their old settings, without the key),
// used again when the run is loaded, refused with end-to-end mode and by --reuse-text-stage across
// dtypes; its Re-LoRA validation curve differs from fp32's but stays close.
TEST(LoidTrain, Bf16ComputeDtypeIsRecordedReloadedAndKeptApartFromFp32) {
  auto o32 = tiny_train(testing::temp_dir("train_fp32"));
  o32.epochs = 1;
  const json m32 = run_loid_train(o32).metrics;
  auto o16 = tiny_train(testing::temp_dir("train_bf16"));
  o16.epochs = 1;
  o16.compute_dtype = ComputeDtype::kBFloat16;
  const json m16 = run_loid_train(o16).metrics;

  const json s32 = json::parse(read_file(o32.out + "/" + kRunConfig))["settings"];
  const json s16 = json::parse(read_file(o16.out + "/" + kRunConfig))["settings"];
  EXPECT_FALSE(s32.contains("compute_dtype"));
  EXPECT_EQ(s16["compute_dtype"], "bf16");
  EXPECT_EQ(LoadedRun(o16.out).compute_dtype(), ComputeDtype::kBFloat16);
  EXPECT_EQ(LoadedRun(o32.out).compute_dtype(), ComputeDtype::kFloat32);

  const double v32 = m32["relora"]["validation_mse_before"].get<double>();
  const double v16 = m16["relora"]["validation_mse_before"].get<double>();
  EXPECT_NE(v32, v16);                // it did run in bf16
  EXPECT_NEAR(v16, v32, 0.05 * v32);  // and stays close

  auto e2e = tiny_train(testing::temp_dir("train_bf16_e2e"));
  e2e.encoder_mode = EncoderMode::kEndToEnd;
  e2e.compute_dtype = ComputeDtype::kBFloat16;
  std::string e = testing::error_of<UsageError>([&] { run_loid_train(e2e); });
  EXPECT_NE(e.find("frozen"), std::string::npos) << e;

  auto reuse = tiny_train(testing::temp_dir("train_bf16_reuse"));
  reuse.reuse_text_stage = o32.out;
  reuse.compute_dtype = ComputeDtype::kBFloat16;
  e = testing::error_of<UsageError>([&] { run_loid_train(reuse); });
  EXPECT_NE(e.find("compute dtype"), std::string::npos) << e;
}

TEST(LoidTrain, EndToEndModeTrainsTheTargetAdapter) {
  auto o = tiny_train(testing::temp_dir("train_e2e"));
  o.encoder_mode = EncoderMode::kEndToEnd;
  o.relora.epochs = 0;
  o.epochs = 1;
  o.e2e_learning_rate = 1e-2;
  const json m = run_loid_train(o).metrics;
  EXPECT_GT(m["test"]["n"].get<int>(), 0);
  const PeftAdapter a = load_peft(o.out + "/" + kRunTargetAdapter);
  double b_norm = 0;
  for (const auto& [path, ab] : a.modules) b_norm += ab[1].abs().sum().item<double>();
  EXPECT_GT(b_norm, 0.0);  // B starts at zero: only training moves it
}

}  // namespace
}  // namespace loid

namespace loid {
namespace {

// The `loid` executable sets the thread-wait variables and re-executes itself when they are unset
// (core/thread_wait.h): a run started without them records them as set; a run with the user's own
// values, or with LOID_THREAD_WAIT=spin, records those instead.
TEST(LoidTrainCli, RunsWithPassiveThreadWaitUnlessTheUserChoseOtherwise) {
  const std::string data = testing::tiny_corpus("cli_wait_corpus", 30, 15, 3);
  const std::string base =
      testing::cli_path() + " train --data " + data + " --encoder " + testing::golden("bert/tiny") +
      " --rank 4 --alpha 8 --relora-epochs 1 --relora-max-steps 1 -k 3 --heads 2 --hidden 8"
      " --epochs 1 --threads 1 --no-progress --force --out ";
  const std::string strip =
      "env -u OMP_WAIT_POLICY -u OPENBLAS_THREAD_TIMEOUT -u LOID_THREAD_WAIT_APPLIED "
      "-u LOID_THREAD_WAIT ";
  auto runtime_of = [&](const std::string& prefix, const std::string& name) {
    const std::string out = testing::temp_dir(name);
    const int rc = std::system((prefix + base + out + " > " + out + ".log 2>&1").c_str());
    EXPECT_EQ(rc, 0) << read_file(out + ".log");
    return nlohmann::json::parse(read_file(out + "/config.json")).at("runtime");
  };
  nlohmann::json r = runtime_of(strip, "cli_wait_default");
  EXPECT_EQ(r["OMP_WAIT_POLICY"], "PASSIVE");
  EXPECT_EQ(r["OPENBLAS_THREAD_TIMEOUT"], "4");

  r = runtime_of(strip + "OMP_WAIT_POLICY=ACTIVE ", "cli_wait_user");
  EXPECT_EQ(r["OMP_WAIT_POLICY"], "ACTIVE");
  EXPECT_EQ(r["OPENBLAS_THREAD_TIMEOUT"], "4");

  r = runtime_of(strip + "LOID_THREAD_WAIT=spin ", "cli_wait_spin");
  EXPECT_TRUE(r["OMP_WAIT_POLICY"].is_null());
  EXPECT_TRUE(r["OPENBLAS_THREAD_TIMEOUT"].is_null());
}

}  // namespace
}  // namespace loid
