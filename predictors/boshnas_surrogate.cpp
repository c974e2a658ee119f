#include "predictors/boshnas_surrogate.hpp"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "core/error.hpp"

namespace nascent {

namespace {

using torch::Tensor;

Tensor uniform(std::vector<std::int64_t> shape, double low, double high, at::Generator& generator) {
  return torch::empty(shape, torch::kFloat64).uniform_(low, high, generator);
}

// Dropout with an explicit generator (LibTorch's draws from the global one, which parallel work shares).
Tensor dropout(const Tensor& x, double p, at::Generator& generator) {
  Tensor keep = torch::rand(x.sizes(), generator, torch::TensorOptions().dtype(x.scalar_type())).ge(p);
  return x * keep.to(x.scalar_type()) / (1.0 - p);
}

// PyTorch's nn.Linear initialisation: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)).
struct Linear {
  Tensor weight, bias;  // in x out, out
  Linear(std::int64_t in, std::int64_t out, at::Generator& generator) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    weight = uniform({in, out}, -bound, bound, generator).requires_grad_();
    bias = uniform({out}, -bound, bound, generator).requires_grad_();
  }
  Tensor operator()(const Tensor& x) const { return torch::matmul(x, weight) + bias; }
};

// Lin(d,64)-Softplus-[Dropout(0.3)]-Lin(64,32)-Softplus-[Dropout(0.3)]-Lin(32,1)-Sigmoid.
struct Mlp {
  Linear l1, l2, l3;
  Mlp(std::int64_t in, at::Generator& generator) : l1(in, 64, generator), l2(64, 32, generator), l3(32, 1, generator) {}
  Tensor forward(const Tensor& x, double drop, at::Generator* generator) const {
    Tensor h = torch::softplus(l1(x));
    if (generator) h = dropout(h, drop, *generator);
    h = torch::softplus(l2(h));
    if (generator) h = dropout(h, drop, *generator);
    return torch::sigmoid(l3(h)).squeeze(-1);
  }
  std::vector<Tensor> parameters() const { return {l1.weight, l1.bias, l2.weight, l2.bias, l3.weight, l3.bias}; }
};

Tensor inverse_softplus(const Tensor& x) { return torch::log(torch::expm1(x)); }

// A natural-parameter linear layer: a mean weight and a (softplus-positive) variance weight.
struct NpnLinear {
  Tensor weight_mean, weight_var_raw, bias_mean, bias_var_raw;
  NpnLinear(std::int64_t in, std::int64_t out, at::Generator& generator) {
    const double scale = std::sqrt(6.0) / std::sqrt(static_cast<double>(in + out));
    weight_mean = (2 * scale * (uniform({in, out}, 0, 1, generator) - 0.5)).requires_grad_();
    weight_var_raw = inverse_softplus(0.01 * scale * uniform({in, out}, 0, 1, generator)).requires_grad_();
    bias_mean = torch::zeros({out}, torch::kFloat64).requires_grad_();
    bias_var_raw = torch::full({out}, -10.0, torch::kFloat64).requires_grad_();
  }
  // x_var undefined: a deterministic input (dual_input=False).
  std::pair<Tensor, Tensor> operator()(const Tensor& x_mean, const Tensor& x_var) const {
    Tensor weight_var = torch::softplus(weight_var_raw);
    Tensor out_mean = torch::matmul(x_mean, weight_mean) + bias_mean;
    Tensor out_var = torch::matmul(x_mean * x_mean, weight_var) + torch::softplus(bias_var_raw);
    if (x_var.defined()) out_var = out_var + torch::matmul(x_var, weight_var) + torch::matmul(x_var, weight_mean * weight_mean);
    return {out_mean, out_var};
  }
  std::vector<Tensor> parameters() const { return {weight_mean, weight_var_raw, bias_mean, bias_var_raw}; }
};

std::pair<Tensor, Tensor> npn_relu(const Tensor& m, const Tensor& s) {
  const double c = std::sqrt(8.0 / M_PI);
  Tensor root = torch::sqrt(s);
  Tensor gate = torch::sigmoid(c * m / root);
  Tensor bump = root / std::sqrt(2 * M_PI) * torch::exp(-m * m / (2 * s));
  Tensor mean = gate * m + bump;
  Tensor var = gate * (m * m + s) + m * bump - mean * mean;
  return {mean, var};
}

std::pair<Tensor, Tensor> npn_sigmoid(const Tensor& m, const Tensor& s) {
  const double xi2 = M_PI / 8, alpha = 4 - 2 * std::sqrt(2.0), beta = -std::log(std::sqrt(2.0) + 1);
  Tensor mean = torch::sigmoid(m / torch::sqrt(1 + xi2 * s));
  Tensor var = torch::sigmoid(alpha * (m + beta) / torch::sqrt(1 + xi2 * alpha * alpha * s)) - mean * mean;
  return {mean, var};
}

struct Npn {
  NpnLinear l1, l2, l3;
  Npn(std::int64_t in, at::Generator& generator) : l1(in, 32, generator), l2(32, 32, generator), l3(32, 1, generator) {}
  std::pair<Tensor, Tensor> forward(const Tensor& x) const {
    auto [m1, s1] = l1(x, Tensor());
    auto [a1, v1] = npn_relu(m1, s1);
    auto [m2, s2] = l2(a1, v1);
    auto [a2, v2] = npn_relu(m2, s2);
    auto [m3, s3] = l3(a2, v2);
    auto [mean, var] = npn_sigmoid(m3, s3);
    return {mean.squeeze(-1), var.squeeze(-1)};
  }
  std::vector<Tensor> parameters() const {
    std::vector<Tensor> all;
    for (const auto* layer : {&l1, &l2, &l3})
      for (const auto& p : layer->parameters()) all.push_back(p);
    return all;
  }
};

// Per-sample updates with a fresh random split each epoch; early stop as spec B6.
template <typename Loss>
void fit(torch::optim::Optimizer& optimizer, std::size_t n, double train_fraction, int max_epochs, Rng& rng, Loss loss_of) {
  if (n == 0) return;
  double best = std::numeric_limits<double>::infinity();
  int since_best = 0;
  for (int epoch = 0; epoch < max_epochs; ++epoch) {
    const std::vector<std::int64_t> order = shuffled_indices(static_cast<std::int64_t>(n), rng);
    const std::size_t train_count = n < 2 ? n : std::clamp<std::size_t>(static_cast<std::size_t>(train_fraction * n), 1, n - 1);
    for (std::size_t i = 0; i < train_count; ++i) {
      optimizer.zero_grad();
      loss_of(order[i], true).backward();
      optimizer.step();
    }
    double validation = 0;
    {
      torch::NoGradGuard no_grad;
      const std::size_t begin = n < 2 ? 0 : train_count;
      for (std::size_t i = begin; i < n; ++i) validation += loss_of(order[i], false).template item<double>();
      validation /= static_cast<double>(n - begin);
    }
    if (validation < best) {
      best = validation;
      since_best = 0;
    } else {
      ++since_best;
    }
    if (epoch + 1 > 10 && since_best >= 7) break;
  }
}

}  // namespace

struct BoshnasSurrogate::Impl {
  Options options;
  std::int64_t input_size;
  at::Generator generator;
  Mlp teacher, student;
  Npn npn;
  torch::optim::AdamW teacher_optimizer;
  torch::optim::SGD student_optimizer;
  torch::optim::AdamW npn_optimizer;

  static at::Generator make(std::uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }
  Impl(int d, std::uint64_t seed, Options o)
      : options(o),
        input_size(d),
        generator(make(seed)),
        teacher(d, generator),
        student(d, generator),
        npn(d, generator),
        teacher_optimizer(teacher.parameters(), torch::optim::AdamWOptions(o.teacher_lr)),
        student_optimizer(student.parameters(), torch::optim::SGDOptions(o.student_lr)),
        npn_optimizer(npn.parameters(), torch::optim::AdamWOptions(o.npn_lr)) {}

  Tensor to_tensor(const std::vector<std::vector<double>>& rows) const {
    Tensor t = torch::empty({static_cast<std::int64_t>(rows.size()), input_size}, torch::kFloat64);
    auto a = t.accessor<double, 2>();
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (static_cast<std::int64_t>(rows[i].size()) != input_size)
        throw Error("boshnas: an encoding has " + std::to_string(rows[i].size()) + " values, expected " + std::to_string(input_size));
      for (std::int64_t j = 0; j < input_size; ++j) a[i][j] = rows[i][j];
    }
    return t;
  }

  // The acquisition per row of x: mean - 0.5 ξ (UCB for a loss), with σ added to ξ when asked.
  Tensor acquisition(const Tensor& x, bool add_aleatoric) const {
    auto [mean, variance] = npn.forward(x);
    Tensor xi = student.forward(x, 0, nullptr);
    if (add_aleatoric) xi = xi + variance;
    Tensor prediction = options.aleatoric ? mean : teacher.forward(x, 0, nullptr);
    return prediction - 0.5 * xi;
  }
};

BoshnasSurrogate::BoshnasSurrogate(int input_size, std::uint64_t seed, Options options)
    : impl_(std::make_unique<Impl>(input_size, seed, options)) {
  if (input_size < 1) throw Error("boshnas: the encoding must have at least one value");
}
BoshnasSurrogate::~BoshnasSurrogate() = default;
BoshnasSurrogate::BoshnasSurrogate(BoshnasSurrogate&&) noexcept = default;
BoshnasSurrogate& BoshnasSurrogate::operator=(BoshnasSurrogate&&) noexcept = default;

void BoshnasSurrogate::train(const std::vector<std::vector<double>>& inputs, const std::vector<double>& targets, Rng& rng) {
  if (inputs.size() != targets.size()) throw Error("boshnas: inputs and targets differ in count");
  if (inputs.empty()) return;
  Impl& s = *impl_;
  const Tensor x = s.to_tensor(inputs);
  const Tensor y = torch::tensor(targets, torch::kFloat64);
  const std::size_t n = inputs.size();
  const auto row = [&](std::int64_t i) { return x.slice(0, i, i + 1); };

  fit(s.teacher_optimizer, n, s.options.train_fraction, s.options.max_epochs, rng, [&](std::int64_t i, bool training) {
    Tensor prediction = s.teacher.forward(row(i), 0.3, training ? &s.generator : nullptr);
    return (prediction - y[i]).pow(2).sum();
  });
  // The student learns the teacher's MC-dropout spread, which stays fixed while the student trains.
  Tensor spread;
  {
    torch::NoGradGuard no_grad;
    std::vector<Tensor> passes;
    for (int k = 0; k < s.options.mc_samples; ++k) passes.push_back(s.teacher.forward(x, 0.3, &s.generator));
    spread = torch::stack(passes).std(0, /*unbiased=*/true);
  }
  fit(s.student_optimizer, n, s.options.train_fraction, s.options.max_epochs, rng, [&](std::int64_t i, bool) {
    return (s.student.forward(row(i), 0, nullptr) - spread[i]).pow(2).sum();
  });
  fit(s.npn_optimizer, n, s.options.train_fraction, s.options.max_epochs, rng, [&](std::int64_t i, bool) {
    auto [mean, variance] = s.npn.forward(row(i));
    return 0.5 * (10 * (mean - y[i]).pow(2) / variance + torch::log(variance)).sum();
  });
}

std::vector<BoshnasSurrogate::Prediction> BoshnasSurrogate::predict(const std::vector<std::vector<double>>& inputs) const {
  torch::NoGradGuard no_grad;
  const Impl& s = *impl_;
  const Tensor x = s.to_tensor(inputs);
  auto [mean, variance] = s.npn.forward(x);
  Tensor xi = s.student.forward(x, 0, nullptr);
  Tensor teacher = s.teacher.forward(x, 0, nullptr);
  std::vector<Prediction> predictions(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto k = static_cast<std::int64_t>(i);
    predictions[i].mean = (s.options.aleatoric ? mean[k] : teacher[k]).item<double>();
    predictions[i].epistemic = xi[k].item<double>();
    predictions[i].aleatoric = variance[k].item<double>();
  }
  return predictions;
}

std::vector<double> BoshnasSurrogate::acquisition(const std::vector<std::vector<double>>& inputs, bool add_aleatoric) const {
  torch::NoGradGuard no_grad;
  const Tensor z = impl_->acquisition(impl_->to_tensor(inputs), add_aleatoric).contiguous();
  return std::vector<double>(z.data_ptr<double>(), z.data_ptr<double>() + z.numel());
}

BoshnasSurrogate::Prediction BoshnasSurrogate::predict(const std::vector<double>& input) const { return predict(std::vector<std::vector<double>>{input}).front(); }

// The restarts run as rows of one batch: the acquisition is a sum of per-row terms, so its
// gradient and its Hessian are per-row (block diagonal), and AdaHessian's elementwise state makes
// the batch exactly K independent runs; a row stops moving once it has converged.
std::vector<BoshnasSurrogate::GobiResult> BoshnasSurrogate::gobi(const std::vector<std::vector<double>>& library,
                                                                 const GobiOptions& options, Rng& rng) const {
  if (library.empty()) throw Error("boshnas: GOBI needs a non-empty library");
  const Impl& s = *impl_;
  const Tensor all = s.to_tensor(library);
  const Tensor low = std::get<0>(all.min(0)), high = std::get<0>(all.max(0));
  std::vector<std::int64_t> starts;
  for (int k = 0; k < options.restarts; ++k) starts.push_back(static_cast<std::int64_t>(uniform_index(rng, library.size())));
  Tensor x = all.index_select(0, torch::tensor(starts, torch::kLong)).clone();
  auto generator = at::make_generator<at::CPUGeneratorImpl>(rng());
  const std::int64_t rows = x.size(0);
  Tensor first_moment = torch::zeros_like(x), second_moment = torch::zeros_like(x);
  Tensor active = torch::ones({rows, 1}, torch::kFloat64);
  Tensor stalled = torch::zeros({rows}, torch::kLong);
  Tensor previous = torch::full({rows}, std::numeric_limits<double>::infinity(), torch::kFloat64);
  const double beta1 = 0.9, beta2 = 0.999, eps = 1e-4;
  const double base_lr = options.lr;
  for (int step = 0; step < options.iterations; ++step) {
    Tensor input = x.detach().requires_grad_();
    Tensor z = s.acquisition(input, options.add_aleatoric);
    Tensor gradient = torch::autograd::grad({z.sum()}, {input}, {}, true, options.second_order)[0];
    const double lr = base_lr * 0.5 * (1 + std::cos(M_PI * step / 2.0));  // CosineAnnealingLR(T_max=2)
    Tensor update;
    if (options.second_order) {
      Tensor v = torch::randint(0, 2, x.sizes(), generator, torch::kFloat64) * 2 - 1;
      Tensor hessian_v = torch::autograd::grad({(gradient * v).sum()}, {input})[0];
      const double t = step + 1;
      first_moment = beta1 * first_moment + (1 - beta1) * gradient.detach();
      second_moment = beta2 * second_moment + (1 - beta2) * hessian_v.abs().pow(2);
      update = lr * (first_moment / (1 - std::pow(beta1, t))) / ((second_moment / (1 - std::pow(beta2, t))).sqrt() + eps);
    } else {
      update = lr * gradient.detach();
    }
    x = torch::max(torch::min(x - update * active, high), low);
    // A row stops once its acquisition changed by less than 1e-5 in more than 5 consecutive steps.
    Tensor value = z.detach();
    stalled = torch::where((value - previous).abs() < 1e-5, stalled + 1, torch::zeros_like(stalled));
    previous = value;
    active = active * stalled.le(5).to(torch::kFloat64).unsqueeze(1);
    const bool any_active = active.sum().item<double>() > 0;
    if (!any_active) break;
  }
  torch::NoGradGuard no_grad;
  const Tensor final_z = s.acquisition(x, options.add_aleatoric);
  const Tensor distance = (x.unsqueeze(1) - all.unsqueeze(0)).abs().mean(-1);  // rows x library
  const Tensor nearest = distance.argmin(1);
  std::vector<GobiResult> results;
  for (std::int64_t r = 0; r < rows; ++r)
    results.push_back({static_cast<std::size_t>(nearest[r].item<std::int64_t>()), final_z[r].item<double>()});
  return results;
}

}  // namespace nascent
