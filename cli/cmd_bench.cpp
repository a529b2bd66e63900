// `loid bench`: flags -> BenchOptions -> run_bench. LoID flags are a subset of `loid train`'s
// with the same names and defaults; they apply to the loid and loid+plugin cells.
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "core/error.h"
#include "data/split.h"
#include "read_options.h"
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
  auto protocols = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"leak-free"});
  cmd->add_option("--protocols", *protocols,
                  "LoID models run under each: leak-free (histories from training reviews only) "
                  "and/or paper-leaky (the authors' released protocol, test reviews visible; rows "
                  "NAME@paper-leaky, marked LEAKY)")
      ->delimiter(',')
      ->check(CLI::IsMember({"leak-free", "paper-leaky"}))
      ->capture_default_str();
  cmd->add_option("--seeds", o->seeds, "Comma-separated split seeds (one cell per model and seed)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--out", o->out,
                  "Bench directory: bench_config.json, cells/<model>_s<seed>.json, runs/, plugin/, "
                  "results.*")
      ->required();
  add_read_options(*cmd, o->read);
  cmd->add_option("--split-ratios", *ratios, "train,validation,test fractions")
      ->capture_default_str();
  cmd->add_option("--train-fraction", o->split.train_fraction,
                  "Keep this fraction of each split's training reviews (a seeded sample; "
                  "validation and test untouched) for every model, for learning curves")
      ->check(CLI::Range(0.0, 1.0))
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
  cmd->add_option("--encoder", t.encoder_dir,
                  "Encoder directory; default: the installed USE-Lite (models/use_lite)");
  cmd->add_option("--plugin", o->plugins,
                  "loid+plugin: existing plugin directory (repeatable) instead of pretraining one "
                  "from --source");
  cmd->add_option("--merge", t.plugins.merge, "How several --plugin join (as in loid train)")
      ->check(CLI::IsMember({"stack", "linear", "cat", "svd", "ties", "dare_linear", "dare_ties"}))
      ->capture_default_str();
  cmd->add_option("--rank", t.lora.r, "LoRA rank r of the target (and pretrained) adapter")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--alpha", t.lora.alpha, "LoRA alpha")->capture_default_str();
  cmd->add_option("--relora-epochs", t.relora.epochs, "Re-LoRA epochs (0 skips it)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--relora-max-steps", t.relora.max_steps,
                  "Re-LoRA steps per epoch at most (0 = whole epoch)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--relora-batch-size", t.relora.batch_size, "Re-LoRA reviews per step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("-k,--reviews", t.k, "Context reviews per user and per item")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--embed-size", t.embed_size, "ID embedding size; 0 = the encoder's width")
      ->capture_default_str();
  cmd->add_option("--heads", t.heads, "Attention heads")->capture_default_str();
  cmd->add_option("--hidden", t.hidden, "Prediction MLP hidden width")->capture_default_str();
  cmd->add_option("--dropout", t.dropout, "Dropout in the LoID model")->capture_default_str();
  cmd->add_option("--lambda", t.lambda, "Weight of the triplet loss")->capture_default_str();
  cmd->add_flag("--id-biases", t.id_biases, "Trained user and item biases (not in the paper)");
  cmd->add_flag("--fit-id-biases", t.fit_id_biases,
                "With --id-biases: start from the biases-only model fitted on the training "
                "ratings, biases then fixed (MLP output at zero; kept as epoch 0 if no epoch beats "
                "it on validation). Not in the paper");
  cmd->add_option("--lr", t.learning_rate, "LoID Adam learning rate")->capture_default_str();
  cmd->add_option("--batch-size", t.batch_size, "LoID rows per step")
      ->check(CLI::Range(2, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--epochs", t.epochs, "LoID epochs at most")->capture_default_str();
  cmd->add_option("--patience", t.patience, "LoID early-stopping patience")->capture_default_str();
  add_encoder_mode_option(*cmd, t.encoder_mode);
  add_compute_dtype_option(*cmd, t.compute_dtype);

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

  cmd->add_option("--threads", o->threads, "Intra-op threads (0 = all cores)")
      ->capture_default_str();
  cmd->add_flag_function(
      "--no-progress", [o](std::int64_t) { o->progress = false; },
      "Plain log lines instead of progress bars");
  cmd->add_flag("--table-only", o->table_only,
                "Train nothing: write results.* from the finished cells of OUT (missing cells are "
                "listed as missing); the settings flags must match the ones that made the cells");
  cmd->callback([o, ratios, protocols] {
    loid::parse_split_ratios(*ratios, o->split);
    o->models = loid::bench_models_for_protocols(o->models, *protocols);
    const loid::BenchResult r = loid::run_bench(*o, std::cout);
    std::cout << "\n" << loid::bench_results_markdown(r.results);
  });
}

}  // namespace loid::cli
