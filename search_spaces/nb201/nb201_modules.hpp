#pragma once
// NAS-Bench-201's building blocks, shared by the space's networks and its DARTS supernet
// (supernets/nb201_supernet.cpp).
#include <torch/torch.h>

namespace nascent {

// ReLU -> conv (no bias) -> BN, through the probe functions so that training-free predictors can
// see it. Search cells use BN without affine parameters.
class Nb201ReLUConvBNImpl : public torch::nn::Module {
 public:
  Nb201ReLUConvBNImpl(std::int64_t in, std::int64_t out, int kernel, int stride, int pad, bool relu = true, bool affine = true);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  bool relu_;
  torch::nn::Conv2d conv_;
  torch::nn::BatchNorm2d bn_;
};
TORCH_MODULE(Nb201ReLUConvBN);

// The residual reduction block between stages: ReLUConvBN 3x3 stride 2, ReLUConvBN 3x3, plus a
// shortcut of 2x2 average pooling and a 1x1 convolution.
class Nb201ResidualBlockImpl : public torch::nn::Module {
 public:
  Nb201ResidualBlockImpl(std::int64_t in, std::int64_t out);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  Nb201ReLUConvBN conv_a_, conv_b_;
  torch::nn::Conv2d downsample_;
};
TORCH_MODULE(Nb201ResidualBlock);

}  // namespace nascent
