#pragma once
// The OFA-MobileNetV3 network (spec A.1, A.2). One class is both the elastic supernet (every block
// built at its largest kernel and expand ratio, four blocks per stage, the active sub-network chosen
// by set_active) and a standalone sub-network (one kernel and width per block, the stage depths
// built): extract_ofa_subnet copies the supernet's shared weights into the latter.
#include <torch/torch.h>

#include <map>
#include <memory>
#include <vector>

#include "core/network.hpp"
#include "core/search_space.hpp"
#include "datasets/dataset.hpp"
#include "search_spaces/ofa/ofa.hpp"

namespace nascent {

struct OfaBlockShape {
  std::int64_t in = 0, out = 0, stride = 1, max_mid = 0;
  std::vector<int> kernels;  // descending; the depthwise weight is stored at kernels.front()
  bool se = false, hswish = false;
};

struct OfaNetShape {
  std::int64_t stem = 0, first_block = 0, final_expand = 0, feature_mix = 0;
  std::vector<std::vector<OfaBlockShape>> stages;
  std::int64_t resolution = 224;
  static OfaNetShape supernet(const OfaSpec& spec);
  static OfaNetShape subnet(const OfaSpec& spec, const OfaArch& arch);
};

struct OfaBlock : torch::nn::Module {
  explicit OfaBlock(const OfaBlockShape& shape);
  // The depthwise filter of kernel `k` for the first `mid` channels: the stored filter's centre,
  // passed through the kernel transformation matrices (spec A.2's get_active_filter).
  torch::Tensor active_filter(int k, std::int64_t mid) const;

  OfaBlockShape shape;
  torch::nn::Conv2d expand{nullptr}, se_reduce{nullptr}, se_expand{nullptr}, point{nullptr};
  torch::nn::BatchNorm2d expand_bn{nullptr}, depth_bn{nullptr}, point_bn{nullptr};
  torch::Tensor depth_weight;
  std::vector<torch::Tensor> transforms;  // transforms[i] maps kernels[i] to kernels[i + 1] (k^2 x k^2)
  int active_kernel = 0;
  std::int64_t active_mid = 0;
};

class OfaMbv3 : public Network {
 public:
  OfaMbv3(const OfaNetShape& shape, const Task& task, double dropout = 0.1);
  // Inputs of another size are resized (bilinear) to the active resolution first.
  torch::Tensor forward(torch::Tensor input) override;
  // The final expansion's output, before global pooling (Zen-NAS scores it).
  torch::Tensor features(torch::Tensor input) override;
  void reset_parameters(at::Generator& generator) override;

  // Supernet: choose the active sub-network (kernels, widths, depths, resolution).
  void set_active(const OfaSpec& spec, const OfaArch& arch);
  std::int64_t resolution() const { return resolution_; }

  // Multiply-accumulates of one image at the active resolution, read from the layers as they run.
  double measured_macs();

  // BN recalibration (spec A.2's set_running_statistics): the running statistics of the active
  // sub-network become the sample-weighted mean over batches of the batch means and (biased) variances.
  void recalibrate_bn(const torch::Tensor& images, std::int64_t batch_size);

  // The forward pass in three parts, for timing blocks one at a time (the latency table):
  // resize, stem and block0; one elastic block; final expand, pooling, feature mix and classifier.
  torch::Tensor run_stem(torch::Tensor input);
  torch::Tensor run_block(OfaBlock& block, const torch::Tensor& x, bool first_in_stage);
  torch::Tensor run_head(torch::Tensor x);
  // run_head in two parts: the final expansion, then pooling, feature mix and classifier.
  torch::Tensor final_features(torch::Tensor x);
  torch::Tensor classify(torch::Tensor features);

  at::Generator* dropout_generator = nullptr;  // dropout before the classifier, when set and training

  const OfaNetShape& shape() const { return shape_; }
  torch::nn::Conv2d stem{nullptr}, first_depth{nullptr}, first_point{nullptr}, final_expand{nullptr}, feature_mix{nullptr};
  torch::nn::BatchNorm2d stem_bn{nullptr}, first_depth_bn{nullptr}, first_point_bn{nullptr}, final_expand_bn{nullptr};
  torch::nn::Linear classifier{nullptr};
  std::vector<std::vector<std::shared_ptr<OfaBlock>>> blocks;
  std::vector<int> active_depth;

 private:
  torch::Tensor norm(const torch::Tensor& x, torch::nn::BatchNorm2d& bn);
  torch::Tensor conv(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias, std::int64_t stride,
                     std::int64_t groups);
  void init_own(at::Generator& generator);

  OfaNetShape shape_;
  std::int64_t resolution_;
  double dropout_;
  double* mac_counter_ = nullptr;
  struct Moments {
    torch::Tensor mean_sum, var_sum;
    double count = 0;
  };
  std::map<torch::nn::BatchNorm2dImpl*, Moments>* recalibration_ = nullptr;
};

// A standalone network for `arch` holding the supernet's weights (active filters transformed, widths sliced).
std::shared_ptr<OfaMbv3> extract_ofa_subnet(OfaMbv3& supernet, const OfaSpec& spec, const OfaArch& arch, const Task& task);

// re_organize_middle_weights (spec A.2): sorts every block's middle channels by the L1 norm of their
// point-linear weights, keeping the partitions of the larger ratios of `expands` apart once
// expand_stage > 0, and re-sorts the squeeze-and-excitation units.
void ofa_sort_channels(OfaMbv3& net, const std::vector<int>& expands, int expand_stage);

}  // namespace nascent
