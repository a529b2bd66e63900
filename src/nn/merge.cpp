// Adapter merge methods on exact float64 deltas, re-factored by truncated SVD (cat stays exact).
#include "nn/merge.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "core/error.h"
#include "core/rng.h"

namespace loid {

namespace {

std::uint64_t fnv1a64(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

torch::Tensor delta64(const LoraPair& p) {  // (out, in)
  return p.b.to(torch::kFloat64).matmul(p.a.to(torch::kFloat64)) * p.scale;
}

// Keeps the k = floor(density * numel) largest |values|; equal magnitudes go to the lower index.
torch::Tensor trim(const torch::Tensor& t, double density) {
  const int64_t n = t.numel();
  const int64_t k = static_cast<int64_t>(density * static_cast<double>(n));
  torch::Tensor flat = t.flatten().contiguous();
  const double* v = flat.data_ptr<double>();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return std::abs(v[x]) > std::abs(v[y]); });
  torch::Tensor out = torch::zeros_like(flat);
  double* o = out.data_ptr<double>();
  for (int64_t i = 0; i < k; ++i) o[order[i]] = v[order[i]];
  return out.view(t.sizes());
}

// PEFT's sign election ("total") and disjoint mean over stacked (n, out, in) tensors.
torch::Tensor ties_combine(const torch::Tensor& tensors, const torch::Tensor& weights) {
  torch::Tensor elected = torch::where(tensors.sum(0) >= 0, 1.0, -1.0).to(torch::kFloat64);
  torch::Tensor agree = (tensors.sign() == elected).to(torch::kFloat64);  // zeros never agree
  torch::Tensor weighted = tensors * weights.view({-1, 1, 1});
  return (weighted * agree).sum(0) / torch::clamp(agree.sum(0), 1.0);
}

LoraPair factor(const torch::Tensor& delta, int64_t rank) {
  auto [u, s, vh] = torch::linalg_svd(delta, /*full_matrices=*/false);
  rank = std::min<int64_t>(rank, s.size(0));
  torch::Tensor root = s.slice(0, 0, rank).sqrt();
  torch::Tensor b = u.slice(1, 0, rank) * root.view({1, -1});   // (out, rank)
  torch::Tensor a = vh.slice(0, 0, rank) * root.view({-1, 1});  // (rank, in)
  return {a.to(torch::kFloat32).contiguous(), b.to(torch::kFloat32).contiguous(), 1.0};
}

}  // namespace

MergeMethod merge_method_from_name(const std::string& name) {
  for (MergeMethod m : {MergeMethod::kLinear, MergeMethod::kCat, MergeMethod::kSvd,
                        MergeMethod::kTies, MergeMethod::kDareLinear, MergeMethod::kDareTies})
    if (name == merge_method_name(m)) return m;
  throw UsageError("unknown merge method '" + name +
                   "' (expected linear, cat, svd, ties, dare_linear or dare_ties)");
}

const char* merge_method_name(MergeMethod m) {
  switch (m) {
    case MergeMethod::kLinear:
      return "linear";
    case MergeMethod::kCat:
      return "cat";
    case MergeMethod::kSvd:
      return "svd";
    case MergeMethod::kTies:
      return "ties";
    case MergeMethod::kDareLinear:
      return "dare_linear";
    case MergeMethod::kDareTies:
      return "dare_ties";
  }
  return "?";
}

torch::Tensor dare_mask(std::uint64_t seed, const std::string& module, std::size_t index,
                        int64_t out, int64_t in, double density) {
  Rng rng = Rng(seed ^ fnv1a64(module)).fork(index + 1);
  torch::Tensor mask = torch::empty({out, in}, torch::kFloat64);
  double* m = mask.data_ptr<double>();
  for (int64_t e = 0; e < out * in; ++e) m[e] = rng.uniform() < density ? 1.0 : 0.0;
  return mask;
}

LoraPair merge_module(const std::vector<LoraPair>& adapters, const MergeOptions& options,
                      const std::string& module) {
  if (adapters.empty()) throw UsageError("merge: no adapters given");
  std::vector<double> w = options.weights;
  if (w.empty()) w.assign(adapters.size(), 1.0);
  if (w.size() != adapters.size())
    throw UsageError("merge: " + std::to_string(w.size()) + " weights for " +
                     std::to_string(adapters.size()) + " adapters");
  const int64_t out = adapters[0].b.size(0), in = adapters[0].a.size(1);
  int64_t max_rank = 0;
  for (const auto& p : adapters) {
    if (p.a.size(1) != in || p.b.size(0) != out)
      throw UsageError("merge: adapters of module '" + module + "' have different shapes");
    max_rank = std::max(max_rank, p.rank());
  }
  const MergeMethod method = options.method;
  if (method == MergeMethod::kCat) {
    std::vector<torch::Tensor> as, bs;
    for (size_t i = 0; i < adapters.size(); ++i) {
      as.push_back(adapters[i].a.to(torch::kFloat64) * (w[i] * adapters[i].scale));
      bs.push_back(adapters[i].b.to(torch::kFloat64));
    }
    return {torch::cat(as, 0).to(torch::kFloat32), torch::cat(bs, 1).to(torch::kFloat32), 1.0};
  }
  const bool dare = method == MergeMethod::kDareLinear || method == MergeMethod::kDareTies;
  const bool ties = method == MergeMethod::kTies || method == MergeMethod::kDareTies;
  if ((dare || ties) && !(options.density > 0.0 && options.density <= 1.0))
    throw UsageError("merge: density must be in (0, 1]");
  std::vector<torch::Tensor> deltas;
  for (size_t i = 0; i < adapters.size(); ++i) {
    torch::Tensor d = delta64(adapters[i]);  // (out, in)
    if (dare)
      d = d * dare_mask(options.seed, module, i, out, in, options.density) / options.density;
    else if (ties)
      d = trim(d, options.density);
    deltas.push_back(d);
  }
  torch::Tensor weights = torch::tensor(w, torch::kFloat64);
  torch::Tensor merged;
  if (ties) {
    merged = ties_combine(torch::stack(deltas), weights);
  } else {
    merged = torch::zeros({out, in}, torch::kFloat64);
    for (size_t i = 0; i < deltas.size(); ++i) merged += deltas[i] * w[i];
  }
  return factor(merged, options.rank > 0 ? options.rank : max_rank);
}

PeftAdapter merge_adapters(const std::vector<PeftAdapter>& adapters, const MergeOptions& options) {
  if (adapters.empty()) throw UsageError("merge: no adapters given");
  const auto& first = adapters[0];
  for (size_t i = 1; i < adapters.size(); ++i) {
    for (const auto& [path, ab] : adapters[i].modules) {
      auto it = first.modules.find(path);
      if (it == first.modules.end())
        throw UsageError("merge: adapter " + std::to_string(i + 1) + " has module '" + path +
                         "' that adapter 1 lacks");
      if (it->second[0].size(1) != ab[0].size(1) || it->second[1].size(0) != ab[1].size(0))
        throw UsageError("merge: module '" + path + "' has different shapes in adapters 1 and " +
                         std::to_string(i + 1));
    }
    if (adapters[i].modules.size() != first.modules.size())
      throw UsageError("merge: adapter " + std::to_string(i + 1) + " covers " +
                       std::to_string(adapters[i].modules.size()) + " modules, adapter 1 covers " +
                       std::to_string(first.modules.size()));
  }
  PeftAdapter out;
  out.task_type = first.task_type;
  out.base_model = first.base_model;
  out.fan_in_fan_out = first.fan_in_fan_out;
  out.modules_to_save = first.modules_to_save;
  out.saved = first.saved;
  out.config.dropout = first.config.dropout;
  std::set<std::string> targets;
  int64_t rank = 0;
  for (const auto& [path, ab] : first.modules) {
    std::vector<LoraPair> pairs;
    for (const auto& ad : adapters) {
      const auto& m = ad.modules.at(path);
      pairs.push_back({m[0], m[1], ad.scale()});
    }
    LoraPair merged = merge_module(pairs, options, path);
    rank = merged.rank();
    out.modules[path] = {merged.a, merged.b};
  }
  // A rank-deficient module could factor to fewer columns: pad with zeros so r is uniform.
  for (auto& [path, ab] : out.modules) rank = std::max(rank, ab[0].size(0));
  for (auto& [path, ab] : out.modules) {
    int64_t pad = rank - ab[0].size(0);
    if (pad > 0) {
      ab[0] = torch::cat({ab[0], torch::zeros({pad, ab[0].size(1)})}, 0);
      ab[1] = torch::cat({ab[1], torch::zeros({ab[1].size(0), pad})}, 1);
    }
  }
  for (const auto& ad : adapters)
    targets.insert(ad.config.target_modules.begin(), ad.config.target_modules.end());
  out.config.target_modules.assign(targets.begin(), targets.end());
  out.config.r = static_cast<int>(rank);
  out.config.alpha = static_cast<double>(rank);  // scale 1: the stored B A is the delta
  nlohmann::json inputs = nlohmann::json::array();
  for (const auto& ad : adapters) inputs.push_back(ad.metadata);
  out.metadata = {{"merge",
                   {{"method", merge_method_name(options.method)},
                    {"weights", options.weights},
                    {"density", options.density},
                    {"seed", options.seed},
                    {"inputs", inputs}}}};
  return out;
}

}  // namespace loid
