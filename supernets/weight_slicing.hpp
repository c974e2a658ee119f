#pragma once
// Helpers shared by the weight-sharing supernets: copying a supernet's leading slices into a
// standalone sub-network, and counting multiply-accumulates while a module runs.
#include <torch/torch.h>

#include <functional>
#include <string>

#include "core/error.hpp"

namespace nascent {

// Copies `from` into `to`, which must already have its shape (`who` names the caller in the error).
inline void copy_exact(torch::Tensor& to, const torch::Tensor& from, const std::string& who) {
  if (to.sizes() != from.sizes()) throw Error(who + ": shape mismatch (was the supernet built for this space?)");
  torch::NoGradGuard no_grad;
  to.copy_(from);
}

// The first channels of a batch or layer norm: affine parameters and, where kept, running statistics.
template <typename Norm>
void copy_leading_channels(Norm& to, Norm& from, const std::string& who) {
  const std::int64_t c = to->weight.size(0);
  copy_exact(to->weight, from->weight.slice(0, 0, c), who);
  copy_exact(to->bias, from->bias.slice(0, 0, c), who);
  if constexpr (std::is_same_v<Norm, torch::nn::BatchNorm2d>) {
    copy_exact(to->running_mean, from->running_mean.slice(0, 0, c), who);
    copy_exact(to->running_var, from->running_var.slice(0, 0, c), who);
  }
}

// Runs `forward` once in eval mode without gradients while `counter` points at a fresh total, and
// returns the total; the module's mode is restored and `counter` cleared, also when it throws.
inline double count_macs(torch::nn::Module& module, double*& counter, const std::function<void()>& forward) {
  torch::NoGradGuard no_grad;
  const bool was_training = module.is_training();
  module.eval();
  double macs = 0;
  counter = &macs;
  struct Restore {
    torch::nn::Module& module;
    double*& counter;
    bool training;
    ~Restore() {
      counter = nullptr;
      module.train(training);
    }
  } restore{module, counter, was_training};
  forward();
  return macs;
}

}  // namespace nascent
