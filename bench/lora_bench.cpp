// LoRA overhead at batch 32 x 128 tokens (every token real, no padding): the bare encoder, one
// unmerged rank-32 adapter on the encoder's default targets (inject_lora, eval mode, no grad) and
// the same adapter folded into the weights (LoraLinear::fold on every layer), for the installed
// USE-Lite and a BERT-base-shaped random-weight model. Issue 4's bar: unmerged at most 15% slower
// than bare, folded equal to bare. Random token ids (weights and ids do not change the speed).
// Threads: one per core unless LOID_BENCH_THREADS says otherwise.
//   build-x/loid_bench --benchmark_filter=Lora --benchmark_repetitions=5 \
//     --benchmark_enable_random_interleaving=true --benchmark_display_aggregates_only=true
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "core/fs.h"
#include "core/paths.h"
#include "core/progress.h"
#include "nn/bert.h"
#include "nn/encoder.h"
#include "nn/lora_inject.h"
#include "text/wordpiece.h"
#include "train/setup.h"

namespace {

constexpr std::int64_t kBatch = 32;
constexpr std::int64_t kTokens = 128;

enum class Mode { kBare, kUnmerged, kFolded };

// A bare encoder and a copy with one trainable-shaped rank-32 adapter (B random, so the adapter
// does real work), both in eval mode, and one full batch of random ids.
struct Setup {
  std::unique_ptr<loid::Encoder> bare;
  std::unique_ptr<loid::Encoder> adapted;
  loid::TokenBatch batch;
};

void add_adapter(loid::Encoder& enc) {
  loid::LoraConfig config;  // r 32, alpha 32, dropout 0.1: the defaults
  loid::inject_lora(enc, config);
  torch::NoGradGuard no_grad;
  for (auto& [path, layer] : loid::lora_layers(enc.module()))
    if (layer->has_target()) layer->target_parameters()[1].normal_(0.0, 0.02);  // B
  enc.module().eval();
}

loid::TokenBatch random_batch(std::int64_t vocab) {
  torch::manual_seed(1);
  return {torch::randint(1, vocab, {kBatch, kTokens}, torch::kInt64),
          torch::ones({kBatch, kTokens}, torch::kInt64)};
}

// BERT-base shape (12 x 768, 12 heads, 3072) with random weights. The encoder never tokenizes
// here, so a vocabulary of the four special tokens stands in for bert-base-uncased's.
std::unique_ptr<loid::Encoder> bert_base() {
  auto tok = std::make_shared<const loid::WordPieceTokenizer>(
      loid::WordPieceTokenizer::from_vocab({"[PAD]", "[UNK]", "[CLS]", "[SEP]"}));
  loid::BertConfig config;
  torch::manual_seed(0);
  loid::BertEncoderOptions options;
  options.max_length = kTokens;
  return std::make_unique<loid::BertEncoder>(config, loid::BertModel(config), tok, options);
}

Setup* bert_setup() {
  static std::unique_ptr<Setup> s = [] {
    auto out = std::make_unique<Setup>();
    out->bare = bert_base();
    out->adapted = bert_base();
    add_adapter(*out->adapted);
    out->batch = random_batch(loid::BertConfig().vocab_size);
    return out;
  }();
  return s.get();
}

// The installed USE-Lite (models/use_lite), or nullptr.
Setup* use_lite_setup() {
  static std::unique_ptr<Setup> s = []() -> std::unique_ptr<Setup> {
    const std::string dir = loid::models_dir() + "/use_lite";
    if (!loid::file_exists(dir + "/config.json")) return nullptr;
    auto out = std::make_unique<Setup>();
    out->bare = loid::load_encoder(dir);
    out->adapted = loid::load_encoder(dir);
    add_adapter(*out->adapted);
    out->batch = random_batch(8000);  // the 8,000 pieces of the USE-Lite vocabulary
    return out;
  }();
  return s.get();
}

// Threads: $LOID_BENCH_THREADS, else one per core (this libtorch starts with 1), for torch and
// OpenBLAS alike (set_threads).
void set_threads_once() {
  static const bool done = [] {
    const char* env = std::getenv("LOID_BENCH_THREADS");
    loid::set_threads(env != nullptr ? std::atoi(env) : 0);
    return true;
  }();
  (void)done;
}

void run(benchmark::State& state, Setup& s, Mode mode) {
  loid::Progress::set_quiet(true);
  set_threads_once();
  loid::Encoder& enc = mode == Mode::kBare ? *s.bare : *s.adapted;
  const auto layers = loid::lora_layers(enc.module());
  if (mode == Mode::kFolded)
    for (auto& [path, layer] : layers) layer->fold();
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    auto out = enc.forward(s.batch);
    benchmark::DoNotOptimize(out.vectors.data_ptr());
  }
  if (mode == Mode::kFolded)
    for (auto& [path, layer] : layers) layer->unfold();
  state.counters["tokens/s"] = benchmark::Counter(
      static_cast<double>(kBatch * kTokens) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["lora_layers"] = static_cast<double>(layers.size());
  state.counters["threads"] = torch::get_num_threads();
}

void BM_LoraBertBase(benchmark::State& state, Mode mode) {
  run(state, *bert_setup(), mode);
}
BENCHMARK_CAPTURE(BM_LoraBertBase, bare, Mode::kBare)
    ->MinTime(4.0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_LoraBertBase, unmerged_r32, Mode::kUnmerged)
    ->MinTime(4.0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_LoraBertBase, folded_r32, Mode::kFolded)
    ->MinTime(4.0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_LoraUseLite(benchmark::State& state, Mode mode) {
  Setup* s = use_lite_setup();
  if (s == nullptr)
    return state.SkipWithError(
        "USE-Lite not installed in models/use_lite (run `loid models install`)");
  run(state, *s, mode);
}
BENCHMARK_CAPTURE(BM_LoraUseLite, bare, Mode::kBare)
    ->MinTime(2.0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_LoraUseLite, unmerged_r32, Mode::kUnmerged)
    ->MinTime(2.0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_LoraUseLite, folded_r32, Mode::kFolded)
    ->MinTime(2.0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
