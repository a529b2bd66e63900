// Throughput of read_reviews (records/s and uncompressed MB/s): the real Musical Instruments file
// when ../shared/data is present, and generated corpora in each format, plain and gzip.
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/progress.h"
#include "core/rng.h"
#include "data/reader.h"
#include "io/line_reader.h"

namespace {

// Bytes after decompression, for MB/s figures that compare plain and gzip input fairly.
std::int64_t uncompressed_bytes(const std::string& path) {
  loid::LineReader reader(path);
  loid::InputLine line;
  std::int64_t total = 0;
  while (reader.next(line)) total += static_cast<std::int64_t>(line.length) + 1;
  return total;
}

void run_read(benchmark::State& state, const std::string& path) {
  loid::Progress::set_quiet(true);
  const std::int64_t bytes = uncompressed_bytes(path);
  std::int64_t records = 0;
  for (auto _ : state) {
    const loid::ReviewFile f = loid::read_reviews(path);
    records = f.report.kept;
    benchmark::DoNotOptimize(f.reviews.data());
  }
  state.SetBytesProcessed(bytes * state.iterations());
  state.counters["records"] = static_cast<double>(records);
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(records) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

void BM_ReadMusicalInstruments(benchmark::State& state) {
  const std::string path = std::string(LOID_SOURCE_DIR) +
                           "/../shared/data/amazon2014/reviews_Musical_Instruments_5.json.gz";
  if (!std::filesystem::exists(path)) {
    state.SkipWithError("../shared/data/amazon2014/reviews_Musical_Instruments_5.json.gz absent");
    return;
  }
  run_read(state, path);
}
BENCHMARK(BM_ReadMusicalInstruments)->Unit(benchmark::kMillisecond);

enum Kind { kJson, kJsonGzip, kPython, kCsv };

// A deterministic corpus of `n` Amazon-like reviews (~600 bytes each) in the given format.
std::string make_corpus(Kind kind, int n) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("loid_reader_bench_" + std::to_string(kind) + "_" + std::to_string(n) +
                             (kind == kCsv ? ".csv" : ".json") + (kind == kJsonGzip ? ".gz" : "")))
                               .string();
  if (std::filesystem::exists(path)) return path;
  loid::Rng rng(42);
  static const char* const kWords[] = {"great",  "sound", "strings", "cheap", "works", "the",
                                       "guitar", "cable", "quality", "and",   "would", "buy"};
  std::string out;
  if (kind == kCsv) out += "reviewerID,asin,overall,summary,reviewText,unixReviewTime\n";
  for (int i = 0; i < n; ++i) {
    std::string text;
    const int words = 20 + static_cast<int>(rng.below(180));
    for (int w = 0; w < words; ++w) text += std::string(w ? " " : "") + kWords[rng.below(12)];
    const std::string user = "A" + std::to_string(rng.below(n / 5 + 1));
    const std::string item = "B" + std::to_string(rng.below(n / 10 + 1));
    const std::string rating = std::to_string(1 + rng.below(5)) + ".0";
    const std::string time = std::to_string(1300000000 + rng.below(100000000));
    if (kind == kCsv) {
      out += user + "," + item + "," + rating + ",\"Nice, \"\"really\"\"\"," + text + "," + time;
    } else if (kind == kPython) {
      out += "{'reviewerID': '" + user + "', 'asin': '" + item +
             "', 'reviewerName': 'Name', 'helpful': [0, 0], 'reviewText': \"It's " + text +
             "\", 'overall': " + rating + ", 'summary': 'Nice', 'unixReviewTime': " + time +
             ", 'reviewTime': '01 1, 2014'}";
    } else {
      out += "{\"reviewerID\": \"" + user + "\", \"asin\": \"" + item +
             "\", \"reviewerName\": \"Name\", \"helpful\": [0, 0], \"reviewText\": \"" + text +
             "\", \"overall\": " + rating + ", \"summary\": \"Nice\", \"unixReviewTime\": " + time +
             ", \"reviewTime\": \"01 1, 2014\"}";
    }
    out += '\n';
  }
  if (kind == kJsonGzip) {
    gzFile gz = gzopen(path.c_str(), "wb6");
    gzwrite(gz, out.data(), static_cast<unsigned>(out.size()));
    gzclose(gz);
  } else {
    std::ofstream(path, std::ios::binary) << out;
  }
  return path;
}

void BM_ReadGenerated(benchmark::State& state) {
  run_read(state, make_corpus(static_cast<Kind>(state.range(0)), static_cast<int>(state.range(1))));
}
BENCHMARK(BM_ReadGenerated)
    ->ArgNames({"format", "n"})
    ->Args({kJson, 50000})
    ->Args({kJsonGzip, 50000})
    ->Args({kPython, 50000})
    ->Args({kCsv, 50000})
    ->Unit(benchmark::kMillisecond);

}  // namespace
