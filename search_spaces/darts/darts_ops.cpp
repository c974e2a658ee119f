#include "search_spaces/darts/darts_ops.hpp"

#include "core/error.hpp"
#include "core/probe.hpp"

namespace nascent {

const std::array<const char*, kDartsNumOps> kDartsOps = {"none",         "max_pool_3x3", "avg_pool_3x3", "skip_connect",
                                                         "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"};

int darts_op_index(const std::string& name) {
  for (int i = 0; i < kDartsNumOps; ++i)
    if (name == kDartsOps[i]) return i;
  return -1;
}

namespace {

enum DartsOpId { kNone, kMaxPool, kAvgPool, kSkip, kSep3, kSep5, kDil3, kDil5 };

torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, int kernel, int stride = 1, int pad = 0, int dilation = 1,
                       std::int64_t groups = 1) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(pad).dilation(dilation).groups(groups).bias(false));
}

torch::nn::BatchNorm2d batch_norm(std::int64_t channels, bool affine) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).affine(affine));
}

}  // namespace

DartsReLUConvBNImpl::DartsReLUConvBNImpl(std::int64_t in, std::int64_t out, int kernel, int stride, int pad, bool affine)
    : conv_(register_module("conv", conv(in, out, kernel, stride, pad))), bn_(register_module("bn", batch_norm(out, affine))) {}

torch::Tensor DartsReLUConvBNImpl::forward(const torch::Tensor& x) { return probe_norm(bn_, probe_conv(conv_, probe_relu(x))); }

FactorizedReduceImpl::FactorizedReduceImpl(std::int64_t in, std::int64_t out, bool affine) {
  if (out % 2 != 0) throw Error("darts: FactorizedReduce needs an even number of output channels, got " + std::to_string(out));
  conv_a_ = register_module("conv_a", conv(in, out / 2, 1, 2));
  conv_b_ = register_module("conv_b", conv(in, out / 2, 1, 2));
  bn_ = register_module("bn", batch_norm(out, affine));
}

torch::Tensor FactorizedReduceImpl::forward(const torch::Tensor& x) {
  torch::Tensor r = probe_relu(x);
  using torch::indexing::Slice;
  torch::Tensor shifted = torch::constant_pad_nd(r.index({Slice(), Slice(), Slice(1), Slice(1)}), {0, 1, 0, 1});
  return probe_norm(bn_, torch::cat({probe_conv(conv_a_, r), probe_conv(conv_b_, shifted)}, 1));
}

DartsDilConvImpl::DartsDilConvImpl(std::int64_t in, std::int64_t out, int kernel, int stride, int pad, int dilation,
                                   bool affine)
    : depthwise_(register_module("depthwise", conv(in, in, kernel, stride, pad, dilation, in))),
      pointwise_(register_module("pointwise", conv(in, out, 1))),
      bn_(register_module("bn", batch_norm(out, affine))) {}

torch::Tensor DartsDilConvImpl::forward(const torch::Tensor& x) {
  return probe_norm(bn_, probe_conv(pointwise_, probe_conv(depthwise_, probe_relu(x))));
}

DartsOpImpl::DartsOpImpl(int op, std::int64_t channels, int stride, bool affine, bool pool_norm) : op_(op), stride_(stride) {
  const auto add_conv = [&](int kernel, int stride_here, int pad, int dilation) {
    const std::string name = "conv" + std::to_string(convs_.size());
    convs_.push_back(register_module(name, DartsDilConv(channels, channels, kernel, stride_here, pad, dilation, affine)));
  };
  switch (op) {
    case kMaxPool:
    case kAvgPool:
      if (pool_norm) pool_bn_ = register_module("bn", batch_norm(channels, false));
      break;
    case kSkip:
      if (stride == 2) reduce_ = register_module("reduce", FactorizedReduce(channels, channels, affine));
      break;
    case kSep3:
    case kSep5: {
      const int kernel = op == kSep3 ? 3 : 5;
      add_conv(kernel, stride, kernel / 2, 1);
      add_conv(kernel, 1, kernel / 2, 1);
      break;
    }
    case kDil3: add_conv(3, stride, 2, 2); break;
    case kDil5: add_conv(5, stride, 4, 2); break;
    default: throw Error("darts: operation " + std::to_string(op) + " has no module (none is not built)");
  }
}

torch::Tensor DartsOpImpl::forward(const torch::Tensor& x) {
  switch (op_) {
    case kMaxPool:
    case kAvgPool: {
      torch::Tensor y = op_ == kMaxPool ? torch::max_pool2d(x, 3, stride_, 1)
                                        : torch::avg_pool2d(x, 3, stride_, 1, /*ceil_mode=*/false, /*count_include_pad=*/false);
      return pool_bn_ ? probe_norm(pool_bn_, y) : y;
    }
    case kSkip: return reduce_ ? reduce_->forward(x) : x;
    default: {
      torch::Tensor y = x;
      for (auto& c : convs_) y = c->forward(y);
      return y;
    }
  }
}

}  // namespace nascent
