// Review-rating regression on text vectors through LoRA-adapted encoders (see text_regressor.h).
#include "train/text_regressor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"
#include "eval/metrics.h"
#include "nn/device.h"
#include "nn/dropout.h"
#include "nn/encode.h"
#include "nn/lora.h"
#include "nn/tensor_util.h"
#include "train/distributed.h"

namespace loid {

namespace {

// Batches of similar text length: shuffle, cut into chunks of 16 batches, sort each chunk by
// length, cut into batches, shuffle the batches. Same order for the same rng state.
std::vector<std::vector<std::int64_t>> bucketed_batches(const std::vector<std::string>& texts,
                                                        std::int64_t batch_size, Rng& rng) {
  std::vector<std::int64_t> order(texts.size());
  std::iota(order.begin(), order.end(), 0);
  shuffle(order, rng);
  const std::size_t chunk = static_cast<std::size_t>(batch_size) * 16;
  for (std::size_t s = 0; s < order.size(); s += chunk) {
    const auto e = std::min(order.size(), s + chunk);
    std::stable_sort(order.begin() + s, order.begin() + e, [&](std::int64_t a, std::int64_t b) {
      return texts[a].size() < texts[b].size();
    });
  }
  std::vector<std::vector<std::int64_t>> batches;
  for (std::size_t s = 0; s < order.size(); s += static_cast<std::size_t>(batch_size)) {
    const auto e = std::min(order.size(), s + static_cast<std::size_t>(batch_size));
    batches.emplace_back(order.begin() + s, order.begin() + e);
  }
  shuffle(batches, rng);
  return batches;
}

double mse(const std::vector<float>& p, const std::vector<float>& t) {
  return rating_metrics(p, t).mse;
}

}  // namespace

std::vector<float> predict_ratings(Encoder& encoder, RatingHead& head,
                                   const std::vector<std::string>& texts, std::int64_t batch_size,
                                   bool progress, ComputeDtype dtype) {
  torch::NoGradGuard no_grad;
  const bool encoder_training = encoder.module().is_training();
  const bool head_training = head->is_training();
  encoder.module().eval();
  head->eval();
  EncodeOptions eo;
  eo.batch_size = batch_size;
  eo.progress = progress;
  eo.dtype = dtype;
  eo.fold_adapters = true;  // unfolded again before training goes on
  // Sharded over the ranks of a job (train/distributed.h); every rank gets every vector.
  const torch::Tensor vectors = encode_texts_sharded(encoder, texts, eo);  // (N, D) on the CPU
  std::vector<float> out;
  if (!texts.empty()) {
    const torch::Tensor pred = head->forward(vectors.to(module_device(*head)))
                                   .clamp(1.0, 5.0)
                                   .to(torch::kCPU)
                                   .contiguous();  // (N)
    out.assign(pred.data_ptr<float>(), pred.data_ptr<float>() + pred.numel());
  }
  encoder.module().train(encoder_training);
  head->train(head_training);
  return out;
}

TextRegressorResult train_text_regressor(Encoder& encoder, RatingHead& head,
                                         const std::vector<std::string>& train_texts,
                                         const std::vector<float>& train_ratings,
                                         const std::vector<std::string>& validation_texts,
                                         const std::vector<float>& validation_ratings,
                                         const TextRegressorOptions& o) {
  if (train_texts.size() != train_ratings.size() ||
      validation_texts.size() != validation_ratings.size())
    throw UsageError("text regressor: texts and ratings differ in length");
  if (train_texts.empty()) throw UsageError("text regressor: no training reviews");
  if (validation_texts.empty()) throw UsageError("text regressor: no validation reviews");
  if (o.batch_size <= 0 || o.epochs < 0 || o.learning_rate <= 0)
    throw UsageError("text regressor: batch size and learning rate must be positive");

  // The head joins the encoder on its device (the CPU, or the GPU of --device) before the
  // optimiser sees its parameters, so that Adam's state is made there too.
  const torch::Device device = module_device(encoder.module());
  head->to(device);
  // Only the LoRA targets and the head learn; everything else needs no gradient at all.
  for (auto& p : encoder.module().parameters()) p.requires_grad_(false);
  std::vector<torch::Tensor> params = trainable_parameters(encoder.module());
  if (params.empty())
    throw UsageError("text regressor: the encoder has no trainable LoRA target (inject_lora)");
  for (auto& p : params) p.requires_grad_(true);
  for (auto& p : head->parameters()) params.push_back(p);

  torch::optim::Adam optimizer(
      params, torch::optim::AdamOptions(o.learning_rate).weight_decay(o.weight_decay));

  Distributed& dist = distributed();
  TextRegressorResult result;
  // In a job every rank takes rank 0's validation figures, so that all stop alike
  // (train/distributed.h).
  result.initial_validation_mse = dist.same_everywhere(mse(
      predict_ratings(encoder, head, validation_texts, 64, false, o.dtype), validation_ratings));
  result.best_validation_mse = result.initial_validation_mse;
  log_info("validation MSE before training: " + std::to_string(result.initial_validation_mse));
  std::vector<torch::Tensor> best = snapshot_params(params);
  int since_best = 0;
  // Tokenized once for all epochs; each step pads its rows.
  const std::vector<TokenIds> train_ids = encoder.token_ids(train_texts);
  Rng order_rng = Rng(o.seed).fork(0x72656c6f7261ULL);  // "relora"
  const bool check_ranks = check_ranks_each_step();
  if (dist.active() && o.batch_size < dist.world())
    throw UsageError("text regressor: the batch size (" + std::to_string(o.batch_size) +
                     ") must be at least the number of processes (" + std::to_string(dist.world()) +
                     ")");

  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    torch::manual_seed(o.seed * 1000003ULL + static_cast<std::uint64_t>(epoch));
    encoder.module().train();
    head->train();
    auto batches = bucketed_batches(train_texts, o.batch_size, order_rng);
    if (o.max_steps > 0 && static_cast<std::int64_t>(batches.size()) > o.max_steps)
      batches.resize(static_cast<std::size_t>(o.max_steps));
    Progress progress("epoch " + std::to_string(epoch), static_cast<std::int64_t>(batches.size()),
                      o.progress);
    double loss_sum = 0.0;
    std::int64_t done = 0;
    const double collective_before = dist.collective_seconds();
    for (const auto& batch : batches) {
      std::vector<TokenIds> rows;
      std::vector<float> ratings;
      rows.reserve(batch.size());
      for (std::int64_t r : batch) {
        rows.push_back(train_ids[static_cast<std::size_t>(r)]);
        ratings.push_back(train_ratings[r]);
      }
      const torch::Tensor target = torch::tensor(ratings, torch::kFloat32).to(device);  // (b)
      optimizer.zero_grad();
      double l = 0.0;
      if (!dist.active()) {
        torch::Tensor loss;
        {
          // One autocast scope per step (forward and loss only; see nn/precision.h).
          ComputeDtypeScope scope(o.dtype);
          const torch::Tensor vectors = encoder.forward(encoder.pad(rows)).vectors;
          loss = torch::mse_loss(head->forward(vectors).to(torch::kFloat32), target);
        }
        loss.backward();
        l = loss.item<double>();
      } else {
        // This rank's rows of the global batch (see train/distributed.h): squared errors summed
        // and divided by the global batch size; dropout masks cut from the global batch's.
        const auto b = static_cast<std::int64_t>(rows.size());
        auto [lo, hi] = dist.shard(b);
        // Fewer rows than ranks (a short last batch): every rank runs them all, so the random
        // draws stay in step, and rank 0's copy alone counts.
        const bool replicate = b < dist.world();
        if (replicate) lo = 0, hi = b;
        const double weight = replicate && !dist.main() ? 0.0 : 1.0;
        std::int64_t tokens_before = 0, tokens = 0;
        std::size_t longest = 1;
        for (std::int64_t j = 0; j < b; ++j) {
          const auto len = static_cast<std::int64_t>(rows[static_cast<std::size_t>(j)].size());
          if (j < lo) tokens_before += len;
          if (j >= lo && j < hi) tokens += len;
          longest = std::max(longest, rows[static_cast<std::size_t>(j)].size());
        }
        const std::vector<TokenIds> mine(rows.begin() + lo, rows.begin() + hi);
        torch::Tensor squared;
        {
          // Packed per-token layers see the rows' real tokens; padded ones (B * T) rows, padded
          // to the global batch's longest below.
          const BatchRowsScope slice(b, lo, hi - lo, encoder.packs_tokens() ? tokens_before : 0,
                                     encoder.packs_tokens() ? tokens : -1);
          ComputeDtypeScope scope(o.dtype);
          const torch::Tensor vectors = encoder.forward(encoder.pad(mine, longest)).vectors;
          squared = (head->forward(vectors).to(torch::kFloat32) - target.narrow(0, lo, hi - lo))
                        .pow(2)
                        .sum();
        }
        (squared * (weight / static_cast<double>(b))).backward();
        dist.allreduce_gradients(params);
        l = dist.sum(weight * squared.item<double>(), "the loss sum") / static_cast<double>(b);
        if (check_ranks) {
          const double d = dist.max_parameter_difference(params);
          if (d != 0.0)
            throw Error("distributed: the ranks' parameters differ by " + std::to_string(d) +
                        " before Re-LoRA step " + std::to_string(result.steps + 1));
        }
      }
      optimizer.step();
      if (!std::isfinite(l))
        throw Error("training diverged (loss " + std::to_string(l) +
                    "); try a lower learning rate");
      loss_sum += l;
      ++result.steps;
      ++done;
      char note[48];
      std::snprintf(note, sizeof note, "loss %.4f", loss_sum / static_cast<double>(done));
      progress.advance(1, note);
    }
    progress.finish();
    if (dist.active()) {
      char line[160];
      std::snprintf(line, sizeof line,
                    "epoch %d: %zu steps on %d processes, %.1f ms a step in collectives (%lld "
                    "calls so far, %.1f s)",
                    epoch, batches.size(), dist.world(),
                    batches.empty() ? 0.0
                                    : 1000.0 * (dist.collective_seconds() - collective_before) /
                                          static_cast<double>(batches.size()),
                    static_cast<long long>(dist.collective_calls()), dist.collective_seconds());
      log_info(line);
    }
    EpochRecord rec;
    rec.epoch = epoch;
    rec.train_loss = batches.empty() ? 0.0 : loss_sum / static_cast<double>(batches.size());
    rec.validation_mse = dist.same_everywhere(mse(
        predict_ratings(encoder, head, validation_texts, 64, false, o.dtype), validation_ratings));
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.curve.push_back(rec);
    log_info("epoch " + std::to_string(epoch) + ": train MSE " + std::to_string(rec.train_loss) +
             ", validation MSE " + std::to_string(rec.validation_mse) + " (" +
             format_duration(rec.seconds) + ")");
    if (rec.validation_mse < result.best_validation_mse) {
      result.best_validation_mse = rec.validation_mse;
      result.best_epoch = epoch;
      best = snapshot_params(params);
      since_best = 0;
    } else if (++since_best >= o.patience) {
      break;
    }
  }
  restore_params(params, best);
  encoder.module().eval();
  head->eval();
  return result;
}

}  // namespace loid
