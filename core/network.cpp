#include "core/network.hpp"

#include <cmath>

#include "core/error.hpp"

namespace nascent {

namespace {

double fan_in_of(const torch::Tensor& weight) {
  double fan_in = weight.size(1);
  for (int64_t d = 2; d < weight.dim(); ++d) fan_in *= weight.size(d);
  return fan_in;
}

}  // namespace

torch::Tensor Network::features(torch::Tensor) {
  throw Error("this network does not expose its features before global pooling");
}

torch::Tensor Network::token_features(torch::Tensor) {
  throw Error("this network does not read token sequences, so it has no per-token features");
}

torch::Tensor Network::embedded(torch::Tensor) {
  throw Error("this network does not read token sequences, so it embeds none");
}

TransformerWeights Network::transformer_weights() {
  throw Error("this network is not a transformer encoder (its space does not report attention, head and feed-forward weights)");
}

torch::Tensor Network::features_of_embedded(torch::Tensor, torch::Tensor) {
  throw Error("this network does not read token sequences, so it has no per-token features");
}

void Network::reset_parameters(at::Generator& generator) {
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/true)) {
    auto params = module->named_parameters(/*recurse=*/false);
    torch::Tensor* weight = params.find("weight");
    torch::Tensor* bias = params.find("bias");
    const bool is_norm = module->as<torch::nn::BatchNorm2d>() || module->as<torch::nn::BatchNorm1d>() ||
                         module->as<torch::nn::LayerNorm>() || module->as<torch::nn::GroupNorm>();
    if (is_norm) {
      if (weight && weight->defined()) weight->fill_(1.0);
      if (bias && bias->defined()) bias->zero_();
      continue;
    }
    if (weight && weight->defined() && weight->dim() >= 2) {
      // kaiming_uniform_(a=sqrt(5)) reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)); same bound for bias.
      const double bound = 1.0 / std::sqrt(fan_in_of(*weight));
      weight->uniform_(-bound, bound, generator);
      if (bias && bias->defined()) bias->uniform_(-bound, bound, generator);
      continue;
    }
    for (auto& item : params) {
      if (item.value().defined()) item.value().normal_(0.0, 0.02, generator);
    }
  }
}

}  // namespace nascent
