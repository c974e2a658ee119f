#include "supernets/vit_resnas_supernet.hpp"

#include <chrono>
#include <cmath>

#include "core/error.hpp"
#include "core/probe.hpp"
#include "core/optimizer_state.hpp"
#include "supernets/weight_slicing.hpp"

namespace nascent {

namespace F = torch::nn::functional;

namespace {

constexpr double kLayerNormEps = 1e-6;

// Layer norm over the channels a per-sample mask keeps (spec B.3's MaskedLayerNorm); the input is
// zero on dropped channels and so is the output.
torch::Tensor layer_norm(const torch::Tensor& x, torch::nn::LayerNorm& norm, const torch::Tensor& mask) {
  if (!mask.defined()) return norm->forward(x);
  const torch::Tensor kept = mask.mean(-1, true);
  const torch::Tensor mean = x.mean(-1, true) / kept;
  const torch::Tensor var = (x * x).mean(-1, true) / kept - mean * mean;
  return ((x - mean) * torch::rsqrt(var.clamp_min(0) + kLayerNormEps) * norm->weight + norm->bias) * mask;
}

torch::Tensor times(const torch::Tensor& x, const torch::Tensor& mask) { return mask.defined() ? x * mask : x; }

torch::Tensor mask_at(const std::vector<std::vector<torch::Tensor>>& masks, std::size_t s, std::size_t b) {
  return s < masks.size() && b < masks[s].size() ? masks[s][b] : torch::Tensor();
}

}  // namespace

VitResNet::Block::Block(std::int64_t embed, std::int64_t heads_, std::int64_t head_dim_, std::int64_t mlp)
    : heads(heads_), head_dim(head_dim_) {
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({embed}).eps(kLayerNormEps)));
  qkv = register_module("qkv", torch::nn::Linear(embed, 3 * heads * head_dim));
  proj = register_module("proj", torch::nn::Linear(heads * head_dim, embed));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({embed}).eps(kLayerNormEps)));
  fc1 = register_module("fc1", torch::nn::Linear(embed, mlp));
  fc2 = register_module("fc2", torch::nn::Linear(mlp, embed));
}

VitResNet::Reduction::Reduction(std::int64_t in, std::int64_t out, std::int64_t tokens) {
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({in}).eps(kLayerNormEps)));
  conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(2).padding(1)));
  cls = register_module("cls", torch::nn::Linear(in, out));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, tokens, out}));
}

VitResNet::VitResNet(const VitArch& arch, const Task& task, double drop_path) : arch_(arch), drop_path_(drop_path) {
  if (task.input_shape.size() != 3 || task.input_shape[1] != task.input_shape[2])
    throw Error("ViT-ResNAS needs square image inputs (channels, size, size)");
  side_ = vit_tokens_per_side(task.input_shape[1], arch.embed.size());
  const std::int64_t in = task.input_shape[0], mid = arch.stem_mid, c0 = arch.embed[0];
  for (int i = 0; i < 3; ++i) {
    stem_convs.push_back(register_module("stem_conv" + std::to_string(i + 1),
                                         torch::nn::Conv2d(torch::nn::Conv2dOptions(i == 0 ? in : mid, mid, 3)
                                                               .stride(i == 0 ? 2 : 1).padding(1).bias(false))));
    stem_norms.push_back(register_module("stem_norm" + std::to_string(i + 1), torch::nn::BatchNorm2d(mid)));
  }
  patch_proj = register_module("patch_proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(mid, c0, 7).stride(7)));
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, c0}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, side_ * side_ + 1, c0}));
  std::int64_t side = side_;
  blocks.resize(arch.embed.size());
  block_position.resize(arch.embed.size());
  for (std::size_t s = 0; s < arch.embed.size(); ++s) {
    if (s > 0) {
      side /= 2;
      reductions.push_back(register_module("reduction" + std::to_string(s),
                                           std::make_shared<Reduction>(arch.embed[s - 1], arch.embed[s], side * side)));
    }
    for (std::size_t p = 0; p < arch.blocks[s].size(); ++p) {
      const VitBlock& b = arch.blocks[s][p];
      if (!b.exists) continue;
      blocks[s].push_back(register_module("stage" + std::to_string(s + 1) + "_block" + std::to_string(p + 1),
                                          std::make_shared<Block>(arch.embed[s], b.heads, arch.head_dim[s], b.mlp)));
      block_position[s].push_back(p);
    }
  }
  head_norm = register_module("head_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({arch.embed.back()}).eps(kLayerNormEps)));
  head = register_module("head", torch::nn::Linear(arch.embed.back(), task.num_classes));
  at::Generator generator = at::detail::createCPUGenerator(0);
  init_token_embeddings(generator);
}

void VitResNet::init_token_embeddings(at::Generator& generator) {
  torch::NoGradGuard no_grad;
  // ViT's truncated normal (std 0.02, cut at 2 std) for the token and position embeddings.
  const auto trunc_normal = [&](torch::Tensor& t) { t.normal_(0, 0.02, generator).clamp_(-0.04, 0.04); };
  trunc_normal(cls_token);
  trunc_normal(pos_embed);
  for (auto& r : reductions) trunc_normal(r->pos_embed);
}

void VitResNet::reset_parameters(at::Generator& generator) {
  Network::reset_parameters(generator);
  init_token_embeddings(generator);
}

torch::Tensor VitResNet::forward(torch::Tensor input) { return forward_masked(std::move(input), nullptr, nullptr); }

double VitResNet::measured_macs() {
  const std::int64_t in = stem_convs[0]->weight.size(1);
  return count_macs(*this, mac_counter_, [&] { forward(torch::zeros({1, in, side_ * 14, side_ * 14}, stem_convs[0]->weight.options())); });
}

torch::Tensor VitResNet::forward_masked(torch::Tensor x, const VitMasks* masks, at::Generator* drop_path_generator) {
  return classify(tokens_masked(std::move(x), masks, drop_path_generator), masks);
}

torch::Tensor VitResNet::features(torch::Tensor input) { return tokens_masked(std::move(input), nullptr, nullptr); }

// Weighted layers count their MACs when counting and report their outputs to a probe listener.
torch::Tensor VitResNet::counted(const torch::Tensor& out, torch::nn::Conv2d& conv) {
  if (mac_counter_) *mac_counter_ += static_cast<double>(out.size(2) * out.size(3)) * static_cast<double>(conv->weight.numel());
  return probe_weighted(conv->weight, out);
}

torch::Tensor VitResNet::counted(const torch::Tensor& out, torch::nn::Linear& linear) {
  if (mac_counter_) *mac_counter_ += static_cast<double>(out.numel() / out.size(-1)) * static_cast<double>(linear->weight.numel());
  return probe_weighted(linear->weight, out);
}

torch::Tensor VitResNet::tokens_masked(torch::Tensor x, const VitMasks* masks, at::Generator* drop_path_generator) {
  const auto drop_path = [&](const torch::Tensor& branch) {
    if (!is_training() || drop_path_ <= 0 || !drop_path_generator) return branch;
    const double keep = 1 - drop_path_;
    torch::Tensor keep_mask =
        (rand_for_rows({branch.size(0), 1, 1}, *drop_path_generator) < keep).to(branch.options());
    return branch * keep_mask / keep;
  };
  const bool masked = masks != nullptr;
  const auto stem_layer = [&](const torch::Tensor& in, int i) {
    torch::Tensor out = counted(stem_convs[i]->forward(in), stem_convs[i]);
    DataParallel* group = active_data_parallel();
    return probe_relu(group && is_training() ? synchronised_batch_norm(stem_norms[i], out, *group) : stem_norms[i]->forward(out));
  };
  torch::Tensor y = stem_layer(x, 0);
  y = y + stem_layer(stem_layer(y, 1), 2);
  y = counted(patch_proj->forward(y), patch_proj);
  probe_hidden("stem", y);
  // Shapes follow the input's batch through tensor operations rather than C++ integers, so that a
  // recorded (TorchScript) forward accepts any batch size.
  const torch::Tensor patch_tokens = y.flatten(2).transpose(1, 2);
  const torch::Tensor cls_tokens = torch::zeros_like(patch_tokens.slice(1, 0, 1).slice(2, 0, cls_token.size(2))) + cls_token;
  torch::Tensor tokens = torch::cat({cls_tokens, patch_tokens}, 1) + pos_embed;
  std::int64_t side = y.size(2);
  for (std::size_t s = 0; s < blocks.size(); ++s) {
    const torch::Tensor embed_mask = masked ? masks->embed[s] : torch::Tensor();
    if (s > 0) {
      Reduction& r = *reductions[s - 1];
      const torch::Tensor previous_mask = masked ? masks->embed[s - 1] : torch::Tensor();
      const torch::Tensor normed = layer_norm(tokens, r.norm, previous_mask);
      const std::int64_t cin = tokens.size(2);
      const torch::Tensor grid = normed.slice(1, 1).transpose(1, 2).reshape({-1, cin, side, side});
      torch::Tensor patches = counted(r.conv->forward(grid), r.conv);
      const std::int64_t cout = patches.size(1);
      patches = patches.flatten(2).transpose(1, 2) + r.pos_embed;
      torch::Tensor cls = counted(r.cls->forward(normed.slice(1, 0, 1)), r.cls);
      // The residual path: un-normalised patch tokens average-pooled 2x2, the cls token as is,
      // both zero-padded from C_in to C_out channels.
      const torch::Tensor raw_grid = tokens.slice(1, 1).transpose(1, 2).reshape({-1, cin, side, side});
      const torch::Tensor pooled = torch::avg_pool2d(raw_grid, 2, 2).flatten(2).transpose(1, 2);
      const torch::Tensor residual = F::pad(torch::cat({tokens.slice(1, 0, 1), pooled}, 1), F::PadFuncOptions({0, cout - cin}));
      tokens = torch::cat({cls, patches}, 1) + residual;
      side /= 2;
    }
    tokens = times(tokens, embed_mask);
    for (std::size_t b = 0; b < blocks[s].size(); ++b) {
      Block& block = *blocks[s][b];
      const std::size_t position = block_position[s][b];
      const torch::Tensor layer = masked ? mask_at(masks->layer, s, position) : torch::Tensor();
      const torch::Tensor out_mask = layer.defined() ? embed_mask * layer : embed_mask;
      const std::int64_t n = tokens.size(1);
      torch::Tensor qkv = counted(block.qkv->forward(layer_norm(tokens, block.norm1, embed_mask)), block.qkv);
      qkv = qkv.reshape({-1, n, 3, block.heads, block.head_dim}).permute({2, 0, 3, 1, 4});
      const torch::Tensor scores = torch::matmul(qkv[0], qkv[1].transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(block.head_dim)));
      torch::Tensor attended = torch::matmul(torch::softmax(scores, -1), qkv[2]);
      if (mac_counter_) *mac_counter_ += 2.0 * static_cast<double>(scores.numel()) * static_cast<double>(block.head_dim);
      attended = attended.transpose(1, 2).reshape({-1, n, block.heads * block.head_dim});
      if (masked) attended = times(attended, mask_at(masks->heads, s, position));
      torch::Tensor branch = counted(block.proj->forward(attended), block.proj);
      tokens = tokens + drop_path(times(branch, out_mask));
      torch::Tensor hidden = counted(block.fc1->forward(layer_norm(tokens, block.norm2, embed_mask)), block.fc1);
      hidden = probe_gelu(hidden);
      if (masked) hidden = times(hidden, mask_at(masks->mlp, s, position));
      branch = counted(block.fc2->forward(hidden), block.fc2);
      tokens = tokens + drop_path(times(branch, out_mask));
      probe_hidden("stage" + std::to_string(s) + ".block" + std::to_string(b), tokens, 2);
    }
  }
  return tokens;
}

torch::Tensor VitResNet::classify(const torch::Tensor& tokens, const VitMasks* masks) {
  const torch::Tensor last_mask = masks ? masks->embed.back() : torch::Tensor();
  torch::Tensor cls = layer_norm(tokens.select(1, 0), head_norm, last_mask.defined() ? last_mask.squeeze(1) : last_mask);
  return counted(head->forward(cls), head);
}

std::shared_ptr<VitResNet> slice_vit(VitResNet& supernet, const VitArch& arch, const Task& task) {
  auto net = std::make_shared<VitResNet>(arch, task);
  net->to(supernet.cls_token.device());
  net->train(supernet.is_training());
  torch::NoGradGuard no_grad;
  const auto copy = [](torch::Tensor& to, const torch::Tensor& from) { copy_exact(to, from, "slice_vit"); };
  const auto copy_norm = [](torch::nn::LayerNorm& to, torch::nn::LayerNorm& from) { copy_leading_channels(to, from, "slice_vit"); };
  for (int i = 0; i < 3; ++i) {
    copy(net->stem_convs[i]->weight, supernet.stem_convs[i]->weight);
    copy_leading_channels(net->stem_norms[i], supernet.stem_norms[i], "slice_vit");
  }
  const std::int64_t c0 = arch.embed[0];
  copy(net->patch_proj->weight, supernet.patch_proj->weight.slice(0, 0, c0));
  copy(net->patch_proj->bias, supernet.patch_proj->bias.slice(0, 0, c0));
  copy(net->cls_token, supernet.cls_token.slice(2, 0, c0));
  copy(net->pos_embed, supernet.pos_embed.slice(2, 0, c0));
  for (std::size_t s = 0; s < arch.embed.size(); ++s) {
    const std::int64_t c = arch.embed[s];
    if (s > 0) {
      auto& to = *net->reductions[s - 1];
      auto& from = *supernet.reductions[s - 1];
      const std::int64_t cin = arch.embed[s - 1];
      copy_norm(to.norm, from.norm);
      copy(to.conv->weight, from.conv->weight.slice(0, 0, c).slice(1, 0, cin));
      copy(to.conv->bias, from.conv->bias.slice(0, 0, c));
      copy(to.cls->weight, from.cls->weight.slice(0, 0, c).slice(1, 0, cin));
      copy(to.cls->bias, from.cls->bias.slice(0, 0, c));
      copy(to.pos_embed, from.pos_embed.slice(2, 0, c));
    }
    for (std::size_t b = 0; b < net->blocks[s].size(); ++b) {
      auto& to = *net->blocks[s][b];
      const std::size_t position = net->block_position[s][b];
      if (s >= supernet.blocks.size() || position >= supernet.blocks[s].size() || supernet.block_position[s][position] != position)
        throw Error("slice_vit: the supernet lacks block " + std::to_string(position + 1) + " of stage " + std::to_string(s + 1));
      auto& from = *supernet.blocks[s][position];
      const std::int64_t h = to.heads, d = to.head_dim, hidden = to.fc1->weight.size(0);
      const std::int64_t max_heads = from.heads, max_c = from.qkv->weight.size(1);
      copy_norm(to.norm1, from.norm1);
      copy_norm(to.norm2, from.norm2);
      copy(to.qkv->weight, from.qkv->weight.view({3, max_heads, d, max_c}).slice(1, 0, h).slice(3, 0, c).reshape({3 * h * d, c}));
      copy(to.qkv->bias, from.qkv->bias.view({3, max_heads, d}).slice(1, 0, h).reshape({3 * h * d}));
      copy(to.proj->weight, from.proj->weight.slice(0, 0, c).slice(1, 0, h * d));
      copy(to.proj->bias, from.proj->bias.slice(0, 0, c));
      copy(to.fc1->weight, from.fc1->weight.slice(0, 0, hidden).slice(1, 0, c));
      copy(to.fc1->bias, from.fc1->bias.slice(0, 0, hidden));
      copy(to.fc2->weight, from.fc2->weight.slice(0, 0, c).slice(1, 0, hidden));
      copy(to.fc2->bias, from.fc2->bias.slice(0, 0, c));
    }
  }
  copy_norm(net->head_norm, supernet.head_norm);
  copy(net->head->weight, supernet.head->weight.slice(1, 0, arch.embed.back()));
  copy(net->head->bias, supernet.head->bias);
  return net;
}

namespace {

// Per-sample masks for one width choice list (largest first): the first `in_use` choices are dealt
// round-robin to ceil(groups / in_use) * in_use rows, shuffled, and sample b takes row b % groups,
// so each of the `groups` interleaved sub-batches runs its own sub-network (spec B.3's ChannelDrop).
// Progressive warm-up: at epoch e (0-based) only the 1 + e (K - 1) / warmup largest of K choices are used.
int choices_in_use(std::size_t choices, int epoch, int warmup_epochs) {
  const int k = static_cast<int>(choices);
  return warmup_epochs <= 0 ? k : std::min(k, 1 + epoch * (k - 1) / warmup_epochs);
}

torch::Tensor width_mask(const std::vector<std::int64_t>& widths, int epoch, int warmup_epochs, std::int64_t batch,
                         std::int64_t groups, at::Generator& generator) {
  const std::int64_t use = choices_in_use(widths.size(), epoch, warmup_epochs);
  const std::int64_t rows = use * ((groups + use - 1) / use);
  const torch::Tensor row_width = torch::tensor(widths, torch::kInt64).slice(0, 0, use).repeat({rows / use});
  const torch::Tensor chosen = row_width.index_select(0, torch::randperm(rows, generator, torch::kInt64).slice(0, 0, groups));
  const torch::Tensor per_sample = chosen.index_select(0, torch::arange(batch, torch::kInt64).remainder(groups));
  const std::int64_t max_width = *std::max_element(widths.begin(), widths.end());
  return (torch::arange(max_width, torch::kInt64).view({1, 1, max_width}) < per_sample.view({batch, 1, 1})).to(torch::kFloat32);
}

VitMasks sample_vit_masks(const VitSpaceSpec& spec, int epoch, int warmup_epochs, std::int64_t batch, std::int64_t groups, at::Generator& generator) {
  VitMasks masks;
  for (const auto& stage : spec.stages) {
    masks.embed.push_back(width_mask(stage.embeds, epoch, warmup_epochs, batch, groups, generator));
    std::vector<std::int64_t> head_widths;
    for (auto h : stage.heads) head_widths.push_back(h * stage.head_dim);
    masks.heads.emplace_back();
    masks.mlp.emplace_back();
    masks.layer.emplace_back();
    for (bool removable : stage.removable) {
      masks.heads.back().push_back(width_mask(head_widths, epoch, warmup_epochs, batch, groups, generator));
      masks.mlp.back().push_back(width_mask(stage.mlps, epoch, warmup_epochs, batch, groups, generator));
      // The reference's layer choices [C, C, 0, 0]: kept, kept, removed, removed.
      masks.layer.back().push_back(removable ? width_mask({1, 1, 0, 0}, epoch, warmup_epochs, batch, groups, generator) : torch::Tensor());
    }
  }
  return masks;
}

}  // namespace

namespace {

VitMasks map_masks(const VitMasks& masks, const std::function<torch::Tensor(const torch::Tensor&)>& change) {
  const auto move = [&](const torch::Tensor& t) { return t.defined() ? change(t) : t; };
  VitMasks moved;
  for (const auto& t : masks.embed) moved.embed.push_back(move(t));
  for (auto* group : {&masks.heads, &masks.mlp, &masks.layer}) {
    auto& target = group == &masks.heads ? moved.heads : group == &masks.mlp ? moved.mlp : moved.layer;
    for (const auto& stage : *group) {
      target.emplace_back();
      for (const auto& t : stage) target.back().push_back(move(t));
    }
  }
  return moved;
}

}  // namespace

VitMasks masks_on(const VitMasks& masks, const torch::Device& device) {
  return map_masks(masks, [&](const torch::Tensor& t) { return t.to(device); });
}

VitMasks uniform_vit_masks(const VitSpaceSpec& spec, const VitArch& arch, std::int64_t batch) {
  VitMasks masks;
  const auto ones_to = [&](std::int64_t width, std::int64_t max_width) {
    return (torch::arange(max_width, torch::kInt64) < width).to(torch::kFloat32).view({1, 1, max_width}).expand({batch, 1, max_width}).contiguous();
  };
  for (std::size_t s = 0; s < spec.stages.size(); ++s) {
    const auto& stage = spec.stages[s];
    masks.embed.push_back(ones_to(arch.embed[s], stage.embeds.front()));
    masks.heads.emplace_back();
    masks.mlp.emplace_back();
    masks.layer.emplace_back();
    for (std::size_t b = 0; b < stage.removable.size(); ++b) {
      const VitBlock& block = arch.blocks[s][b];
      masks.heads.back().push_back(ones_to(block.heads * stage.head_dim, stage.heads.front() * stage.head_dim));
      masks.mlp.back().push_back(ones_to(block.mlp, stage.mlps.front()));
      masks.layer.back().push_back(ones_to(block.exists ? 1 : 0, 1));
    }
  }
  return masks;
}

void rewire_vit(VitResNet& net, const std::function<void(const torch::Tensor&, const TensorReorder&)>& follow) {
  torch::NoGradGuard no_grad;
  const auto reorder = [&](torch::Tensor& param, std::vector<std::int64_t> grouped_shape, std::int64_t dim, torch::Tensor index) {
    const TensorReorder apply = [grouped_shape, dim, index](const torch::Tensor& t) {
      return t.reshape(grouped_shape).index_select(dim, index).reshape(t.sizes());
    };
    param.copy_(apply(param));
    if (follow) follow(param, apply);
  };
  for (auto& stage : net.blocks) {
    for (auto& block_ptr : stage) {
      auto& b = *block_ptr;
      const std::int64_t h = b.heads, d = b.head_dim, c = b.qkv->weight.size(1), hidden = b.fc1->weight.size(0);
      const torch::Tensor head_score = b.qkv->weight.abs().view({3, h, d, c}).sum(std::vector<std::int64_t>{0, 2, 3}) +
                                       b.qkv->bias.abs().view({3, h, d}).sum(std::vector<std::int64_t>{0, 2}) + b.proj->weight.abs().view({c, h, d}).sum(std::vector<std::int64_t>{0, 2});
      const torch::Tensor heads = std::get<1>(head_score.sort(0, /*descending=*/true));
      reorder(b.qkv->weight, {3, h, d, c}, 1, heads);
      reorder(b.qkv->bias, {3, h, d}, 1, heads);
      reorder(b.proj->weight, {c, h, d}, 1, heads);
      const torch::Tensor unit_score = b.fc2->weight.abs().sum(0) + b.fc1->weight.abs().sum(1) + b.fc1->bias.abs();
      const torch::Tensor units = std::get<1>(unit_score.sort(0, /*descending=*/true));
      reorder(b.fc1->weight, {hidden, c}, 0, units);
      reorder(b.fc1->bias, {hidden}, 0, units);
      reorder(b.fc2->weight, {c, hidden}, 1, units);
    }
  }
}

std::vector<VitEpochRecord> train_vit_supernet(VitResNet& supernet, const VitSpaceSpec& spec, const ImageSet& train,
                                               const VitSupernetOptions& options, std::uint64_t seed,
                                               const std::function<void(int, std::int64_t, std::int64_t, double)>& on_step,
                                               const TrainingCheckpoints& checkpoints, DataParallel* group) {
  if (options.batch_size < 2) throw Error("config: strategy.supernet_training.batch_size must be at least 2");
  if (options.examples_per_arch < 1 || options.examples_per_arch > options.batch_size)
    throw Error("config: strategy.supernet_training.examples_per_arch must be between 1 and batch_size");
  if (options.epochs < 0) throw Error("config: strategy.supernet_training.epochs must not be negative");
  at::Generator generator = at::detail::createCPUGenerator(seed);
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& item : supernet.named_parameters()) {
    const bool embedding = item.key().find("pos_embed") != std::string::npos || item.key().find("cls_token") != std::string::npos;
    (item.value().dim() >= 2 && !embedding ? decay : no_decay).push_back(item.value());
  }
  const double base_lr = options.lr * static_cast<double>(options.batch_size) / 512.0;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(base_lr).weight_decay(options.weight_decay)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(base_lr).weight_decay(0)));
  torch::optim::AdamW optimizer(std::move(groups), torch::optim::AdamWOptions(base_lr).weight_decay(options.weight_decay));
  const auto follow_in_state = [&](const torch::Tensor& param, const TensorReorder& apply) {
    auto& state = optimizer.state();
    auto it = find_optimizer_state(state, param);
    if (it == state.end()) return;
    auto& adam = static_cast<torch::optim::AdamWParamState&>(*it->second);
    if (adam.exp_avg().defined()) adam.exp_avg(apply(adam.exp_avg()));
    if (adam.exp_avg_sq().defined()) adam.exp_avg_sq(apply(adam.exp_avg_sq()));
  };

  const std::int64_t n = train.size();
  if (n < options.batch_size) throw Error("the supernet's training split has fewer images than one batch");
  const std::int64_t steps = options.steps_per_epoch > 0 ? options.steps_per_epoch : n / options.batch_size;
  const double total_steps = static_cast<double>(steps) * options.epochs;
  const double warmup_steps = static_cast<double>(steps) * options.warmup_epochs;
  const std::int64_t groups_per_batch = (options.batch_size + options.examples_per_arch - 1) / options.examples_per_arch;
  std::vector<VitEpochRecord> records;
  const DataParallelScope data_parallel(group);
  supernet.train();
  torch::Tensor order;
  std::int64_t cursor = n;
  double step_index = 0;
  int first_epoch = 0;
  // A stop inside an epoch saves that epoch's steps so far; the resumed epoch continues after them.
  EpochInProgress interrupted;
  if (checkpoints.resume) {
    StateReader state(*checkpoints.resume);
    first_epoch = static_cast<int>(state.integer("epoch"));
    step_index = state.number("step_index");
    interrupted = EpochInProgress::load(state);
    order = state.tensor("order");
    cursor = state.integer("cursor");
    state.generator("generator", generator);
    state.module("supernet", supernet, supernet.cls_token.device());
    state.optimizer("optimizer", optimizer);
    for (std::int64_t i = 0, count = state.integer("records"); i < count; ++i) {
      const std::string key = "record." + std::to_string(i) + ".";
      VitEpochRecord record;
      record.epoch = static_cast<int>(state.integer(key + "epoch"));
      record.train_loss = state.number(key + "train_loss");
      record.seconds = state.number(key + "seconds");
      record.lr = state.number(key + "lr");
      record.widths_in_use = static_cast<int>(state.integer(key + "widths_in_use"));
      records.push_back(record);
    }
    supernet.train();
  }
  for (int epoch = first_epoch; epoch < options.epochs; ++epoch) {
    const auto started = std::chrono::steady_clock::now();
    const auto seconds_here = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
    const bool partly_done = epoch == first_epoch && interrupted.steps > 0;
    const EpochInProgress earlier = partly_done ? interrupted : EpochInProgress{};
    // An interrupted epoch was rewired before its first step.
    if (epoch <= options.warmup_width_epochs && !partly_done) rewire_vit(supernet, follow_in_state);
    const int in_use = choices_in_use(5, epoch, options.warmup_width_epochs);
    VitEpochRecord record;
    record.epoch = epoch + 1;
    record.widths_in_use = in_use;
    record.lr = earlier.lr;
    double loss_sum = earlier.loss_sum;
    // The whole training state after `in_epoch.steps` steps of this epoch (all of it when `next_epoch` is the next).
    const auto save = [&](int next_epoch, double step_index_now, const EpochInProgress& in_epoch) {
      StateWriter state;
      state.integer("epoch", next_epoch);
      state.number("step_index", step_index_now);
      in_epoch.save(state);
      state.tensor("order", order);
      state.integer("cursor", cursor);
      state.generator("generator", generator);
      state.module("supernet", supernet);
      state.optimizer("optimizer", optimizer);
      state.integer("records", static_cast<std::int64_t>(records.size()));
      for (std::size_t i = 0; i < records.size(); ++i) {
        const std::string key = "record." + std::to_string(i) + ".";
        state.integer(key + "epoch", records[i].epoch);
        state.number(key + "train_loss", records[i].train_loss);
        state.number(key + "seconds", records[i].seconds);
        state.number(key + "lr", records[i].lr);
        state.integer(key + "widths_in_use", records[i].widths_in_use);
      }
      checkpoints.save(state.bytes());
    };
    for (std::int64_t step = earlier.steps; step < steps; ++step, ++step_index) {
      if (cursor + options.batch_size > n) {
        order = torch::randperm(n, generator, torch::kInt64);
        cursor = 0;
      }
      torch::Tensor index = order.slice(0, cursor, cursor + options.batch_size);
      cursor += options.batch_size;
      const double lr = step_index < warmup_steps
                            ? base_lr * (step_index + 1) / warmup_steps
                            : base_lr * 0.5 * (1 + std::cos(M_PI * (step_index - warmup_steps) / std::max(1.0, total_steps - warmup_steps)));
      for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      record.lr = lr;
      VitMasks masks = sample_vit_masks(spec, epoch, options.warmup_width_epochs, options.batch_size, groups_per_batch, generator);
      const torch::Device device = supernet.cls_token.device();
      if (group) {
        // This process's rows of the batch, with their rows of the per-sample masks.
        const auto [begin, end] = share_of_batch(options.batch_size, *group);
        index = index.slice(0, begin, end);
        masks = map_masks(masks, [&, begin = begin, end = end](const torch::Tensor& t) { return t.slice(0, begin, end); });
        set_whole_batch_rows(options.batch_size);
      }
      if (!device.is_cpu()) masks = masks_on(masks, device);
      const torch::Tensor logits = supernet.forward_masked(train.images.index_select(0, index).to(device), &masks, &generator);
      const torch::Tensor labels = train.labels.index_select(0, index).to(device);
      const torch::Tensor loss =
          group ? F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().label_smoothing(options.label_smoothing).reduction(torch::kSum)) /
                      static_cast<double>(options.batch_size)
                : F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().label_smoothing(options.label_smoothing));
      optimizer.zero_grad();
      loss.backward();
      double value = loss.item<double>();
      if (group) value = sum_step(supernet, value, *group);
      optimizer.step();
      if (!std::isfinite(value)) throw Error("supernet training diverged (non-finite loss) at epoch " + std::to_string(epoch + 1));
      loss_sum += value;
      if (on_step) {
        try {
          on_step(epoch + 1, step + 1, steps, value);
        } catch (...) {
          // A stop after this step: checkpoint it, so that --resume continues with the next one.
          if (checkpoints.save) save(epoch, step_index + 1, {step + 1, loss_sum, earlier.seconds + seconds_here(), record.lr});
          throw;
        }
      }
    }
    record.train_loss = loss_sum / static_cast<double>(std::max<std::int64_t>(1, steps));
    record.seconds = earlier.seconds + seconds_here();
    records.push_back(record);
    if (checkpoints.save) save(epoch + 1, step_index, {});
  }
  supernet.eval();
  return records;
}

}  // namespace nascent
