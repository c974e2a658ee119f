#pragma once
// Inference latency of a network on a device: warm-up passes, then the median of timed passes on
// a batch of zeros (token ids of 1 for token inputs), synchronising CUDA around each pass.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "core/network.hpp"

namespace nascent {

struct LatencyOptions {
  int batch_size = 1;
  int warmup = 2;
  int repeats = 5;
};

double median_latency_ms(Network& net, const std::vector<std::int64_t>& input_shape, torch::ScalarType type, const torch::Device& device,
                         const LatencyOptions& options = {});

}  // namespace nascent
