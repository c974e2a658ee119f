#pragma once
#include <torch/torch.h>

#include <string>
#include <type_traits>

#include "core/data_parallel.hpp"

namespace nascent {

// Training-free predictors need to see inside a network: the inputs of its nonlinearities
// (NASWOT), the outputs of its weighted layers (Fisher), its hidden states (hidden covariance)
// and a way to bypass normalisation (synflow). LibTorch has no module hooks, so networks call the
// probe functions below at those points; they cost a thread-local null check when no predictor
// listens. Every built-in space uses them; a plugin space that does not still gets every
// predictor that needs only parameters, inputs and outputs, and a clear error from the others.
class ProbeListener {
 public:
  virtual ~ProbeListener() = default;
  // `x` is about to go through a ReLU-family nonlinearity.
  virtual void nonlinearity_input(const torch::Tensor& x) {}
  // `y` is the output of the convolution or linear layer whose weight is `weight`. Returning a
  // different tensor (e.g. one that retains its gradient) replaces it in the forward pass.
  virtual torch::Tensor weighted_output(const torch::Tensor& weight, const torch::Tensor& y) { return y; }
  // A hidden state of the network, in forward order. `unit_dim` indexes its units: channels of
  // an N x C x H x W map (1), features of an N x T x H token sequence (2).
  virtual void hidden_state(const std::string& name, const torch::Tensor& h, std::int64_t unit_dim) {}
  // Transformers: `y` is the output of an attention head projection (query, key, value or a
  // convolution head's input), batch x length x width; `p` are attention probabilities,
  // batch x heads x length x length. The transformer metrics (head confidence) read them.
  virtual void head_projection(const torch::Tensor& y) {}
  virtual void attention_probabilities(const torch::Tensor& p) {}
  // When true, probe_norm is the identity (synflow scores the network without normalisation).
  bool bypass_normalisation = false;
};

// Installs a listener on the calling thread for the scope's lifetime.
class ProbeScope {
 public:
  explicit ProbeScope(ProbeListener& listener);
  ~ProbeScope();
  ProbeScope(const ProbeScope&) = delete;
  ProbeScope& operator=(const ProbeScope&) = delete;

 private:
  ProbeListener* previous_;
};

ProbeListener* current_probe();

// Instrumented building blocks: identical to the plain LibTorch calls when nothing listens.
torch::Tensor probe_relu(const torch::Tensor& x);
torch::Tensor probe_leaky_relu(const torch::Tensor& x, double slope);
torch::Tensor probe_conv(torch::nn::Conv2d& conv, const torch::Tensor& x);
torch::Tensor probe_linear(torch::nn::Linear& linear, const torch::Tensor& x);
// Nonlinearities other than the ReLU family (GELU, h-swish): listeners see their input as they see
// a ReLU's (NASWOT reads the sign pattern, which is where these bend).
torch::Tensor probe_gelu(const torch::Tensor& x);
void probe_activation(const torch::Tensor& x);
// The output `y` of a weighted layer computed functionally, from `weight` (sliced or shared weights
// of a supernet): what probe_conv and probe_linear report.
torch::Tensor probe_weighted(const torch::Tensor& weight, const torch::Tensor& y);
// BatchNorm, LayerNorm, ...: pass the module's forward; skipped when normalisation is bypassed.
// A BatchNorm2d training inside a DataParallelScope normalises over the whole batch.
template <typename Norm>
torch::Tensor probe_norm(Norm& norm, const torch::Tensor& x) {
  ProbeListener* listener = current_probe();
  if (listener && listener->bypass_normalisation) return x;
  if constexpr (std::is_same_v<Norm, torch::nn::BatchNorm2d>) {
    if (DataParallel* group = active_data_parallel(); group && norm->is_training()) return synchronised_batch_norm(norm, x, *group);
  }
  return norm->forward(x);
}
void probe_hidden(const std::string& name, const torch::Tensor& h, std::int64_t unit_dim = 1);
// A head projection's output (reported as probe_linear's output too) and attention probabilities.
torch::Tensor probe_head(torch::nn::Linear& linear, const torch::Tensor& x);
void probe_attention(const torch::Tensor& probabilities);

// The module forms, for networks assembled from torch::nn::Sequential.
class ProbedReLUImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x) { return probe_relu(x); }
};
TORCH_MODULE(ProbedReLU);

}  // namespace nascent
