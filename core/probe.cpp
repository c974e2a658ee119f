#include "core/probe.hpp"

namespace nascent {

namespace {
thread_local ProbeListener* t_listener = nullptr;
}

ProbeScope::ProbeScope(ProbeListener& listener) : previous_(t_listener) { t_listener = &listener; }
ProbeScope::~ProbeScope() { t_listener = previous_; }

ProbeListener* current_probe() { return t_listener; }

torch::Tensor probe_relu(const torch::Tensor& x) {
  if (t_listener) t_listener->nonlinearity_input(x);
  return torch::relu(x);
}

torch::Tensor probe_leaky_relu(const torch::Tensor& x, double slope) {
  if (t_listener) t_listener->nonlinearity_input(x);
  return torch::leaky_relu(x, slope);
}

torch::Tensor probe_conv(torch::nn::Conv2d& conv, const torch::Tensor& x) {
  torch::Tensor y = conv->forward(x);
  return t_listener ? t_listener->weighted_output(conv->weight, y) : y;
}

torch::Tensor probe_linear(torch::nn::Linear& linear, const torch::Tensor& x) {
  torch::Tensor y = linear->forward(x);
  return t_listener ? t_listener->weighted_output(linear->weight, y) : y;
}

torch::Tensor probe_gelu(const torch::Tensor& x) {
  if (t_listener) t_listener->nonlinearity_input(x);
  return torch::gelu(x);
}

void probe_activation(const torch::Tensor& x) {
  if (t_listener) t_listener->nonlinearity_input(x);
}

torch::Tensor probe_weighted(const torch::Tensor& weight, const torch::Tensor& y) {
  return t_listener ? t_listener->weighted_output(weight, y) : y;
}

void probe_hidden(const std::string& name, const torch::Tensor& h, std::int64_t unit_dim) {
  if (t_listener) t_listener->hidden_state(name, h, unit_dim);
}

torch::Tensor probe_head(torch::nn::Linear& linear, const torch::Tensor& x) {
  torch::Tensor y = probe_linear(linear, x);
  if (t_listener) t_listener->head_projection(y);
  return y;
}

void probe_attention(const torch::Tensor& probabilities) {
  if (t_listener) t_listener->attention_probabilities(probabilities);
}

}  // namespace nascent
