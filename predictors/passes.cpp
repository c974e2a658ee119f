#include "predictors/passes.hpp"


namespace nascent {

namespace {

// Listens to the loss pass: binary ReLU codes for NASWOT, conv/linear outputs whose gradients
// Fisher needs, hidden states for hidden covariance.
class LossPassListener : public ProbeListener {
 public:
  explicit LossPassListener(std::int64_t batch) : batch_(batch) {}

  void nonlinearity_input(const torch::Tensor& x) override {
    torch::Tensor codes = (x.detach().reshape({batch_, -1}) > 0).to(torch::kDouble);
    torch::Tensor k = codes.matmul(codes.t()) + (1 - codes).matmul((1 - codes).t());
    kernel_ = kernel_.defined() ? kernel_ + k : k;
  }

  torch::Tensor weighted_output(const torch::Tensor& weight, const torch::Tensor& y) override {
    if (y.requires_grad()) {
      y.retain_grad();
      outputs_.push_back({weight, y});
    }
    return y;
  }

  void hidden_state(const std::string& name, const torch::Tensor& h, std::int64_t unit_dim) override {
    hidden_.push_back({name, h.detach(), unit_dim});
  }

  // Fisher (Turner et al., as in the zero-cost proxies): per output channel k of each layer,
  // F_k = 1/2 mean_n (sum_spatial a * dL/da)^2, broadcast over the weight's other dimensions.
  double fisher() const {
    double total = 0;
    torch::NoGradGuard no_grad;
    for (const auto& [weight, y] : outputs_) {
      if (!y.grad().defined()) continue;
      torch::Tensor g = y.detach() * y.grad();
      if (g.dim() > 2) g = g.flatten(2).sum(2);
      torch::Tensor per_channel = g.to(torch::kDouble).pow(2).mean(0).mul(0.5);
      total += per_channel.abs().sum().item<double>() * static_cast<double>(weight.numel() / weight.size(0));
    }
    return total;
  }

  std::int64_t batch_;
  torch::Tensor kernel_;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> outputs_;
  std::vector<HiddenState> hidden_;
};

}  // namespace

const LossPass& loss_pass(const ScoreInput& input) {
  if (input.cache && input.cache->loss_pass) return *input.cache->loss_pass;
  Network& net = input.network;
  net.train();
  predictor_detail::clear_gradients(net);
  LossPassListener listener(input.inputs.size(0));
  LossPass pass;
  {
    ProbeScope scope(listener);
    torch::Tensor loss = input.loss(net.forward(input.inputs), input.labels);
    loss.backward();
  }
  pass.weights = predictor_detail::weighted_layer_weights(net);
  for (const auto& w : pass.weights)
    pass.gradients.push_back(w.grad().defined() ? w.grad().detach().clone() : torch::zeros_like(w));
  pass.fisher = listener.fisher();
  pass.saw_weighted_output = !listener.outputs_.empty();
  pass.activation_kernel = listener.kernel_;
  pass.hidden = std::move(listener.hidden_);
  predictor_detail::clear_gradients(net);
  if (!input.cache) input.cache = std::make_shared<PassCache>();
  input.cache->loss_pass = std::move(pass);
  return *input.cache->loss_pass;
}

const torch::Tensor& input_jacobian(const ScoreInput& input) {
  if (input.cache && input.cache->input_jacobian.defined()) return input.cache->input_jacobian;
  if (!input.cache) input.cache = std::make_shared<PassCache>();
  Network& net = input.network;
  net.train();
  torch::Tensor x = input.inputs.detach().clone().requires_grad_(true);
  torch::Tensor y = net.forward(x);
  // Only the input's gradient is requested, so no weight gradients are computed.
  torch::Tensor grad = torch::autograd::grad({y}, {x}, {torch::ones_like(y)})[0];
  input.cache->input_jacobian = grad.detach().reshape({x.size(0), -1});
  return input.cache->input_jacobian;
}

}  // namespace nascent
