// The classic zero-cost proxies (Abdelfattah et al. 2021; NAS-Bench-Suite-Zero), with the
// conventions of the authors' code: sums over every convolution and linear weight, per-layer
// gradient norms, Fisher broadcast per channel, GraSP's sign flip, synflow in float64 on absolute
// weights without normalisation, NASLib's log transform of synflow.
#include <cmath>

#include "core/error.hpp"
#include "predictors/passes.hpp"

namespace nascent {

using predictor_detail::nan;

namespace {

class FunctionPredictor : public Predictor {
 public:
  FunctionPredictor(std::string name, std::function<double(const ScoreInput&)> function)
      : name_(std::move(name)), function_(std::move(function)) {}
  std::string name() const override { return name_; }
  double score(const ScoreInput& input) const override { return function_(input); }

 private:
  std::string name_;
  std::function<double(const ScoreInput&)> function_;
};

double sum_over_layers(const LossPass& pass, const std::function<torch::Tensor(const torch::Tensor& w, const torch::Tensor& g)>& f) {
  double total = 0;
  for (std::size_t i = 0; i < pass.weights.size(); ++i)
    total += f(pass.weights[i].detach().to(torch::kDouble), pass.gradients[i].to(torch::kDouble)).sum().item<double>();
  return total;
}

double grad_norm(const ScoreInput& input) {
  return sum_over_layers(loss_pass(input), [](const torch::Tensor&, const torch::Tensor& g) { return g.norm(); });
}

double snip(const ScoreInput& input) {
  return sum_over_layers(loss_pass(input), [](const torch::Tensor& w, const torch::Tensor& g) { return (w * g).abs(); });
}

double plain(const ScoreInput& input) {
  return sum_over_layers(loss_pass(input), [](const torch::Tensor& w, const torch::Tensor& g) { return w * g; });
}

double fisher(const ScoreInput& input) {
  const LossPass& pass = loss_pass(input);
  if (!pass.saw_weighted_output)
    throw Error("fisher: the network exposes no layer outputs (its space must build layers with probe_conv/probe_linear)");
  return pass.fisher;
}

double nwot(const ScoreInput& input) {
  const LossPass& pass = loss_pass(input);
  if (!pass.activation_kernel.defined())
    throw Error("nwot: the network exposes no ReLU inputs (its space must apply ReLUs with probe_relu)");
  return std::get<1>(torch::linalg::slogdet(pass.activation_kernel)).item<double>();
}

double l2_norm(const ScoreInput& input) {
  double total = 0;
  for (const auto& w : predictor_detail::weighted_layer_weights(input.network))
    total += w.detach().to(torch::kDouble).norm().item<double>();
  return total;
}

double params(const ScoreInput& input) {
  double total = 0;
  for (const auto& p : input.network.parameters())
    if (p.requires_grad()) total += static_cast<double>(p.numel());
  return total / 1e6;
}

double flops(const ScoreInput& input) {
  if (!std::isfinite(input.flops)) throw Error("flops: the space did not describe this architecture's FLOPs");
  return input.flops / 1e6;
}

// GraSP (Wang et al. 2020) as the zero-cost proxies compute it: g = dL/dW, then the
// Hessian-gradient product Hg by differentiating g . dL/dW, scored as sum(-W * Hg).
double grasp(const ScoreInput& input) {
  Network& net = input.network;
  net.train();
  predictor_detail::clear_gradients(net);
  std::vector<torch::Tensor> weights = predictor_detail::weighted_layer_weights(net);
  std::vector<torch::Tensor> g =
      torch::autograd::grad({input.loss(net.forward(input.inputs), input.labels)}, weights, {}, false, false, true);
  std::vector<torch::Tensor> gf =
      torch::autograd::grad({input.loss(net.forward(input.inputs), input.labels)}, weights, {}, true, true, true);
  torch::Tensor z;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (!g[i].defined() || !gf[i].defined()) continue;
    torch::Tensor term = (g[i].detach() * gf[i]).sum();
    z = z.defined() ? z + term : term;
  }
  if (!z.defined() || !z.requires_grad()) return 0;
  z.backward();
  double total = 0;
  for (const auto& w : weights)
    if (w.grad().defined()) total += (-w.detach().to(torch::kDouble) * w.grad().to(torch::kDouble)).sum().item<double>();
  predictor_detail::clear_gradients(net);
  return total;
}

double jacob_cov(const ScoreInput& input) {
  return predictor_detail::eigen_score(predictor_detail::corrcoef(input_jacobian(input)));
}

// EPE-NAS (Lopes et al. 2021): per class, the correlation between the input Jacobians of its
// samples; s_c = sum log(|corr| + 1e-5), score = sum_c |s_c|.
double epe_nas(const ScoreInput& input) {
  const torch::Tensor& jacobian = input_jacobian(input);
  torch::Tensor labels = input.labels.to(torch::kCPU);
  torch::Tensor classes = std::get<0>(torch::_unique(labels, /*sorted=*/true));
  double score = 0;
  for (std::int64_t c = 0; c < classes.size(0); ++c) {
    torch::Tensor rows = jacobian.index_select(0, torch::nonzero(labels == classes[c]).flatten().to(jacobian.device()));
    // numpy's corrcoef of a single vector is 1: a class seen once contributes log(1 + 1e-5).
    torch::Tensor corr = rows.size(0) == 1 ? torch::ones({1, 1}, torch::kDouble) : predictor_detail::corrcoef(rows);
    score += std::abs(torch::log(corr.abs() + 1e-5).sum().item<double>());
  }
  return score;
}

// Synflow (Tanaka et al. 2020): all-ones input, absolute weights, no normalisation, float64;
// sum |W * dR/dW| with R the summed output; then NASLib's log(s) (or -log(-s)).
double synflow(const ScoreInput& input) {
  Network& net = input.network;
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net.parameters()) p.abs_();
    for (auto& b : net.buffers())
      if (b.is_floating_point()) b.abs_();
  }
  // Gradients left in float32 would receive the float64 ones below and overflow (sums reach 1e50).
  predictor_detail::clear_gradients(net);
  net.to(torch::kDouble);
  net.train();
  ProbeListener bypass;
  bypass.bypass_normalisation = true;
  std::vector<std::int64_t> shape = input.inputs.sizes().vec();
  shape[0] = 1;
  {
    ProbeScope scope(bypass);
    torch::Tensor x = torch::ones(shape, torch::TensorOptions().dtype(torch::kDouble).device(input.inputs.device()));
    net.forward(x).sum().backward();
  }
  double total = 0;
  for (const auto& w : predictor_detail::weighted_layer_weights(net))
    if (w.grad().defined()) total += (w.detach() * w.grad()).abs().sum().item<double>();
  predictor_detail::clear_gradients(net);
  if (total == 0 || !std::isfinite(total)) return total;
  return total > 0 ? std::log(total) : -std::log(-total);
}

// Zen-NAS (Lin et al. 2021), NASLib's form: Gaussian weights, the expected change of the
// pre-pooling features under a 0.01 input perturbation, plus the log BatchNorm scales.
double zen(const ScoreInput& input) {
  Network& net = input.network;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(input.rng());
  torch::NoGradGuard no_grad;
  for (auto& module : net.modules(/*include_self=*/true)) {
    auto params = module->named_parameters(/*recurse=*/false);
    torch::Tensor* weight = params.find("weight");
    torch::Tensor* bias = params.find("bias");
    const bool conv_or_linear = module->as<torch::nn::Conv2d>() || module->as<torch::nn::Linear>() ||
                                module->as<torch::nn::Conv1d>();
    const bool norm = module->as<torch::nn::BatchNorm2d>() || module->as<torch::nn::BatchNorm1d>() ||
                      module->as<torch::nn::LayerNorm>() || module->as<torch::nn::GroupNorm>();
    if (conv_or_linear && weight) weight->normal_(0, 1, generator);
    if (norm && weight && weight->defined()) weight->fill_(1);
    if ((conv_or_linear || norm) && bias && bias->defined()) bias->zero_();
  }
  net.train();
  const auto options = torch::TensorOptions().dtype(input.inputs.dtype());
  // Token ids cannot be perturbed: a token network is scored from a Gaussian input in place of
  // its embedding.
  const bool tokens = !at::isFloatingType(input.inputs.scalar_type());
  const std::vector<std::int64_t> shape = tokens ? net.embedded(input.inputs).sizes().vec() : input.inputs.sizes().vec();
  const auto real = tokens ? torch::TensorOptions().dtype(torch::kFloat) : options;
  torch::Tensor x = at::normal(0, 1, shape, generator, real).to(input.inputs.device());
  torch::Tensor noise = at::normal(0, 1, shape, generator, real).to(input.inputs.device());
  const auto features = [&](const torch::Tensor& in) { return tokens ? net.features_of_embedded(in, input.inputs) : net.features(in); };
  torch::Tensor a = features(x);
  torch::Tensor b = features(x + 0.01 * noise);
  const double delta = (a - b).abs().flatten(1).sum(1).mean().item<double>();
  double log_bn = 0;
  for (auto& module : net.modules(/*include_self=*/true)) {
    auto* bn = module->as<torch::nn::BatchNorm2d>();
    if (bn && bn->running_var.defined()) log_bn += std::log(std::sqrt(bn->running_var.mean().item<double>()));
  }
  return std::log(delta) + log_bn;
}

}  // namespace

std::unique_ptr<Predictor> make_zero_cost_predictor(const std::string& name) {
  static const std::map<std::string, double (*)(const ScoreInput&)> table = {
      {"grad_norm", grad_norm}, {"snip", snip},       {"grasp", grasp},     {"fisher", fisher},
      {"jacob_cov", jacob_cov}, {"jacov", jacob_cov}, {"synflow", synflow}, {"nwot", nwot},
      {"zen", zen},             {"epe_nas", epe_nas}, {"l2_norm", l2_norm}, {"plain", plain},
      {"params", params},       {"flops", flops}};
  auto it = table.find(name);
  if (it == table.end()) return nullptr;
  return std::make_unique<FunctionPredictor>(name, it->second);
}

}  // namespace nascent
