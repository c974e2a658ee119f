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

// One forward of a transformer encoder on token ids and a backward of its summed last hidden
// state (the transformer metrics' pass, BERT_metrics.ipynb), reduced to what each metric sums:
// a total and the number of layers or hooks it summed over (the normalised variants divide).
struct TransformerPass {
  struct Sum {
    double total = 0;
    int count = 0;
    void add(double value) { total += value, ++count; }
  };
  Sum head_confidence, softmax_confidence, activation_distance, synaptic_diversity, synaptic_saliency,
      head_importance;
  torch::Tensor position_gradient;  // length x width: the gradient of a position embedding
};

struct PassCache {
  std::optional<LossPass> loss_pass;
  std::optional<TransformerPass> transformer_pass;
  torch::Tensor input_jacobian;  // N x (input features): d sum(outputs) / d inputs
};

const LossPass& loss_pass(const ScoreInput& input);
const torch::Tensor& input_jacobian(const ScoreInput& input);

}  // namespace nascent
