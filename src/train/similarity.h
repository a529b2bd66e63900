// `loid similarity`: how alike product domains are, as in the paper's Table 2. Per domain, a seeded
// sample of reviews is encoded into sentence vectors; a domain's vector is the mean of its
// sampled review vectors; two domains' similarity is the cosine of their domain vectors. With bench
// results it also lists each source's MSE gain as a plugin next to its similarity to the target.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "core/device.h"

namespace loid {

struct SimilarityOptions {
  std::vector<std::string> data;  // domain review files, at least two
  std::int64_t samples = 100;     // reviews per domain (all when a domain has fewer)
  std::uint64_t seed = 1;         // sample seed
  std::string encoder_dir;        // "" = installed default (USE-Lite)
  // "auto" (the encoder's sentence output for USE-Lite, mean of token states for BERT), or
  // cls, pooler, mean, sentence.
  std::string pooling = "auto";
  std::int64_t batch_size = 32;    // texts per forward pass
  std::string out;                 // directory for similarity.json and similarity.svg; "" = none
  std::vector<std::string> gains;  // `loid bench` results.json files with loid and loid+plugin rows
  int threads = 0;                 // intra-op threads (0 = all cores)
  DeviceSpec device;               // where the encoder runs (cpu)
  bool progress = true;
};

// One line of the gain table: a bench whose plugin came from `sources`, on `target`.
struct GainRow {
  std::string results;               // the results.json it came from
  std::string target;                // label of the target domain
  std::vector<std::string> sources;  // labels of the plugin's source domains
  std::vector<double> similarity;    // each source's similarity to the target
  double gain = 0.0;                 // mean over seeds of MSE(loid) - MSE(loid+plugin); > 0 helps
  double gain_ci_low = 0.0;          // 95% t-interval of that mean (NaN with one seed)
  double gain_ci_high = 0.0;
  std::int64_t seeds = 0;  // seeds with both cells
};

struct SimilarityResult {
  std::vector<std::string> labels;          // one per domain (file name without extensions)
  std::vector<std::string> files;           // as given
  std::vector<std::int64_t> reviews;        // reviews read per domain
  std::vector<std::int64_t> sampled;        // reviews encoded per domain
  std::string pooling;                      // the pooling used ("sentence", "mean", ...)
  std::string encoder;                      // encoder directory
  std::vector<std::vector<double>> matrix;  // cosine similarity of domain vectors
  std::vector<GainRow> gains;
};

// `samples` distinct indices of 0..n-1 drawn without replacement by a seeded partial
// Fisher-Yates shuffle, in ascending order; all of 0..n-1 when samples >= n.
std::vector<std::int64_t> sample_without_replacement(std::int64_t n, std::int64_t samples,
                                                     std::uint64_t seed);

// Cosine similarity of every pair of vectors (all of one length; UsageError otherwise, or when a
// vector is all zeros). Symmetric, with ones on the diagonal.
std::vector<std::vector<double>> cosine_matrix(const std::vector<std::vector<double>>& vectors);

// A domain's short name: the file name without ".gz" and ".json"/".jsonl"/".tsv"/".csv".
std::string domain_label(const std::string& path);

// Reads, samples and encodes every domain, computes the matrix and the gain rows, prints the
// matrix (and the gains) to `out`, and writes out/similarity.json and out/similarity.svg
// atomically when options.out is set. Throws UsageError for fewer than two domains, a gains file
// whose target or sources are not among the domains, or missing loid / loid+plugin rows.
SimilarityResult run_similarity(const SimilarityOptions& options, std::ostream& out);

// The similarity.json document of a result.
nlohmann::json similarity_json(const SimilarityResult& result, const SimilarityOptions& options);

}  // namespace loid
