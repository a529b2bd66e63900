// `loid bench`: flags -> BenchOptions -> run_bench. LoID flags are a subset of `loid train`'s,
// defined once in loid_flags.h; they apply to the loid and loid+plugin cells.
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "core/error.h"
#include "data/split.h"
#include "loid_flags.h"
#include "train/distributed.h"
#include "read_options.h"
#include "train/bench_curve.h"
#include "train/bench_run.h"

namespace loid::cli {

namespace {

std::string model_list() {
  std::string s;
  for (const auto& m : loid::bench_model_names()) s += (s.empty() ? "" : ",") + m;
  return s;
}

}  // namespace

void add_bench(CLI::App& app) {
  auto o = std::make_shared<loid::BenchOptions>();
  auto ratios = std::make_shared<std::string>(loid::kDefaultSplitRatios);
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Score several models on the same seeded splits of one domain: per model mean and std "
      "over seeds of test MSE/RMSE/MAE, the paired difference against mf with a 95% t-interval, "
      "cold-start rows and wall time (results.json, results.md, results.svg). Each (model, seed) "
      "cell is saved when done; rerunning the same command resumes, and refuses a directory made "
      "from another data file or other settings");
  cmd->add_option("--data", o->data, "Target-domain reviews file")->required();
  cmd->add_option(
      "--source", o->sources,
      "Source-domain file(s): loid+plugin pretrains one plugin on them into OUT/plugin");
  cmd->add_option("--models", o->models, "Comma-separated models; known: " + model_list())
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--seeds", o->seeds, "Comma-separated split seeds (one cell per model and seed)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--out", o->out,
                  "Bench directory: bench_config.json, cells/<model>_s<seed>.json, runs/, plugin/, "
                  "results.*")
      ->required();
  add_read_options(*cmd, o->read);
  add_split_ratios_flag(*cmd, *ratios);
  add_train_fraction_flag(*cmd, o->split);
  auto fractions = std::make_shared<std::vector<double>>();
  cmd->add_option("--train-fractions", *fractions,
                  "A learning curve: the whole bench at each fraction of the training reviews "
                  "(e.g. 0.1,0.25,0.5,1), each in OUT/fraction_F, then OUT/curve.md, curve.json "
                  "and curve.svg (test MSE and cold-start rows per model and fraction)")
      ->delimiter(',');
  auto protocols =
      std::make_shared<std::vector<std::string>>(std::vector<std::string>{"leak-free"});
  cmd->add_option("--protocols", *protocols,
                  "LoID models run under each: leak-free (histories from training reviews only) "
                  "and/or paper-leaky (the authors' released protocol, test reviews visible; rows "
                  "NAME@paper-leaky, marked LEAKY)")
      ->delimiter(',')
      ->check(CLI::IsMember(protocol_choices()))
      ->capture_default_str();
  cmd->add_option("--mf-factors", o->mf_factors, "mf: latent sizes tried (chosen on validation)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--mf-reg", o->mf_regularization,
                  "bias and mf: L2 regularisation values tried (chosen on validation)")
      ->delimiter(',')
      ->capture_default_str();

  // LoID settings (as in `loid train`).
  loid::LoidTrainOptions& t = o->loid;
  add_encoder_flag(*cmd, t.encoder_dir);
  cmd->add_option("--plugin", o->plugins,
                  "loid+plugin: existing plugin directory (repeatable) instead of pretraining one "
                  "from --source");
  add_merge_flag(*cmd, t.plugins, "How several --plugin join (as in loid train)");
  add_lora_rank_flags(*cmd, t.lora, "LoRA rank r of the target (and pretrained) adapter");
  add_regressor_size_flags(*cmd, t.relora, "relora-", "Re-LoRA");
  add_loid_flags(*cmd, t);

  // The plugin pretrained from --source.
  cmd->add_option("--pretrain-epochs", o->pretrain.train.epochs, "Plugin epochs")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--pretrain-max-steps", o->pretrain.train.max_steps,
                  "Plugin steps per epoch at most (0 = whole epoch)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--pretrain-max-train-reviews", o->pretrain.max_train_reviews,
                  "Plugin: per source file, a seeded sample of at most this many training "
                  "reviews (0 = all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();

  // Text baselines.
  cmd->add_option("--text-max-epochs", o->text_max_epochs,
                  "Text baselines: epochs at most (0 = each model's default)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option(
      "--word-vectors", o->word_vectors,
      "Text baselines: JSON word vectors to start from (default: trained from scratch)");

  // ID baselines.
  cmd->add_option("--id-max-epochs", o->id_max_epochs,
                  "ALFM, BiGI, RGCL: epochs at most per grid point (0 = each model's default)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();

  add_threads_flag(*cmd, o->threads);
  add_device_flag(*cmd, o->device);
  auto dist = std::make_shared<loid::DistOptions>();
  add_distributed_flags(*cmd, *dist);
  add_no_progress_flag(*cmd, o->progress);
  cmd->add_flag("--table-only", o->table_only,
                "Train nothing: write results.* from the finished cells of OUT (missing cells are "
                "listed as missing); the settings flags must match the ones that made the cells");
  cmd->callback([o, ratios, protocols, fractions, dist] {
    launch_or_join(*dist);
    require_cpu_for_several_processes(o->device);
    loid::parse_split_ratios(*ratios, o->split);
    o->models = loid::bench_models_for_protocols(o->models, *protocols);
    if (!fractions->empty()) {
      const nlohmann::json curve = loid::run_bench_curve(*o, *fractions, std::cout);
      if (loid::distributed().main()) std::cout << "\n" << loid::bench_curve_markdown(curve);
      return;
    }
    const loid::BenchResult r = loid::run_bench(*o, std::cout);
    if (loid::distributed().main()) std::cout << "\n" << loid::bench_results_markdown(r.results);
  });
}

}  // namespace loid::cli
