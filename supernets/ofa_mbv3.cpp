#include "supernets/ofa_mbv3.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "core/probe.hpp"
#include "supernets/weight_slicing.hpp"

namespace nascent {

namespace F = torch::nn::functional;

namespace {

torch::Tensor h_swish(const torch::Tensor& x) { return x * torch::clamp(x + 3, 0, 6) / 6; }
torch::Tensor h_sigmoid(const torch::Tensor& x) { return torch::clamp(x + 3, 0, 6) / 6; }

torch::nn::Conv2d pointwise(std::int64_t in, std::int64_t out, bool bias = false) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).bias(bias));
}

torch::nn::BatchNorm2d batch_norm(std::int64_t channels) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).momentum(0.1).eps(1e-5));
}

std::int64_t se_mid_of(std::int64_t mid) { return ofa_make_divisible(static_cast<double>(mid / 4)); }

}  // namespace

OfaNetShape OfaNetShape::supernet(const OfaSpec& spec) {
  OfaArch largest;
  largest.ks.assign(OfaSpec::kBlocks, *std::max_element(spec.kernels.begin(), spec.kernels.end()));
  largest.e.assign(OfaSpec::kBlocks, *std::max_element(spec.expands.begin(), spec.expands.end()));
  largest.d.assign(OfaSpec::kStages, OfaSpec::kMaxDepth);
  largest.r = spec.resolutions.back();
  OfaNetShape shape = subnet(spec, largest);
  std::vector<int> kernels = spec.kernels;
  std::sort(kernels.rbegin(), kernels.rend());
  for (auto& stage : shape.stages)
    for (auto& block : stage) block.kernels = kernels;
  return shape;
}

OfaNetShape OfaNetShape::subnet(const OfaSpec& spec, const OfaArch& arch) {
  const auto w = spec.widths();
  OfaNetShape shape;
  shape.stem = w[0];
  shape.first_block = w[1];
  shape.final_expand = w[7];
  shape.feature_mix = w[8];
  shape.resolution = arch.r;
  for (int s = 0; s < OfaSpec::kStages; ++s) {
    shape.stages.emplace_back();
    for (int j = 0; j < arch.d[static_cast<std::size_t>(s)]; ++j) {
      const std::size_t b = static_cast<std::size_t>(s * OfaSpec::kMaxDepth + j);
      OfaBlockShape block;
      block.in = j == 0 ? w[static_cast<std::size_t>(s + 1)] : w[static_cast<std::size_t>(s + 2)];
      block.out = w[static_cast<std::size_t>(s + 2)];
      block.stride = j == 0 ? ofa_stage_stride(s) : 1;
      block.max_mid = ofa_mid_channels(block.in, arch.e[b]);
      block.kernels = {arch.ks[b]};
      block.se = ofa_stage_se(s);
      block.hswish = ofa_stage_hswish(s);
      shape.stages.back().push_back(block);
    }
  }
  return shape;
}

OfaBlock::OfaBlock(const OfaBlockShape& shape_) : shape(shape_) {
  const std::int64_t mid = shape.max_mid, k = shape.kernels.front();
  expand = register_module("expand", pointwise(shape.in, mid));
  expand_bn = register_module("expand_bn", batch_norm(mid));
  depth_weight = register_parameter("depth_weight", torch::zeros({mid, 1, k, k}));
  depth_bn = register_module("depth_bn", batch_norm(mid));
  if (shape.se) {
    se_reduce = register_module("se_reduce", pointwise(mid, se_mid_of(mid), true));
    se_expand = register_module("se_expand", pointwise(se_mid_of(mid), mid, true));
  }
  point = register_module("point", pointwise(mid, shape.out));
  point_bn = register_module("point_bn", batch_norm(shape.out));
  for (std::size_t i = 0; i + 1 < shape.kernels.size(); ++i) {
    const std::int64_t to = shape.kernels[i + 1];
    transforms.push_back(register_parameter("transform_" + std::to_string(shape.kernels[i]) + "to" + std::to_string(to),
                                            torch::eye(to * to)));
  }
  active_kernel = shape.kernels.front();
  active_mid = mid;
}

torch::Tensor OfaBlock::active_filter(int k, std::int64_t mid) const {
  torch::Tensor filter = depth_weight.slice(0, 0, mid);
  for (std::size_t i = 0; i + 1 < shape.kernels.size() && shape.kernels[i] > k; ++i) {
    const std::int64_t from = shape.kernels[i], to = shape.kernels[i + 1];
    const std::int64_t start = from / 2 - to / 2;
    filter = filter.slice(2, start, start + to).slice(3, start, start + to).reshape({-1, to * to});
    filter = torch::matmul(filter, transforms[i].t()).view({mid, 1, to, to});
  }
  if (filter.size(2) != k) throw Error("OFA block: kernel " + std::to_string(k) + " is not one this block was built for");
  return filter;
}

OfaMbv3::OfaMbv3(const OfaNetShape& shape, const Task& task, double dropout)
    : shape_(shape), resolution_(shape.resolution), dropout_(dropout) {
  if (task.input_shape.size() != 3) throw Error("OFA-MobileNetV3 needs image inputs (channels, height, width)");
  const std::int64_t in = task.input_shape[0];
  stem = register_module("stem", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, shape.stem, 3).stride(2).padding(1).bias(false)));
  stem_bn = register_module("stem_bn", batch_norm(shape.stem));
  first_depth = register_module("first_depth", torch::nn::Conv2d(torch::nn::Conv2dOptions(shape.stem, shape.stem, 3).padding(1).groups(shape.stem).bias(false)));
  first_depth_bn = register_module("first_depth_bn", batch_norm(shape.stem));
  first_point = register_module("first_point", pointwise(shape.stem, shape.first_block));
  first_point_bn = register_module("first_point_bn", batch_norm(shape.first_block));
  for (std::size_t s = 0; s < shape.stages.size(); ++s) {
    blocks.emplace_back();
    for (std::size_t j = 0; j < shape.stages[s].size(); ++j)
      blocks.back().push_back(register_module("stage" + std::to_string(s + 1) + "_block" + std::to_string(j + 1),
                                              std::make_shared<OfaBlock>(shape.stages[s][j])));
    active_depth.push_back(static_cast<int>(shape.stages[s].size()));
  }
  const std::int64_t last = shape.stages.back().back().out;
  final_expand = register_module("final_expand", pointwise(last, shape.final_expand));
  final_expand_bn = register_module("final_expand_bn", batch_norm(shape.final_expand));
  feature_mix = register_module("feature_mix", pointwise(shape.final_expand, shape.feature_mix));
  classifier = register_module("classifier", torch::nn::Linear(shape.feature_mix, task.num_classes));
  at::Generator generator = at::detail::createCPUGenerator(0);
  init_own(generator);
}

void OfaMbv3::init_own(at::Generator& generator) {
  torch::NoGradGuard no_grad;
  for (auto& stage : blocks) {
    for (auto& block : stage) {
      const double bound = 1.0 / static_cast<double>(block->depth_weight.size(2));  // 1 / sqrt(fan_in = k^2)
      block->depth_weight.uniform_(-bound, bound, generator);
      for (auto& t : block->transforms) t.copy_(torch::eye(t.size(0)));
    }
  }
}

void OfaMbv3::reset_parameters(at::Generator& generator) {
  Network::reset_parameters(generator);
  init_own(generator);
}

void OfaMbv3::set_active(const OfaSpec& spec, const OfaArch& arch) {
  if (blocks.size() != static_cast<std::size_t>(OfaSpec::kStages)) throw Error("set_active: not an OFA supernet");
  for (int s = 0; s < OfaSpec::kStages; ++s) {
    const int d = arch.d[static_cast<std::size_t>(s)];
    if (d > static_cast<int>(blocks[static_cast<std::size_t>(s)].size())) throw Error("set_active: depth beyond the supernet's");
    active_depth[static_cast<std::size_t>(s)] = d;
    for (int j = 0; j < d; ++j) {
      auto& block = *blocks[static_cast<std::size_t>(s)][static_cast<std::size_t>(j)];
      const std::size_t b = static_cast<std::size_t>(s * OfaSpec::kMaxDepth + j);
      if (std::find(block.shape.kernels.begin(), block.shape.kernels.end(), arch.ks[b]) == block.shape.kernels.end())
        throw Error("set_active: kernel " + std::to_string(arch.ks[b]) + " is not elastic in this supernet");
      block.active_kernel = arch.ks[b];
      block.active_mid = ofa_mid_channels(block.shape.in, arch.e[b]);
      if (block.active_mid > block.shape.max_mid) throw Error("set_active: expand ratio beyond the supernet's");
    }
  }
  (void)spec;
  resolution_ = arch.r;
}

torch::Tensor OfaMbv3::norm(const torch::Tensor& x, torch::nn::BatchNorm2d& bn) {
  const std::int64_t c = x.size(1);
  const torch::Tensor weight = bn->weight.slice(0, 0, c), bias = bn->bias.slice(0, 0, c);
  if (recalibration_) {
    const torch::Tensor mean = x.mean(std::vector<std::int64_t>{0, 2, 3});
    const torch::Tensor var = (x - mean.view({1, c, 1, 1})).pow(2).mean(std::vector<std::int64_t>{0, 2, 3});
    auto& moments = (*recalibration_)[bn.get()];
    const double n = static_cast<double>(x.size(0));
    if (!moments.mean_sum.defined()) {
      moments.mean_sum = torch::zeros_like(mean);
      moments.var_sum = torch::zeros_like(var);
    }
    moments.mean_sum += mean * n;
    moments.var_sum += var * n;
    moments.count += n;
    return torch::batch_norm(x, weight, bias, {}, {}, true, 0.0, bn->options.eps(), false);
  }
  if (DataParallel* group = active_data_parallel(); group && is_training())
    return synchronised_batch_norm(x, weight, bias, bn->running_mean.slice(0, 0, c), bn->running_var.slice(0, 0, c),
                                   bn->options.momentum().value_or(0.1), bn->options.eps(), *group);
  return torch::batch_norm(x, weight, bias, bn->running_mean.slice(0, 0, c), bn->running_var.slice(0, 0, c), is_training(),
                           bn->options.momentum().value_or(0.1), bn->options.eps(), false);
}

torch::Tensor OfaMbv3::conv(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias, std::int64_t stride,
                            std::int64_t groups) {
  const std::int64_t k = weight.size(2);
  torch::Tensor out = torch::conv2d(x, weight, bias, stride, k / 2, 1, groups);
  if (mac_counter_) *mac_counter_ += static_cast<double>(out.size(2) * out.size(3)) * static_cast<double>(weight.numel());
  return probe_weighted(weight, out);
}

torch::Tensor OfaMbv3::forward(torch::Tensor x) { return classify(features(std::move(x))); }

torch::Tensor OfaMbv3::features(torch::Tensor x) {
  x = run_stem(x);
  probe_hidden("stem", x);
  for (std::size_t s = 0; s < blocks.size(); ++s)
    for (int j = 0; j < active_depth[s]; ++j) {
      x = run_block(*blocks[s][static_cast<std::size_t>(j)], x, j == 0);
      probe_hidden("stage" + std::to_string(s) + ".block" + std::to_string(j), x);
    }
  return final_features(x);
}

torch::Tensor OfaMbv3::run_stem(torch::Tensor x) {
  if (x.size(2) != resolution_ || x.size(3) != resolution_)
    x = F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<std::int64_t>{resolution_, resolution_}).mode(torch::kBilinear).align_corners(false));
  x = norm(conv(x, stem->weight, {}, 2, 1), stem_bn);
  probe_activation(x);
  x = h_swish(x);
  // block0: depthwise 3x3, ReLU, point-linear; identity shortcut when the widths agree.
  torch::Tensor y = probe_relu(norm(conv(x, first_depth->weight, {}, 1, shape_.stem), first_depth_bn));
  y = norm(conv(y, first_point->weight, {}, 1, 1), first_point_bn);
  return shape_.stem == shape_.first_block ? x + y : y;
}

torch::Tensor OfaMbv3::run_block(OfaBlock& b, const torch::Tensor& x, bool first_in_stage) {
  const std::int64_t mid = b.active_mid;
  const auto act = [&](const torch::Tensor& t) {
    probe_activation(t);
    return b.shape.hswish ? h_swish(t) : torch::relu(t);
  };
  torch::Tensor h = act(norm(conv(x, b.expand->weight.slice(0, 0, mid).slice(1, 0, x.size(1)), {}, 1, 1), b.expand_bn));
  h = act(norm(conv(h, b.active_filter(b.active_kernel, mid), {}, b.shape.stride, mid), b.depth_bn));
  if (b.shape.se) {
    const std::int64_t se_mid = se_mid_of(mid);
    torch::Tensor squeeze = h.mean(std::vector<std::int64_t>{2, 3}, true);
    squeeze = torch::relu(conv(squeeze, b.se_reduce->weight.slice(0, 0, se_mid).slice(1, 0, mid), b.se_reduce->bias.slice(0, 0, se_mid), 1, 1));
    squeeze = h_sigmoid(conv(squeeze, b.se_expand->weight.slice(0, 0, mid).slice(1, 0, se_mid), b.se_expand->bias.slice(0, 0, mid), 1, 1));
    h = h * squeeze;
  }
  h = norm(conv(h, b.point->weight.slice(1, 0, mid), {}, 1, 1), b.point_bn);
  return first_in_stage ? h : x + h;
}

torch::Tensor OfaMbv3::run_head(torch::Tensor x) { return classify(final_features(std::move(x))); }

torch::Tensor OfaMbv3::final_features(torch::Tensor x) {
  x = norm(conv(x, final_expand->weight, {}, 1, 1), final_expand_bn);
  probe_activation(x);
  return h_swish(x);
}

torch::Tensor OfaMbv3::classify(torch::Tensor x) {
  x = conv(x.mean(std::vector<std::int64_t>{2, 3}, true), feature_mix->weight, {}, 1, 1);
  probe_activation(x);
  x = h_swish(x).flatten(1);
  if (is_training() && dropout_ > 0 && dropout_generator) {
    // Drawn on the CPU generator, so that a run is reproducible whatever the device.
    const torch::Tensor keep = (rand_for_rows(x.sizes(), *dropout_generator) >= dropout_).to(x.options());
    x = x * keep / (1 - dropout_);
  }
  torch::Tensor logits = probe_linear(classifier, x);
  if (mac_counter_) *mac_counter_ += static_cast<double>(classifier->weight.numel());
  return logits;
}

double OfaMbv3::measured_macs() {
  return count_macs(*this, mac_counter_,
                    [&] { forward(torch::zeros({1, stem->weight.size(1), resolution_, resolution_}, stem->weight.options())); });
}

void OfaMbv3::recalibrate_bn(const torch::Tensor& images, std::int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = is_training();
  std::map<torch::nn::BatchNorm2dImpl*, Moments> moments;
  recalibration_ = &moments;
  try {
    for (std::int64_t start = 0; start < images.size(0); start += batch_size)
      forward(images.slice(0, start, std::min(images.size(0), start + batch_size)));
  } catch (...) {
    recalibration_ = nullptr;
    throw;
  }
  recalibration_ = nullptr;
  for (auto& [bn, m] : moments) {
    const std::int64_t c = m.mean_sum.size(0);
    bn->running_mean.slice(0, 0, c).copy_(m.mean_sum / m.count);
    bn->running_var.slice(0, 0, c).copy_(m.var_sum / m.count);
  }
  train(was_training);
}

std::shared_ptr<OfaMbv3> extract_ofa_subnet(OfaMbv3& supernet, const OfaSpec& spec, const OfaArch& arch, const Task& task) {
  auto net = std::make_shared<OfaMbv3>(OfaNetShape::subnet(spec, arch), task);
  net->to(supernet.stem->weight.device());
  net->train(supernet.is_training());
  torch::NoGradGuard no_grad;
  const auto copy = [](torch::Tensor& to, const torch::Tensor& from) { copy_exact(to, from, "extract_ofa_subnet"); };
  const auto copy_bn = [](torch::nn::BatchNorm2d& to, torch::nn::BatchNorm2d& from) { copy_leading_channels(to, from, "extract_ofa_subnet"); };
  copy(net->stem->weight, supernet.stem->weight);
  copy_bn(net->stem_bn, supernet.stem_bn);
  copy(net->first_depth->weight, supernet.first_depth->weight);
  copy_bn(net->first_depth_bn, supernet.first_depth_bn);
  copy(net->first_point->weight, supernet.first_point->weight);
  copy_bn(net->first_point_bn, supernet.first_point_bn);
  for (std::size_t s = 0; s < net->blocks.size(); ++s) {
    for (std::size_t j = 0; j < net->blocks[s].size(); ++j) {
      OfaBlock& to = *net->blocks[s][j];
      OfaBlock& from = *supernet.blocks[s][j];
      const std::int64_t mid = to.shape.max_mid, in = to.shape.in;
      copy(to.expand->weight, from.expand->weight.slice(0, 0, mid).slice(1, 0, in));
      copy_bn(to.expand_bn, from.expand_bn);
      copy(to.depth_weight, from.active_filter(to.shape.kernels.front(), mid));
      copy_bn(to.depth_bn, from.depth_bn);
      if (to.shape.se) {
        const std::int64_t se_mid = se_mid_of(mid);
        copy(to.se_reduce->weight, from.se_reduce->weight.slice(0, 0, se_mid).slice(1, 0, mid));
        copy(to.se_reduce->bias, from.se_reduce->bias.slice(0, 0, se_mid));
        copy(to.se_expand->weight, from.se_expand->weight.slice(0, 0, mid).slice(1, 0, se_mid));
        copy(to.se_expand->bias, from.se_expand->bias.slice(0, 0, mid));
      }
      copy(to.point->weight, from.point->weight.slice(1, 0, mid));
      copy_bn(to.point_bn, from.point_bn);
    }
  }
  copy(net->final_expand->weight, supernet.final_expand->weight);
  copy_bn(net->final_expand_bn, supernet.final_expand_bn);
  copy(net->feature_mix->weight, supernet.feature_mix->weight);
  copy(net->classifier->weight, supernet.classifier->weight);
  copy(net->classifier->bias, supernet.classifier->bias);
  (void)spec;
  return net;
}

void ofa_sort_channels(OfaMbv3& net, const std::vector<int>& expands, int expand_stage) {
  torch::NoGradGuard no_grad;
  std::vector<int> ratios = expands;
  std::sort(ratios.rbegin(), ratios.rend());
  const auto take = [](torch::Tensor& t, std::int64_t dim, const torch::Tensor& index) { t.copy_(t.index_select(dim, index)); };
  const auto take_bn = [&](torch::nn::BatchNorm2d& bn, const torch::Tensor& index) {
    take(bn->weight, 0, index);
    take(bn->bias, 0, index);
    take(bn->running_mean, 0, index);
    take(bn->running_var, 0, index);
  };
  for (auto& stage : net.blocks) {
    for (auto& block_ptr : stage) {
      OfaBlock& b = *block_ptr;
      torch::Tensor importance = b.point->weight.abs().sum(std::vector<std::int64_t>{0, 2, 3});
      if (expand_stage > 0) {
        std::int64_t right = importance.size(0);
        double base = -static_cast<double>(ratios.size()) * 1e5;
        for (int i = 0; i <= expand_stage && i < static_cast<int>(ratios.size()); ++i) {
          const std::int64_t left = ofa_mid_channels(b.shape.in, ratios[static_cast<std::size_t>(i)]);
          if (left < right) importance.slice(0, left, right).add_(base);
          base += 1e5;
          right = left;
        }
      }
      const torch::Tensor order = std::get<1>(importance.sort(0, /*descending=*/true));
      take(b.point->weight, 1, order);
      take(b.depth_weight, 0, order);
      take_bn(b.depth_bn, order);
      if (b.shape.se) {
        take(b.se_expand->weight, 0, order);
        take(b.se_expand->bias, 0, order);
        take(b.se_reduce->weight, 1, order);
        const torch::Tensor se_order =
            std::get<1>(b.se_expand->weight.abs().sum(std::vector<std::int64_t>{0, 2, 3}).sort(0, /*descending=*/true));
        take(b.se_expand->weight, 1, se_order);
        take(b.se_reduce->weight, 0, se_order);
        take(b.se_reduce->bias, 0, se_order);
      }
      take(b.expand->weight, 0, order);
      take_bn(b.expand_bn, order);
    }
  }
}

}  // namespace nascent
