#include "predictors/ofa_accuracy_predictor.hpp"

#include <torch/torch.h>

#include <numeric>

#include "core/error.hpp"
#include "core/rng.hpp"

namespace nascent {

struct OfaAccuracyPredictor::Model {
  torch::nn::Sequential mlp;
};

namespace {

torch::Tensor to_tensor(const std::vector<std::vector<double>>& rows, std::int64_t dim) {
  torch::Tensor t = torch::empty({static_cast<std::int64_t>(rows.size()), dim}, torch::kFloat32);
  auto a = t.accessor<float, 2>();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (static_cast<std::int64_t>(rows[i].size()) != dim) throw Error("accuracy predictor: feature length differs from the encoding's");
    for (std::int64_t j = 0; j < dim; ++j) a[static_cast<std::int64_t>(i)][j] = static_cast<float>(rows[i][static_cast<std::size_t>(j)]);
  }
  return t;
}

}  // namespace

OfaAccuracyPredictor::OfaAccuracyPredictor(std::int64_t input_dim, Options options)
    : model_(std::make_unique<Model>()), options_(options), input_dim_(input_dim) {}

OfaAccuracyPredictor::~OfaAccuracyPredictor() = default;

void OfaAccuracyPredictor::fit(const std::vector<std::vector<double>>& features, const std::vector<double>& targets, std::uint64_t seed) {
  if (features.empty() || features.size() != targets.size()) throw Error("accuracy predictor: needs as many targets as feature rows, and at least one");
  at::Generator generator = at::detail::createCPUGenerator(seed);
  model_->mlp = torch::nn::Sequential();
  std::int64_t in = input_dim_;
  for (int i = 0; i < options_.layers; ++i) {
    model_->mlp->push_back(torch::nn::Linear(in, options_.hidden));
    model_->mlp->push_back(torch::nn::ReLU());
    in = options_.hidden;
  }
  model_->mlp->push_back(torch::nn::Linear(torch::nn::LinearOptions(in, 1).bias(false)));
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model_->mlp->named_parameters()) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(p.value().dim() == 2 ? p.value().size(1) : in));
      p.value().uniform_(-bound, bound, generator);
    }
  }
  base_ = std::accumulate(targets.begin(), targets.end(), 0.0) / static_cast<double>(targets.size());
  const torch::Tensor x = to_tensor(features, input_dim_);
  const torch::Tensor y = torch::tensor(targets, torch::kFloat64).to(torch::kFloat32) - base_;
  torch::optim::Adam optimizer(model_->mlp->parameters(), torch::optim::AdamOptions(options_.lr).weight_decay(options_.weight_decay));
  const std::int64_t n = x.size(0);
  model_->mlp->train();
  for (int epoch = 0; epoch < options_.epochs; ++epoch) {
    const torch::Tensor order = torch::randperm(n, generator, torch::kInt64);
    for (std::int64_t start = 0; start < n; start += options_.batch_size) {
      const torch::Tensor index = order.slice(0, start, std::min(n, start + options_.batch_size));
      const torch::Tensor loss = torch::mse_loss(model_->mlp->forward(x.index_select(0, index)).squeeze(1), y.index_select(0, index));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
    }
  }
  model_->mlp->eval();
}

std::vector<double> OfaAccuracyPredictor::predict(const std::vector<std::vector<double>>& features) const {
  if (model_->mlp->size() == 0) throw Error("accuracy predictor: predict before fit");
  if (features.empty()) return {};
  torch::NoGradGuard no_grad;
  const torch::Tensor out = model_->mlp->forward(to_tensor(features, input_dim_)).squeeze(1).to(torch::kFloat64) + base_;
  return std::vector<double>(out.data_ptr<double>(), out.data_ptr<double>() + out.numel());
}

}  // namespace nascent
