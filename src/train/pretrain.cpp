// Source-plugin pretraining (see pretrain.h).
#include "train/pretrain.h"

#include <chrono>
#include <filesystem>
#include <utility>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/version.h"
#include "nn/device.h"
#include "nn/lora_inject.h"
#include "nn/peft.h"
#include "rec/mf.h"
#include "train/distributed.h"
#include "train/target_adapter.h"

namespace loid {

nlohmann::json metrics_json(const RatingMetrics& m, const ClassMetrics* c) {
  nlohmann::json j = {{"n", m.n}, {"mse", m.mse}, {"rmse", m.rmse}, {"mae", m.mae}};
  if (c) {
    j["precision"] = c->precision;
    j["recall"] = c->recall;
    j["f1"] = c->f1;
    j["accuracy"] = c->accuracy;
  }
  return j;
}

void check_output_dir(const std::string& dir, bool force, const char* what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec) && !force)
    throw UsageError(std::string(what) + " " + dir +
                     " already exists and is not empty (use --force to overwrite)");
}

PretrainResult run_pretrain(const PretrainOptions& o) {
  if (o.data.empty()) throw UsageError("pretrain: give at least one --data file");
  if (o.out.empty()) throw UsageError("pretrain: --out is required");
  Distributed& dist = distributed();
  if (dist.main()) check_output_dir(o.out, o.force, "adapter directory");  // rank 0 writes
  if (dist.active()) {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& path : o.data) {
      const FileFingerprint fp = file_fingerprint(path);
      files.push_back({{"path", path}, {"bytes", fp.bytes}, {"crc32", fp.crc32}});
    }
    dist.agree(
        "settings and data",
        nlohmann::json{
            {"data", files},
            {"out", o.out},
            {"encoder", o.encoder_dir},
            {"split_seed", o.split.seed},
            {"split", {o.split.train, o.split.validation, o.split.test, o.split.train_fraction}},
            {"lora", {o.lora.r, o.lora.alpha, o.lora.dropout}},
            {"targets", o.lora.target_modules},
            {"train",
             {o.train.epochs, o.train.patience, o.train.batch_size, o.train.learning_rate,
              o.train.weight_decay, o.train.seed, o.train.max_steps}},
            {"head", {o.head_hidden, o.head_dropout}},
            {"max_train_reviews", o.max_train_reviews},
            {"read", read_options_json(o.read)},
            {"dtype", to_string(o.train.dtype)}}
            .dump());
    if (o.train.batch_size < dist.world())
      throw UsageError("the batch size must be at least the number of processes (" +
                       std::to_string(dist.world()) + ")");
  }
  const auto start = std::chrono::steady_clock::now();
  set_threads(o.threads);
  const torch::Device device = resolve_device(o.device);  // before the data: errors come first

  std::vector<DomainData> domains;
  std::vector<std::string> train_texts, val_texts;
  std::vector<float> train_ratings, val_ratings;
  for (const auto& path : o.data) {
    domains.push_back(load_domain(path, o.split, o.read));
    const DomainData& d = domains.back();
    log_info(describe_domain(d));
    const std::int64_t seen = held_out_texts_seen_in_train(d);
    if (seen > 0)
      log_warn(d.path + ": " + std::to_string(seen) + " of " +
               std::to_string(d.split.counts.validation + d.split.counts.test) +
               " validation/test reviews repeat a training review's text word for word (the "
               "same review posted on several items); their metrics measure memorisation");
    std::vector<std::int64_t> train = d.split.train;
    if (o.max_train_reviews > 0 && static_cast<std::int64_t>(train.size()) > o.max_train_reviews) {
      Rng rng = Rng(o.split.seed).fork(0x7375627365ULL);  // "subse"
      shuffle(train, rng);
      train.resize(static_cast<std::size_t>(o.max_train_reviews));
    }
    for (auto& t : d.texts(train)) train_texts.push_back(std::move(t));
    for (float r : d.ratings(train)) train_ratings.push_back(r);
    for (auto& t : d.texts(d.split.validation)) val_texts.push_back(std::move(t));
    for (float r : d.ratings(d.split.validation)) val_ratings.push_back(r);
  }

  const std::string encoder_dir = resolve_encoder_dir(o.encoder_dir);
  auto encoder = load_encoder(encoder_dir);
  encoder->module().to(device);  // the adapters injected below follow their base weights
  LoraConfig lora = o.lora;
  // Seeded before the LoRA A matrices are drawn (torch's unseeded generator is random per process).
  torch::manual_seed(o.split.seed);
  const std::vector<std::string> targets = inject_lora(*encoder, lora);
  if (lora.target_modules.empty()) lora.target_modules = targets;
  torch::manual_seed(o.split.seed);
  RatingHead head(encoder->width(), o.head_hidden, o.head_dropout, global_mean(train_ratings));
  log_info("pretraining a plugin on " + std::to_string(train_texts.size()) + " training reviews (" +
           std::to_string(targets.size()) + " adapted layers, r " + std::to_string(lora.r) + ")");

  PretrainResult result;
  result.fit = train_text_regressor(*encoder, head, train_texts, train_ratings, val_texts,
                                    val_ratings, o.train);

  // The test split, read once.
  std::vector<float> all_pred, all_true;
  for (const auto& d : domains) {
    const auto pred =
        predict_ratings(*encoder, head, d.texts(d.split.test), 64, o.train.progress, o.train.dtype);
    const auto truth = d.ratings(d.split.test);
    const RatingMetrics m = rating_metrics(pred, truth);
    const ClassMetrics c = rounded_class_metrics(pred, truth);
    result.per_domain.push_back({{"file", d.path}, {"test", metrics_json(m, &c)}});
    all_pred.insert(all_pred.end(), pred.begin(), pred.end());
    all_true.insert(all_true.end(), truth.begin(), truth.end());
  }
  result.test = rating_metrics(all_pred, all_true);
  result.test_classes = rounded_class_metrics(all_pred, all_true);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  nlohmann::json domains_json = nlohmann::json::array();
  for (const auto& d : domains) {
    domains_json.push_back({{"file", d.path},
                            {"reviews", d.dataset.num_reviews()},
                            {"train", d.split.counts.train},
                            {"validation", d.split.counts.validation},
                            {"test", d.split.counts.test},
                            {"held_out_texts_seen_in_train", held_out_texts_seen_in_train(d)}});
  }
  nlohmann::json curve = nlohmann::json::array();
  for (const auto& e : result.fit.curve)
    curve.push_back({{"epoch", e.epoch},
                     {"train_mse", e.train_loss},
                     {"validation_mse", e.validation_mse},
                     {"seconds", e.seconds}});
  nlohmann::json metadata = {
      {"kind", "source_plugin"},
      {"domains", domains_json},
      {"encoder", encoder_dir},
      {"read", read_options_json(o.read)},
      {"split",
       {{"seed", o.split.seed}, {"ratios", {o.split.train, o.split.validation, o.split.test}}}},
      {"lora", lora_json(lora)},
      {"compute_dtype", to_string(o.train.dtype)},
      {"device", device_name(device)},
      {"training",
       {{"epochs", o.train.epochs},
        {"patience", o.train.patience},
        {"batch_size", o.train.batch_size},
        {"learning_rate", o.train.learning_rate},
        {"max_train_reviews", o.max_train_reviews},
        {"head_hidden", o.head_hidden},
        {"head_dropout", o.head_dropout},
        {"seed", o.train.seed}}},
      {"metrics",
       {{"validation_mse_before", result.fit.initial_validation_mse},
        {"validation_mse", result.fit.best_validation_mse},
        {"best_epoch", result.fit.best_epoch},
        {"curve", curve},
        {"test", metrics_json(result.test, &result.test_classes)},
        {"per_domain", result.per_domain}}},
      {"seconds", result.seconds},
      {"version", version()},
      {"git", git_version()}};
  if (dist.main())
    save_target_adapter(o.out, encoder->module(), lora, encoder_dir, head.get(),
                        std::move(metadata));
  dist.barrier("waiting for rank 0 to write the plugin");  // others may read it next
  if (!dist.main()) return result;
  log_info("wrote plugin " + o.out + " (test MSE " + std::to_string(result.test.mse) + ")");
  return result;
}

}  // namespace loid
