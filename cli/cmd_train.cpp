// `loid pretrain` (a source-domain plugin) and `loid train` (LoID on a target domain). Flags map
// one-to-one onto PretrainOptions / LoidTrainOptions; defaults are the paper's where it gives one.
#include <iostream>
#include <memory>

#include "commands.h"
#include "core/error.h"
#include "data/split.h"
#include "loid_flags.h"
#include "read_options.h"
#include "train/distributed.h"
#include "train/loid_train.h"
#include "train/pretrain.h"

namespace loid::cli {

void add_pretrain(CLI::App& app) {
  auto o = std::make_shared<loid::PretrainOptions>();
  auto ratios = std::make_shared<std::string>(loid::kDefaultSplitRatios);
  CLI::App* cmd = app.add_subcommand(
      "pretrain",
      "Train a source-domain plugin: LoRA on the frozen encoder + MLP head predicting each "
      "review's rating from its text; writes a PEFT adapter directory");
  cmd->add_option("--data", o->data, "Source-domain reviews file(s); one plugin for all")
      ->required();
  add_encoder_flag(*cmd, o->encoder_dir);
  cmd->add_option("--out", o->out, "Plugin (PEFT adapter) directory to write")->required();
  add_read_options(*cmd, o->read);
  add_split_flags(*cmd, o->split, *ratios);
  add_lora_flags(*cmd, o->lora);
  add_regressor_flags(*cmd, o->train, "", "training");
  add_compute_dtype_option(*cmd, o->train.dtype);
  cmd->add_option("--head-hidden", o->head_hidden, "Hidden width of the rating MLP")
      ->capture_default_str();
  cmd->add_option("--max-train-reviews", o->max_train_reviews,
                  "Per file, a seeded sample of at most this many training reviews (0 = all)")
      ->capture_default_str();
  add_threads_flag(*cmd, o->threads);
  add_device_flag(*cmd, o->device);
  auto dist = std::make_shared<loid::DistOptions>();
  add_distributed_flags(*cmd, *dist);
  cmd->add_flag("--force", o->force, "Overwrite an existing adapter directory");
  add_no_progress_flag(*cmd, o->train.progress);
  cmd->callback([o, ratios, dist] {
    launch_or_join(*dist);
    require_cpu_for_several_processes(o->device);
    loid::parse_split_ratios(*ratios, o->split);
    o->train.seed = o->split.seed;
    const auto r = loid::run_pretrain(*o);
    if (!loid::distributed().main()) return;  // rank 0 reports for the job
    std::cout << "plugin " << o->out << ": best epoch " << r.fit.best_epoch << ", validation MSE "
              << r.fit.best_validation_mse << "\n"
              << "test MSE " << r.test.mse << ", RMSE " << r.test.rmse << ", MAE " << r.test.mae
              << "; rounded rating precision " << r.test_classes.precision << ", recall "
              << r.test_classes.recall << ", F1 " << r.test_classes.f1 << " (" << r.test.n
              << " test reviews)\n";
  });
}

void add_train(CLI::App& app) {
  auto o = std::make_shared<loid::LoidTrainOptions>();
  auto ratios = std::make_shared<std::string>(loid::kDefaultSplitRatios);
  auto protocol = std::make_shared<std::string>(loid::protocol_name(loid::Protocol::kLeakFree));
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train LoID on a target domain: Re-LoRA over source plugins, then ID-text attention with "
      "contrastive alignment; writes a run directory");
  cmd->add_option("--data", o->data, "Target-domain reviews file")->required();
  add_encoder_flag(*cmd, o->encoder_dir);
  cmd->add_option("--out", o->out, "Run directory")->required();
  add_read_options(*cmd, o->read);
  cmd->add_option("--plugin", o->plugins.dirs, "Source plugin directory (repeatable)");
  add_merge_flag(*cmd, o->plugins,
                 "How several plugins join: stack (each its own frozen adapter), or merged "
                 "first by linear, cat, svd, ties, dare_linear or dare_ties");
  cmd->add_option("--plugin-weights", o->plugins.weights,
                  "Per plugin: scale when stacked, weight when merged (default 1 each)")
      ->delimiter(',');
  cmd->add_option("--density", o->plugins.density, "ties/dare: fraction of entries kept")
      ->capture_default_str();
  add_split_flags(*cmd, o->split, *ratios);
  cmd->add_option("--protocol", *protocol,
                  "leak-free (histories from training reviews only) or paper-leaky (the authors' "
                  "released protocol: test reviews visible; every output says LEAKY)")
      ->check(CLI::IsMember(protocol_choices()))
      ->capture_default_str();
  add_lora_flags(*cmd, o->lora);
  add_regressor_flags(*cmd, o->relora, "relora-", "Re-LoRA");
  add_loid_flags(*cmd, *o);
  cmd->add_option("--margin", o->margin, "Triplet margin D")->capture_default_str();
  cmd->add_option_function<std::string>(
         "--predictor", [o](const std::string& s) { o->predictor = loid::parse_loid_predictor(s); },
         "mlp: the paper's MLP on the attended review vectors; mf+text: a biased MF fitted on the "
         "training ratings (size and regularisation chosen on validation, then fixed) plus that "
         "MLP starting at zero, the MF alone competing as epoch 0. Not in the paper")
      ->check(CLI::IsMember({"mlp", "mf+text"}))
      ->default_str("mlp");
  cmd->add_option("--mf-factors", o->mf_factors, "mf+text: factor sizes to choose from")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--mf-reg", o->mf_regularization, "mf+text: regularisations to choose from")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--weight-decay", o->weight_decay, "LoID Adam weight decay")
      ->capture_default_str();
  cmd->add_option("--e2e-lr", o->e2e_learning_rate,
                  "end-to-end mode: Adam learning rate of the target adapter")
      ->capture_default_str();
  cmd->add_option("--reuse-text-stage", o->reuse_text_stage,
                  "Frozen mode: copy the Re-LoRA adapter and review vectors of another run with "
                  "the same data, split, encoder, plugins and LoRA settings instead of "
                  "recomputing them (to try LoID settings quickly)");
  add_threads_flag(*cmd, o->threads);
  add_device_flag(*cmd, o->device);
  auto dist = std::make_shared<loid::DistOptions>();
  add_distributed_flags(*cmd, *dist);
  cmd->add_flag("--resume", o->resume, "Continue an interrupted run in --out");
  cmd->add_flag("--force", o->force, "Replace an existing run directory");
  add_no_progress_flag(*cmd, o->progress);
  cmd->callback([o, ratios, protocol, dist] {
    launch_or_join(*dist);
    require_cpu_for_several_processes(o->device);
    loid::parse_split_ratios(*ratios, o->split);
    o->protocol = loid::protocol_from_name(*protocol);
    o->relora.seed = o->split.seed;
    const auto r = loid::run_loid_train(*o);
    if (!loid::distributed().main()) return;  // rank 0 reports for the job
    const auto& t = r.metrics["test"];
    std::cout << (o->protocol == loid::Protocol::kPaperLeaky ? "LEAKY (paper-leaky protocol) " : "")
              << "run " << o->out << ": test MSE " << t["mse"].get<double>() << ", RMSE "
              << t["rmse"].get<double>() << ", MAE " << t["mae"].get<double>() << " ("
              << t["n"].get<long long>() << " reviews); best epoch "
              << r.metrics["best_epoch"].get<int>() << "\n";
  });
}

}  // namespace loid::cli
