#pragma once
// The DARTS operations (Liu et al., ICLR 2019; quark0/darts operations.py), shared by the discrete
// `darts` space and the DARTS supernet. `affine` is false in the supernet, true in trained networks.
#include <torch/torch.h>

#include <array>
#include <string>
#include <vector>

namespace nascent {

// Index 0 is `none`; genotypes use only the other seven.
constexpr int kDartsNumOps = 8;
extern const std::array<const char*, kDartsNumOps> kDartsOps;  // none, max_pool_3x3, ..., dil_conv_5x5
int darts_op_index(const std::string& name);                   // -1 when unknown

class DartsReLUConvBNImpl : public torch::nn::Module {
 public:
  DartsReLUConvBNImpl(std::int64_t in, std::int64_t out, int kernel, int stride, int pad, bool affine);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(DartsReLUConvBN);

// ReLU, then two 1x1 convolutions of stride 2 (one on the input shifted by a pixel), concatenated,
// then BN. The shifted input is zero-padded back to its size, which changes nothing for even sizes
// (the reference's case) and lets odd ones (Fashion-MNIST's 7x7) line up.
class FactorizedReduceImpl : public torch::nn::Module {
 public:
  FactorizedReduceImpl(std::int64_t in, std::int64_t out, bool affine);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_a_{nullptr}, conv_b_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(FactorizedReduce);

// ReLU, depthwise k x k convolution (dilation d), pointwise 1x1 convolution, BN: dil_conv_k, and
// each half of sep_conv_k.
class DartsDilConvImpl : public torch::nn::Module {
 public:
  DartsDilConvImpl(std::int64_t in, std::int64_t out, int kernel, int stride, int pad, int dilation, bool affine);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d depthwise_{nullptr}, pointwise_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(DartsDilConv);

// One DARTS primitive other than `none` on `channels` channels; stride 2 in reduction edges.
// `pool_norm` adds the BN(affine=False) that the supernet puts after pooling.
class DartsOpImpl : public torch::nn::Module {
 public:
  DartsOpImpl(int op, std::int64_t channels, int stride, bool affine, bool pool_norm);
  torch::Tensor forward(const torch::Tensor& x);
  int op() const { return op_; }

 private:
  int op_;
  int stride_;
  std::vector<DartsDilConv> convs_;      // sep_conv: two, dil_conv: one
  FactorizedReduce reduce_{nullptr};     // skip_connect with stride 2
  torch::nn::BatchNorm2d pool_bn_{nullptr};
};
TORCH_MODULE(DartsOp);

}  // namespace nascent
