#pragma once
#include <optional>

#include "core/probe.hpp"
#include "predictors/predictor.hpp"

namespace nascent {

struct HiddenState {
  std::string name;
  torch::Tensor value;  // detached
  std::int64_t unit_dim = 1;
};

// One forward and loss backward in train mode, with everything the gradient-based proxies need.
struct LossPass {
  std::vector<torch::Tensor> weights;    // conv / linear weights
  std::vector<torch::Tensor> gradients;  // dL/dW, zeros where a weight got no gradient
  double fisher = 0;
  bool saw_weighted_output = false;
  torch::Tensor activation_kernel;       // NASWOT's K (N x N, float64); undefined without probed ReLUs
  std::vector<HiddenState> hidden;
};

struct PassCache {
  std::optional<LossPass> loss_pass;
  torch::Tensor input_jacobian;  // N x (input features): d sum(outputs) / d inputs
};

const LossPass& loss_pass(const ScoreInput& input);
const torch::Tensor& input_jacobian(const ScoreInput& input);

}  // namespace nascent
