// `loid similarity` (see similarity.h): seeded review samples, sentence vectors, cosine of domain
// means, and the gain table from bench results.
#include "train/similarity.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "core/rng.h"
#include "data/reader.h"
#include "eval/report.h"
#include "nn/device.h"
#include "nn/encode.h"
#include "nn/encoder.h"
#include "train/bench_run.h"
#include "train/setup.h"
#include "io/json_file.h"

namespace loid {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Salt so the sample stream differs from other uses of the same seed ("similar").
constexpr std::uint64_t kSampleSalt = 0x73696d696c6172ULL;

// The pooling actually used: "auto" picks the encoder's sentence output for USE-Lite and the mean
// of token states otherwise (BERT).
std::string resolve_pooling(const std::string& requested, const Encoder& encoder) {
  if (requested != "auto") return requested;
  return encoder.kind() == "use_lite" ? "sentence" : "mean";
}

// Index of the domain a path names: the same file (canonical path) or, failing that, the same
// label; -1 when none.
int find_domain(const std::string& path, const SimilarityResult& r) {
  std::error_code ec;
  const fs::path want = fs::weakly_canonical(path, ec);
  for (std::size_t i = 0; i < r.files.size(); ++i) {
    std::error_code ec2;
    if (!ec && fs::weakly_canonical(r.files[i], ec2) == want && !ec2) return static_cast<int>(i);
  }
  const std::string label = domain_label(path);
  for (std::size_t i = 0; i < r.labels.size(); ++i)
    if (r.labels[i] == label) return static_cast<int>(i);
  return -1;
}

// Source files of the plugin a bench used: its --source files, or the domains recorded in the
// given plugin directories' loid_metadata.json.
std::vector<std::string> bench_sources(const json& results, const std::string& file) {
  std::vector<std::string> sources;
  if (results.contains("sources") && results["sources"].is_array())
    for (const auto& s : results["sources"]) sources.push_back(s.get<std::string>());
  const json& plugin = results.contains("plugin") ? results["plugin"] : json(nullptr);
  if (plugin.is_object() && plugin.contains("given")) {
    sources.clear();
    for (const auto& d : plugin["given"]) {
      const std::string meta = d.get<std::string>() + "/loid_metadata.json";
      if (!file_exists(meta))
        throw InputError(file, 0,
                         "its plugin " + d.get<std::string>() +
                             " has no loid_metadata.json naming the source domains");
      const json m = json::parse(read_file(meta));
      for (const auto& dom : m.value("domains", json::array()))
        sources.push_back(dom.at("file").get<std::string>());
    }
  }
  return sources;
}

// Per-seed MSE of a model's row in bench results, by seed.
std::map<std::uint64_t, double> per_seed_mse(const json& results, const std::string& model,
                                             const std::string& file) {
  for (const auto& row : results.at("rows")) {
    if (row.at("model").get<std::string>() != model) continue;
    const auto& seeds = row.at("seeds");
    const auto& mse = row.at("per_seed").at("test_mse");
    if (seeds.size() != mse.size())
      throw InputError(file, 0, "row " + model + ": seeds and per-seed MSE differ in length");
    std::map<std::uint64_t, double> out;
    for (std::size_t i = 0; i < seeds.size(); ++i)
      out[seeds[i].get<std::uint64_t>()] = mse[i].get<double>();
    return out;
  }
  throw UsageError("--gains " + file + ": no '" + model +
                   "' row; run loid bench with --models ...,loid,loid+plugin");
}

GainRow gain_row(const std::string& file, const SimilarityResult& r) {
  json results;
  try {
    results = json::parse(read_file(file));
    results.at("rows");
    results.at("data");
  } catch (const json::exception& e) {
    throw InputError(file, 0, std::string("not a loid bench results.json: ") + e.what());
  }
  GainRow g;
  g.results = file;
  const std::string target = results["data"].get<std::string>();
  const int t = find_domain(target, r);
  if (t < 0)
    throw UsageError("--gains " + file + ": its target " + target +
                     " is not among the --data files; add it");
  g.target = r.labels[t];
  const std::vector<std::string> sources = bench_sources(results, file);
  if (sources.empty()) throw UsageError("--gains " + file + ": the bench names no source domain");
  for (const auto& s : sources) {
    const int k = find_domain(s, r);
    if (k < 0)
      throw UsageError("--gains " + file + ": its source " + s +
                       " is not among the --data files; add it");
    g.sources.push_back(r.labels[k]);
    g.similarity.push_back(r.matrix[t][k]);
  }
  const auto plain = per_seed_mse(results, "loid", file);
  const auto plugged = per_seed_mse(results, "loid+plugin", file);
  std::vector<double> diffs;
  for (const auto& [seed, mse] : plain) {
    auto it = plugged.find(seed);
    if (it != plugged.end()) diffs.push_back(mse - it->second);
  }
  if (diffs.empty())
    throw UsageError("--gains " + file + ": no seed has both a loid and a loid+plugin cell");
  const SeedStats st = seed_stats(diffs);
  g.gain = st.mean;
  g.gain_ci_low = st.ci_low;
  g.gain_ci_high = st.ci_high;
  g.seeds = st.n;
  return g;
}

}  // namespace

std::vector<std::int64_t> sample_without_replacement(std::int64_t n, std::int64_t samples,
                                                     std::uint64_t seed) {
  if (n < 0 || samples < 0) throw UsageError("sample_without_replacement: negative size");
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) idx[i] = i;
  if (samples >= n) return idx;
  Rng rng = Rng(seed).fork(kSampleSalt);
  // Partial Fisher-Yates: the first `samples` slots receive a uniform sample.
  for (std::int64_t i = 0; i < samples; ++i) {
    const auto j = i + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n - i)));
    std::swap(idx[i], idx[j]);
  }
  idx.resize(static_cast<std::size_t>(samples));
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::vector<std::vector<double>> cosine_matrix(const std::vector<std::vector<double>>& v) {
  const std::size_t n = v.size();
  std::vector<double> norm(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (v[i].size() != v[0].size())
      throw UsageError("cosine_matrix: vector " + std::to_string(i) + " has length " +
                       std::to_string(v[i].size()) + ", vector 0 has " +
                       std::to_string(v[0].size()));
    double s = 0.0;
    for (double x : v[i]) s += x * x;
    norm[i] = std::sqrt(s);
    if (!(norm[i] > 0.0) || !std::isfinite(norm[i]))
      throw UsageError("cosine_matrix: vector " + std::to_string(i) + " is zero or not finite");
  }
  std::vector<std::vector<double>> m(n, std::vector<double>(n, 1.0));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      double dot = 0.0;
      for (std::size_t d = 0; d < v[i].size(); ++d) dot += v[i][d] * v[j][d];
      m[i][j] = m[j][i] = dot / (norm[i] * norm[j]);
    }
  }
  return m;
}

std::string domain_label(const std::string& path) {
  std::string name = fs::path(path).filename().string();
  auto strip = [&](const std::string& ext) {
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
      name.resize(name.size() - ext.size());
      return true;
    }
    return false;
  };
  strip(".gz");
  for (const char* ext : {".json", ".jsonl", ".tsv", ".csv", ".txt"})
    if (strip(ext)) break;
  return name;
}

json similarity_json(const SimilarityResult& r, const SimilarityOptions& o) {
  json domains = json::array();
  for (std::size_t i = 0; i < r.labels.size(); ++i)
    domains.push_back({{"label", r.labels[i]},
                       {"file", r.files[i]},
                       {"reviews", r.reviews[i]},
                       {"sampled", r.sampled[i]}});
  json gains = json::array();
  for (const auto& g : r.gains)
    gains.push_back({{"results", g.results},
                     {"target", g.target},
                     {"sources", g.sources},
                     {"similarity", g.similarity},
                     {"gain_mse", g.gain},
                     {"gain_ci95_low", number_or_null(g.gain_ci_low)},
                     {"gain_ci95_high", number_or_null(g.gain_ci_high)},
                     {"seeds", g.seeds}});
  return {{"domains", domains},
          {"matrix", r.matrix},
          {"samples", o.samples},
          {"seed", o.seed},
          {"encoder", r.encoder},
          {"pooling", r.pooling},
          {"definition",
           "per domain, the mean of the sampled reviews' sentence vectors; entry (i, j) is the "
           "cosine similarity of the mean vectors of domains i and j"},
          {"gains", gains},
          {"gain_definition",
           "per seed, test MSE of loid minus test MSE of loid+plugin (positive: the plugin "
           "helps); mean and 95% t-interval over seeds"}};
}

SimilarityResult run_similarity(const SimilarityOptions& o, std::ostream& out) {
  if (o.data.size() < 2) throw UsageError("similarity: give at least two --data files");
  if (o.samples < 1) throw UsageError("similarity: --samples must be at least 1");
  SimilarityResult r;
  r.encoder = resolve_encoder_dir(o.encoder_dir);
  set_threads(o.threads);
  const torch::Device device = resolve_device(o.device);
  auto encoder = load_encoder(r.encoder);
  encoder->module().to(device);
  encoder->module().eval();
  r.pooling = resolve_pooling(o.pooling, *encoder);
  EncodeOptions eo;
  eo.pooling = pooling_from_name(r.pooling);
  eo.batch_size = o.batch_size;
  eo.progress = o.progress;

  std::vector<std::vector<double>> domain_vectors;
  for (std::size_t d = 0; d < o.data.size(); ++d) {
    const std::string& path = o.data[d];
    ReviewFile file = read_reviews(path);
    if (file.reviews.empty()) throw InputError(path, 0, "no usable reviews in the file");
    const auto n = static_cast<std::int64_t>(file.reviews.size());
    // The sample depends on the seed and the domain's size only: identical files give identical
    // samples, and adding a domain does not change another's.
    const auto ids = sample_without_replacement(n, o.samples, o.seed);
    std::vector<std::string> texts;
    texts.reserve(ids.size());
    for (auto id : ids) texts.push_back(file.reviews[id].text);
    torch::Tensor vectors;
    {
      torch::NoGradGuard no_grad;
      vectors = encode_texts(*encoder, texts, eo);  // (S, D)
    }
    const torch::Tensor mean = vectors.to(torch::kFloat64).mean(0).contiguous();  // (D)
    domain_vectors.emplace_back(mean.data_ptr<double>(), mean.data_ptr<double>() + mean.numel());
    r.files.push_back(path);
    r.labels.push_back(domain_label(path));
    r.reviews.push_back(n);
    r.sampled.push_back(static_cast<std::int64_t>(ids.size()));
    log_info("similarity: " + r.labels.back() + ": " + std::to_string(ids.size()) + " of " +
             std::to_string(n) + " reviews encoded");
  }
  for (std::size_t i = 0; i < r.labels.size(); ++i)
    for (std::size_t j = i + 1; j < r.labels.size(); ++j)
      if (r.labels[i] == r.labels[j])
        r.labels[j] += "#" + std::to_string(j + 1);  // two files of the same name stay apart
  r.matrix = cosine_matrix(domain_vectors);
  for (const auto& g : o.gains) r.gains.push_back(gain_row(g, r));

  // The matrix as text.
  out << "Domain similarity: cosine of the mean " << r.pooling << " vector of " << o.samples
      << " seeded random reviews per domain (seed " << o.seed << ", encoder " << r.encoder
      << ")\n\n";
  std::vector<std::string> header = {"domain (reviews sampled)"};
  for (const auto& l : r.labels) header.push_back(l);
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < r.labels.size(); ++i) {
    std::vector<std::string> row = {r.labels[i] + " (" + std::to_string(r.sampled[i]) + ")"};
    for (double x : r.matrix[i]) row.push_back(format_finite(x, 4));
    rows.push_back(row);
  }
  out << markdown_table(header, rows);
  if (!r.gains.empty()) {
    out << "\nPlugin gain (test MSE of loid minus loid+plugin; positive = the plugin helps) "
           "next to the similarity of its source(s) to the target:\n\n";
    std::vector<std::vector<std::string>> grows;
    for (const auto& g : r.gains) {
      std::string src, sim;
      for (std::size_t k = 0; k < g.sources.size(); ++k) {
        src += (k ? " + " : "") + g.sources[k];
        sim += (k ? " / " : "") + format_finite(g.similarity[k], 4);
      }
      std::string gain = format_finite(g.gain, 4);
      if (std::isfinite(g.gain_ci_low))
        gain +=
            " [" + format_finite(g.gain_ci_low, 4) + ", " + format_finite(g.gain_ci_high, 4) + "]";
      grows.push_back({g.target, src, sim, gain, std::to_string(g.seeds)});
    }
    out << markdown_table(
        {"target", "source(s)", "similarity to target", "MSE gain [95% CI]", "seeds"}, grows);
  }
  out.flush();

  if (!o.out.empty()) {
    make_dirs(o.out);
    write_file_atomic(o.out + "/similarity.json", similarity_json(r, o).dump(2) + "\n");
    write_file_atomic(o.out + "/similarity.svg",
                      heatmap_svg(r.labels, r.matrix,
                                  "Domain similarity (cosine of mean " + r.pooling + " vectors)"));
    out << "\nwrote " << o.out << "/similarity.json and " << o.out << "/similarity.svg\n";
  }
  return r;
}

}  // namespace loid
