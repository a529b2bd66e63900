// The training loop, grid and helpers of the ID baselines (see id_model.h).
#include "rec/id_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"
#include "eval/metrics.h"
#include "nn/tensor_util.h"

namespace loid {

torch::nn::Embedding id_table(std::int64_t n, std::int64_t d, double stddev) {
  torch::nn::Embedding e(std::max<std::int64_t>(n, 1), d);
  torch::NoGradGuard no_grad;
  if (stddev > 0)
    e->weight.normal_(0.0, stddev);
  else
    e->weight.zero_();
  return e;
}

RowTensors row_tensors(const RatingRows& rows) {
  RowTensors t;
  t.users = torch::tensor(rows.user, torch::kInt64);
  t.items = torch::tensor(rows.item, torch::kInt64);
  t.ratings = torch::tensor(rows.rating, torch::kFloat32);
  if (rows.size() == 0) {
    t.users = torch::zeros({0}, torch::kInt64);
    t.items = torch::zeros({0}, torch::kInt64);
    t.ratings = torch::zeros({0}, torch::kFloat32);
  }
  return t;
}

const std::vector<std::string>& id_baseline_names() {
  static const std::vector<std::string> names = {"alfm", "bigi", "rgcl"};
  return names;
}

bool is_id_baseline(const std::string& model) {
  const auto& n = id_baseline_names();
  return std::find(n.begin(), n.end(), model) != n.end();
}

torch::Tensor scatter_sum(const torch::Tensor& messages, const torch::Tensor& index,
                          std::int64_t n) {
  return torch::zeros({n, messages.size(1)}, messages.options()).index_add(0, index, messages);
}

torch::Tensor all_but(std::int64_t n, const torch::Tensor& drop) {
  torch::Tensor keep = torch::ones({n}, torch::kBool);
  if (drop.numel() > 0) keep.index_fill_(0, drop, false);
  return keep.nonzero().squeeze(1);
}

std::vector<float> predict_rows(IdRatingModelImpl& model, const RowTensors& rows) {
  if (rows.size() == 0) return {};
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const torch::Tensor p = model.predict(rows.users, rows.items).clamp(1.0, 5.0).contiguous();
  model.train(was_training);
  return std::vector<float>(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
}

IdFitResult fit_id_model(IdRatingModelImpl& model, const RowTensors& train,
                         const RowTensors& validation, const IdTrainOptions& o) {
  if (o.learning_rate <= 0 || o.weight_decay < 0 || o.batch_size < 1 || o.max_epochs < 1 ||
      o.patience < 1)
    throw UsageError(o.name +
                     ": invalid training options (learning rate, batch size, epochs and patience "
                     "must be positive, weight decay not negative)");
  if (train.size() == 0) throw UsageError(o.name + ": no training rows");
  if (validation.size() == 0) throw UsageError(o.name + ": no validation rows");
  const std::vector<float> val_truth = to_float_vector(validation.ratings);
  const std::vector<torch::Tensor> params = model.parameters();
  torch::optim::Adam optimizer(
      params, torch::optim::AdamOptions(o.learning_rate).weight_decay(o.weight_decay));
  IdFitResult result;
  result.best_validation_mse = rating_metrics(predict_rows(model, validation), val_truth).mse;
  std::vector<torch::Tensor> best = snapshot_params(params);
  Rng order_rng = Rng(o.seed).fork(0x69646d6f64ULL);  // "idmod"
  std::vector<std::int64_t> order(static_cast<std::size_t>(train.size()));
  std::iota(order.begin(), order.end(), 0);
  int since_best = 0;
  for (int epoch = 1; epoch <= o.max_epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    torch::manual_seed(o.seed * 1000003ULL + static_cast<std::uint64_t>(epoch));
    model.train();
    shuffle(order, order_rng);
    const auto steps = (train.size() + o.batch_size - 1) / o.batch_size;
    Progress progress(o.name + " epoch " + std::to_string(epoch), steps, o.progress);
    double loss_sum = 0.0;
    for (std::int64_t s = 0; s < steps; ++s) {
      const auto b = static_cast<std::ptrdiff_t>(s * o.batch_size);
      const auto e = static_cast<std::ptrdiff_t>(std::min(train.size(), (s + 1) * o.batch_size));
      const torch::Tensor rows =
          torch::tensor(std::vector<std::int64_t>(order.begin() + b, order.begin() + e));
      optimizer.zero_grad();
      auto [pred, aux] = model.train_forward(rows);
      const torch::Tensor loss = torch::mse_loss(pred, train.ratings.index_select(0, rows)) + aux;
      loss.backward();
      optimizer.step();
      const double l = loss.item<double>();
      if (!std::isfinite(l))
        throw Error(o.name + ": training diverged (loss " + std::to_string(l) +
                    "); try a lower learning rate");
      loss_sum += l;
      progress.advance(1);
    }
    progress.finish();
    result.epoch_losses.push_back(loss_sum / static_cast<double>(std::max<std::int64_t>(steps, 1)));
    const double val = rating_metrics(predict_rows(model, validation), val_truth).mse;
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    log_info(o.name + " epoch " + std::to_string(epoch) + ": training loss " +
             std::to_string(result.epoch_losses.back()) + ", validation MSE " +
             std::to_string(val) + " (" + format_duration(secs) + ")");
    if (val < result.best_validation_mse) {
      result.best_validation_mse = val;
      result.best_epoch = epoch;
      best = snapshot_params(params);
      since_best = 0;
    } else if (++since_best >= o.patience) {
      break;
    }
  }
  restore_params(params, best);
  return result;
}

IdBaselineResult fit_id_grid(const IdModelFactory& make, const Dataset& dataset, const Split& split,
                             const std::vector<std::int64_t>& dims,
                             const std::vector<double>& weight_decays, IdTrainOptions options) {
  const auto start = std::chrono::steady_clock::now();
  if (dims.empty() || weight_decays.empty())
    throw UsageError(options.name + ": the validation grid (sizes, weight decays) is empty");
  for (std::int64_t d : dims)
    if (d < 1)
      throw UsageError(options.name + ": sizes must be positive, got " + std::to_string(d));
  for (double w : weight_decays)
    if (!(w >= 0)) throw UsageError(options.name + ": weight decays must not be negative");
  if (split.train.empty()) throw UsageError(options.name + ": no training reviews");
  if (split.validation.empty()) throw UsageError(options.name + ": no validation reviews");
  const RowTensors train = row_tensors(rating_rows(dataset, split.train));
  const RowTensors validation = row_tensors(rating_rows(dataset, split.validation));
  IdBaselineResult out;
  std::shared_ptr<IdRatingModelImpl> best;
  double best_mse = std::numeric_limits<double>::infinity();
  const std::string name = options.name;
  for (std::int64_t d : dims) {
    for (double w : weight_decays) {
      IdGridPoint point{d, w};
      torch::manual_seed(options.seed);
      std::shared_ptr<IdRatingModelImpl> model = make(point);
      options.weight_decay = options.grid_decay_in_adam ? w : 0.0;
      char label[96];
      std::snprintf(label, sizeof label, " (size %lld, weight decay %g)", static_cast<long long>(d),
                    w);
      options.name = name + label;
      const IdFitResult fit = fit_id_model(*model, train, validation, options);
      log_info(options.name + ": best epoch " + std::to_string(fit.best_epoch) +
               ", validation MSE " + std::to_string(fit.best_validation_mse));
      if (fit.best_validation_mse < best_mse) {
        best_mse = fit.best_validation_mse;
        best = model;
        out.chosen = point;
        out.fit = fit;
      }
    }
  }
  out.validation_predictions = predict_rows(*best, validation);
  // The test rows are read here, once, by the chosen model.
  out.test_predictions = predict_rows(*best, row_tensors(rating_rows(dataset, split.test)));
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace loid
