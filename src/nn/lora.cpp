// LoRA layer: base linear map frozen, adapters as named submodules, fold/unfold for inference.
#include "nn/lora.h"

#include <cmath>

#include "core/error.h"
#include "nn/dropout.h"
#include "nn/shape.h"

namespace loid {

namespace {

void check_name(const std::string& name) {
  if (name.empty() || name.find('.') != std::string::npos)
    throw UsageError("LoRA adapter name '" + name + "' must be non-empty and contain no '.'");
}

}  // namespace

torch::Tensor LoraPair::delta() const {
  return (b.to(torch::kFloat64).matmul(a.to(torch::kFloat64)) * scale).to(torch::kFloat32);
}

LoraLinearImpl::LoraLinearImpl(const torch::Tensor& w, const torch::Tensor& b) {
  if (w.dim() != 2) throw UsageError("LoraLinear: weight must be (out, in), got " + shape_str(w));
  if (b.defined() && (b.dim() != 1 || b.size(0) != w.size(0)))
    throw UsageError("LoraLinear: bias " + shape_str(b) + " does not match weight " + shape_str(w));
  weight = register_parameter("weight", w.detach().clone().to(torch::kFloat32), false);
  if (b.defined()) bias = register_parameter("bias", b.detach().clone().to(torch::kFloat32), false);
  lora_a_ = register_module("lora_A", std::make_shared<torch::nn::Module>());
  lora_b_ = register_module("lora_B", std::make_shared<torch::nn::Module>());
}

LoraLinearImpl::LoraLinearImpl(const torch::nn::Linear& linear)
    : LoraLinearImpl(linear->weight, linear->bias) {}

torch::Tensor& LoraLinearImpl::register_adapter(const std::string& name, const torch::Tensor& a,
                                                const torch::Tensor& b, bool trainable) {
  check_name(name);
  if (lora_a_->named_children().contains(name))
    throw UsageError("LoraLinear: adapter '" + name + "' already present");
  if (a.dim() != 2 || b.dim() != 2 || a.size(1) != in_features() || b.size(0) != out_features() ||
      b.size(1) != a.size(0))
    throw UsageError("LoraLinear: adapter '" + name + "' has A " + shape_str(a) + " and B " +
                     shape_str(b) + ", expected (r, " + std::to_string(in_features()) + ") and (" +
                     std::to_string(out_features()) + ", r)");
  auto ma = lora_a_->register_module(name, std::make_shared<torch::nn::Module>());
  auto mb = lora_b_->register_module(name, std::make_shared<torch::nn::Module>());
  // On the base weight's device: adapters added after the encoder moved to a GPU go there too.
  const auto on_base = torch::TensorOptions().dtype(torch::kFloat32).device(weight.device());
  ma->register_parameter("weight", a.detach().to(on_base, false, /*copy=*/true), trainable);
  return mb->register_parameter("weight", b.detach().to(on_base, false, /*copy=*/true), trainable);
}

torch::Tensor LoraLinearImpl::adapter_a(const std::string& name) const {
  return lora_a_->named_children()[name]->named_parameters(false)["weight"];
}
torch::Tensor LoraLinearImpl::adapter_b(const std::string& name) const {
  return lora_b_->named_children()[name]->named_parameters(false)["weight"];
}

void LoraLinearImpl::add_source(const std::string& name, const torch::Tensor& a,
                                const torch::Tensor& b, double scale) {
  if (folded_) throw UsageError("LoraLinear: unfold() before adding adapters");
  register_adapter(name, a, b, false);
  source_names_.push_back(name);
  source_scales_.push_back(scale);
}

void LoraLinearImpl::add_target(const std::string& name, const LoraConfig& config) {
  if (config.r <= 0) throw UsageError("LoRA rank r must be positive");
  torch::Tensor a = torch::empty({config.r, in_features()});
  {
    torch::NoGradGuard no_grad;
    // PEFT (like nn.Linear) uses kaiming_uniform_ with a = sqrt(5): U(-1/sqrt(in), 1/sqrt(in)).
    torch::nn::init::kaiming_uniform_(a, std::sqrt(5.0));
  }
  add_target(name, config, a, torch::zeros({out_features(), config.r}));
}

void LoraLinearImpl::add_target(const std::string& name, const LoraConfig& config,
                                const torch::Tensor& a, const torch::Tensor& b) {
  if (folded_) throw UsageError("LoraLinear: unfold() before adding adapters");
  if (has_target())
    throw UsageError("LoraLinear: target adapter '" + target_name_ + "' already present");
  if (a.dim() != 2 || a.size(0) != config.r)
    throw UsageError("LoraLinear: target A " + shape_str(a) +
                     " does not have rank r = " + std::to_string(config.r));
  register_adapter(name, a, b, true);
  target_name_ = name;
  target_config_ = config;
}

namespace {

// Under bfloat16 autocast (nn/precision.h) `linear` and `mm` return bfloat16 but the in-place
// addmm_ is not autocast: B is cast to the output's type (a no-op in float32).
torch::Tensor as_dtype_of(const torch::Tensor& like, const torch::Tensor& t) {
  return t.scalar_type() == like.scalar_type() ? t : t.to(like.scalar_type());
}

}  // namespace

torch::Tensor LoraLinearImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = torch::nn::functional::linear(x, weight, bias);  // (..., out)
  if (folded_ || (source_names_.empty() && !has_target())) return y;
  // Each adapter adds scale * (x A^T) B^T into y with one addmm on 2-D views: no (..., out)
  // temporaries for the product, the scaling or the sum. Without gradients in place (the
  // unmerged-inference cost that counts); with them out of place, because an in-place update of a
  // view costs a copy of the whole gradient in its backward (CopySlices).
  const bool in_place = !torch::GradMode::is_enabled();
  if (!y.is_contiguous()) y = y.contiguous();
  const torch::Tensor x2 = x.reshape({-1, in_features()});  // (N, in)
  torch::Tensor y2 = y.view({-1, out_features()});          // (N, out), shares y's storage
  auto add_product = [&](const torch::Tensor& h, const torch::Tensor& b, double scale) {
    const auto bt = as_dtype_of(y2, b).t();  // (r, out)
    if (in_place) {
      y2.addmm_(h, bt, /*beta=*/1, scale);
    } else {
      y2 = torch::addmm(y2, h, bt, /*beta=*/1, scale);
    }
  };
  for (size_t s = 0; s < source_names_.size(); ++s) {
    add_product(x2.mm(adapter_a(source_names_[s]).t()), adapter_b(source_names_[s]),
                source_scales_[s]);  // (N, r_s) -> (N, out)
  }
  if (has_target()) {
    // Dropout only while training; in eval mode x is used as it is (no copy).
    const torch::Tensor xd =
        is_training() ? fast_dropout(x2, target_config_.dropout) : x2;  // (N, in)
    add_product(xd.mm(adapter_a(target_name_).t()), adapter_b(target_name_),
                target_config_.scale());  // (N, r) -> (N, out)
  }
  if (in_place) return y;
  // y2 itself when it has y's shape: a view would turn a caller's in-place op (USE-Lite's relu_)
  // into a CopySlices in the backward.
  return y.dim() == 2 ? y2 : y2.view(y.sizes());
}

torch::Tensor LoraLinearImpl::folded_weight() const {
  const torch::Tensor& w0 = folded_ ? unfolded_weight_ : weight;
  // Summed in float64 so the folded weight is the exact sum rounded once.
  torch::Tensor w = w0.detach().to(torch::kFloat64);
  for (const auto& name : source_names_) {
    LoraPair p = source(name);
    w += p.b.to(torch::kFloat64).matmul(p.a.to(torch::kFloat64)) * p.scale;
  }
  if (has_target()) {
    LoraPair p = target();
    w += p.b.to(torch::kFloat64).matmul(p.a.to(torch::kFloat64)) * p.scale;
  }
  return w.to(torch::kFloat32);
}

void LoraLinearImpl::fold() {
  if (folded_) return;
  torch::NoGradGuard no_grad;
  torch::Tensor w = folded_weight();
  unfolded_weight_ = weight.detach().clone();
  weight.copy_(w);
  folded_ = true;
}

void LoraLinearImpl::unfold() {
  if (!folded_) return;
  torch::NoGradGuard no_grad;
  weight.copy_(unfolded_weight_);
  unfolded_weight_ = torch::Tensor();
  folded_ = false;
}

LoraPair LoraLinearImpl::source(const std::string& name) const {
  for (size_t s = 0; s < source_names_.size(); ++s)
    if (source_names_[s] == name)
      return {adapter_a(name).detach(), adapter_b(name).detach(), source_scales_[s]};
  throw UsageError("LoraLinear: no source adapter '" + name + "'");
}

LoraPair LoraLinearImpl::target() const {
  if (!has_target()) throw UsageError("LoraLinear: no target adapter");
  return {adapter_a(target_name_).detach(), adapter_b(target_name_).detach(),
          target_config_.scale()};
}

std::vector<torch::Tensor> LoraLinearImpl::target_parameters() const {
  if (!has_target()) return {};
  return {adapter_a(target_name_), adapter_b(target_name_)};
}

std::string peft_key(const std::string& module_path, char which) {
  if (which != 'A' && which != 'B') throw UsageError("peft_key: matrix must be 'A' or 'B'");
  return std::string(kPeftPrefix) + module_path + ".lora_" + which + ".weight";
}

std::vector<std::pair<std::string, std::shared_ptr<LoraLinearImpl>>> lora_layers(
    const torch::nn::Module& module) {
  std::vector<std::pair<std::string, std::shared_ptr<LoraLinearImpl>>> out;
  for (const auto& item : module.named_modules()) {
    auto layer = std::dynamic_pointer_cast<LoraLinearImpl>(item.value());
    if (layer) out.emplace_back(item.key(), layer);
  }
  return out;
}

std::vector<torch::Tensor> trainable_parameters(const torch::nn::Module& module) {
  std::vector<torch::Tensor> out;
  for (const auto& [path, layer] : lora_layers(module))
    for (const auto& p : layer->target_parameters()) out.push_back(p);
  return out;
}

}  // namespace loid
