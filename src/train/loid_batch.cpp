// LoID input tensors and batched prediction (see loid_batch.h).
#include "train/loid_batch.h"

#include <algorithm>

namespace loid {

namespace {

void gather(const std::vector<std::int64_t>& ids, std::size_t rows, std::size_t k,
            const torch::Tensor& vectors, torch::Tensor& text, torch::Tensor& mask) {
  std::vector<std::int64_t> index(ids.size());
  std::vector<float> m(ids.size());
  for (std::size_t j = 0; j < ids.size(); ++j) {
    index[j] = ids[j] < 0 ? 0 : ids[j];
    m[j] = ids[j] < 0 ? 0.0f : 1.0f;
  }
  const auto n = static_cast<std::int64_t>(rows), kk = static_cast<std::int64_t>(k);
  const auto on = vectors.device();
  text = vectors.index_select(0, torch::tensor(index, torch::kInt64).to(on)).view({n, kk, -1});
  mask = torch::tensor(m, torch::kFloat32).view({n, kk}).to(on);  // (n, k)
}

}  // namespace

LoidInputs make_inputs(const std::vector<std::int64_t>& users,
                       const std::vector<std::int64_t>& items, const ContextBatch& contexts,
                       const torch::Tensor& vectors) {
  LoidInputs in;
  in.users = torch::tensor(users, torch::kInt64).to(vectors.device());  // (n)
  in.items = torch::tensor(items, torch::kInt64).to(vectors.device());  // (n)
  gather(contexts.user, users.size(), contexts.k, vectors, in.user_text, in.user_mask);
  gather(contexts.item, items.size(), contexts.k, vectors, in.item_text, in.item_mask);
  return in;
}

std::vector<float> predict_rows(LoidModel& model, const ContextSampler& sampler,
                                const std::vector<std::int64_t>& users,
                                const std::vector<std::int64_t>& items,
                                const torch::Tensor& vectors, std::uint64_t context_seed,
                                std::int64_t batch_size, bool clamp) {
  torch::NoGradGuard no_grad;
  // Toggled only when needed: serving calls this from several threads on a model in eval mode.
  const bool training = model->is_training();
  if (training) model->eval();
  std::vector<float> out;
  out.reserve(users.size());
  for (std::size_t s = 0; s < users.size(); s += static_cast<std::size_t>(batch_size)) {
    const std::size_t e = std::min(users.size(), s + static_cast<std::size_t>(batch_size));
    std::vector<std::int64_t> u(users.begin() + s, users.begin() + e);
    std::vector<std::int64_t> i(items.begin() + s, items.begin() + e);
    const LoidInputs in = make_inputs(u, i, sampler.evaluation(u, i, context_seed), vectors);
    auto pred =
        model->forward(in.users, in.items, in.user_text, in.user_mask, in.item_text, in.item_mask)
            .prediction;
    if (clamp) pred = pred.clamp(1.0, 5.0);
    pred = pred.to(torch::kCPU).contiguous();
    out.insert(out.end(), pred.data_ptr<float>(), pred.data_ptr<float>() + pred.numel());
  }
  if (training) model->train(true);
  return out;
}

}  // namespace loid
