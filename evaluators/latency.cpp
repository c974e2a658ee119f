#include "evaluators/latency.hpp"

#include <algorithm>
#include <chrono>

namespace nascent {

double median_latency_ms(Network& net, const std::vector<std::int64_t>& input_shape, torch::ScalarType type, const torch::Device& device,
                         const LatencyOptions& options) {
  torch::NoGradGuard no_grad;
  net.eval();
  std::vector<std::int64_t> shape{options.batch_size};
  shape.insert(shape.end(), input_shape.begin(), input_shape.end());
  // Token inputs get id 1 everywhere: id 0 is padding, which attention would skip.
  torch::Tensor x = type == torch::kLong ? torch::ones(shape, torch::TensorOptions().dtype(type).device(device))
                                         : torch::zeros(shape, torch::TensorOptions().device(device));
  std::vector<double> times;
  for (int i = 0; i < options.warmup + options.repeats; ++i) {
    if (device.is_cuda()) torch::cuda::synchronize();
    const auto start = std::chrono::steady_clock::now();
    net.forward(x);
    if (device.is_cuda()) torch::cuda::synchronize();
    if (i >= options.warmup) times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

}  // namespace nascent
