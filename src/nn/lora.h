// LoRA adapter layer: a frozen linear map plus a stack of low-rank adapters (frozen "source"
// plugins with per-source scales and at most one trainable "target"), as Re-LoRA needs.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace loid {

// Hyper-parameters of one trainable adapter (PEFT's LoraConfig subset we use).
struct LoraConfig {
  int r = 32;                               // rank of A (r x in) and B (out x r)
  double alpha = 32;                        // lora_alpha; the delta is scaled by alpha / r
  double dropout = 0.1;                     // dropout on the adapter's input while training
  std::vector<std::string> target_modules;  // module-name patterns to inject into (PEFT's list)
  double scale() const { return alpha / r; }
};

// One adapter's weights: delta W = scale * B A.
struct LoraPair {
  torch::Tensor a;     // (r, in)
  torch::Tensor b;     // (out, r)
  double scale = 1.0;  // multiplies B A (alpha / r for a trained adapter, user scale for a source)
  int64_t rank() const { return a.size(0); }
  torch::Tensor delta() const;  // (out, in) = scale * B A, float32
};

// Drop-in replacement for a torch::nn::Linear at module path P: the base parameters keep the names
// "weight" and "bias" (so "P.weight" stays the HF name) and are frozen. Adapters are submodules
// named as in PEFT's memory layout: "lora_A.<adapter>.weight" (r, in) and "lora_B.<adapter>.weight"
// (out, r). peft_key() maps these to the file names.
//   y = x W^T + b + sum_s scale_s (x A_s^T) B_s^T + (alpha/r) (dropout(x) A_t^T) B_t^T
class LoraLinearImpl : public torch::nn::Module {
 public:
  // Copies weight (out, in) and bias (out) or an undefined bias; both frozen.
  LoraLinearImpl(const torch::Tensor& weight, const torch::Tensor& bias);
  // Wraps an existing Linear (copies its weight and bias).
  explicit LoraLinearImpl(const torch::nn::Linear& linear);

  // Adds a frozen source adapter (a: (r, in), b: (out, r)); its delta is scale * B A.
  void add_source(const std::string& name, const torch::Tensor& a, const torch::Tensor& b,
                  double scale);
  // Adds the trainable target adapter, initialised like PEFT: A kaiming_uniform_(a = sqrt(5)),
  // B zeros, so the layer's output is unchanged. Throws UsageError if a target exists.
  void add_target(const std::string& name, const LoraConfig& config);
  // Adds a target adapter with given weights (e.g. loaded to continue training).
  void add_target(const std::string& name, const LoraConfig& config, const torch::Tensor& a,
                  const torch::Tensor& b);

  torch::Tensor forward(const torch::Tensor& x);  // x (..., in) -> (..., out)

  // Folds every adapter into the base weight for zero-overhead inference; exact and reversible:
  // unfold() restores the bit-identical original weight. Adapters are skipped while folded.
  void fold();
  void unfold();
  bool folded() const { return folded_; }
  // True when forward() is the base map alone (no adapters, or all folded into the weight).
  bool plain() const { return folded_ || (source_names_.empty() && !has_target()); }
  // W + sum of all deltas, without changing the layer (for writing a folded checkpoint).
  torch::Tensor folded_weight() const;

  int64_t in_features() const { return weight.size(1); }
  int64_t out_features() const { return weight.size(0); }
  const std::vector<std::string>& sources() const { return source_names_; }
  LoraPair source(const std::string& name) const;  // throws UsageError if absent
  bool has_target() const { return !target_name_.empty(); }
  const std::string& target_name() const { return target_name_; }
  const LoraConfig& target_config() const { return target_config_; }
  LoraPair target() const;                               // throws UsageError if there is none
  std::vector<torch::Tensor> target_parameters() const;  // {A_t, B_t} or empty

  torch::Tensor weight;  // (out, in), frozen
  torch::Tensor bias;    // (out) or undefined, frozen

 private:
  torch::Tensor& register_adapter(const std::string& name, const torch::Tensor& a,
                                  const torch::Tensor& b, bool trainable);
  torch::Tensor adapter_a(const std::string& name) const;
  torch::Tensor adapter_b(const std::string& name) const;

  std::shared_ptr<torch::nn::Module> lora_a_;  // children: one per adapter, each with "weight"
  std::shared_ptr<torch::nn::Module> lora_b_;
  std::vector<std::string> source_names_;
  std::vector<double> source_scales_;
  std::string target_name_;
  LoraConfig target_config_;
  bool folded_ = false;
  torch::Tensor unfolded_weight_;  // the original weight while folded
};
TORCH_MODULE(LoraLinear);

// The one mapping between our adapter parameters and PEFT file keys: module path P and which
// matrix ("A" or "B") -> "base_model.model.P.lora_A.weight". PEFT drops the adapter name on save.
std::string peft_key(const std::string& module_path, char which);
constexpr const char* kPeftPrefix = "base_model.model.";

// Only the trainable adapter parameters (every LoraLinear's target A and B) under `module`, in
// named_modules order: what the optimizer should see (plus the task head, added by the caller).
std::vector<torch::Tensor> trainable_parameters(const torch::nn::Module& module);

// Every LoraLinear under `module` with its path ("encoder.layer.0.attention.self.query").
std::vector<std::pair<std::string, std::shared_ptr<LoraLinearImpl>>> lora_layers(
    const torch::nn::Module& module);

}  // namespace loid
