// DARTS (Liu, Simonyan & Yang, ICLR 2019), following quark0/darts: each step first updates the
// architecture weights on a batch of the alpha split, then the network weights on a batch of the
// weight split.
#include <chrono>
#include <cmath>
#include <sstream>
#include <type_traits>

#include "core/data_parallel.hpp"
#include "core/error.hpp"
#include "core/optimizer_state.hpp"
#include "core/rng.hpp"
#include "core/training_state.hpp"
#include "evaluators/train_evaluator.hpp"
#include "strategies/differentiable.hpp"

namespace nascent {

namespace {

torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels) {
  return torch::nn::functional::cross_entropy(logits, labels);
}

ImageSet slice(const ImageSet& set, std::int64_t begin, std::int64_t end) {
  return {set.images.slice(0, begin, end), set.labels.slice(0, begin, end)};
}

}  // namespace

std::vector<torch::Tensor> gradients_or_zeros(const torch::Tensor& loss, const std::vector<torch::Tensor>& inputs) {
  std::vector<torch::Tensor> grads =
      torch::autograd::grad({loss}, inputs, {}, /*retain_graph=*/false, /*create_graph=*/false, /*allow_unused=*/true);
  for (std::size_t i = 0; i < grads.size(); ++i)
    if (!grads[i].defined()) grads[i] = torch::zeros_like(inputs[i]);
  return grads;
}

torch::Tensor batch_loss(const torch::Tensor& logits, const Batch& batch) {
  if (!active_data_parallel()) return cross_entropy(logits, batch.y);
  namespace F = torch::nn::functional;
  return F::cross_entropy(logits, batch.y, F::CrossEntropyFuncOptions().reduction(torch::kSum)) / static_cast<double>(batch.rows);
}

std::vector<torch::Tensor> batch_gradients(const torch::Tensor& loss, const std::vector<torch::Tensor>& inputs) {
  std::vector<torch::Tensor> grads = gradients_or_zeros(loss, inputs);
  if (DataParallel* group = active_data_parallel()) sum_gradients(grads, *group);
  return grads;
}

DifferentiableSearch::DifferentiableSearch(std::shared_ptr<CellSupernet> w_net, std::shared_ptr<CellSupernet> y_net,
                                           const ImageSet& data, DifferentiableOptions options, std::uint64_t seed)
    : w_net_(std::move(w_net)),
      y_net_(std::move(y_net)),
      options_(std::move(options)),
      device_(options_.device),
      generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {
  if (options_.method == "rarts" && !y_net_) throw Error("rarts needs a second network (y)");
  const std::int64_t n = data.size();
  const auto n_weights = static_cast<std::int64_t>(std::floor(static_cast<double>(n) * options_.train_portion));
  if (n_weights < 2 || n - n_weights < 2)
    throw Error("differentiable search: " + std::to_string(n) + " training samples leave too few for a " +
                std::to_string(options_.train_portion) + " weight / alpha split");
  weight_split_ = slice(data, 0, n_weights);
  alpha_split_ = slice(data, n_weights, n);
  steps_per_epoch_ = options_.steps_per_epoch > 0 ? options_.steps_per_epoch
                                                  : (n_weights + options_.batch_size - 1) / options_.batch_size;

  w_net_->reset_parameters(generator_);
  w_net_->to(device_);
  alphas_ = w_net_->initial_alphas(generator_);
  for (auto& a : alphas_) a = a.to(device_).set_requires_grad(true);
  w_net_->set_alphas(alphas_);
  const auto sgd = [&](CellSupernet& net) {
    return std::make_unique<torch::optim::SGD>(net.parameters(), torch::optim::SGDOptions(options_.lr)
                                                                     .momentum(options_.momentum)
                                                                     .nesterov(options_.nesterov)
                                                                     .weight_decay(options_.weight_decay));
  };
  w_optimizer_ = sgd(*w_net_);
  if (y_net_) {
    // Network splitting starts from one network: y is a copy of w.
    y_net_->to(device_);
    torch::NoGradGuard no_grad;
    auto source = w_net_->named_parameters();
    for (auto& item : y_net_->named_parameters()) item.value().copy_(source[item.key()]);
    auto source_buffers = w_net_->named_buffers();
    for (auto& item : y_net_->named_buffers()) item.value().copy_(source_buffers[item.key()]);
    y_net_->set_alphas(alphas_);
    y_optimizer_ = sgd(*y_net_);
  }
  alpha_optimizer_ = std::make_unique<torch::optim::Adam>(
      alphas_, torch::optim::AdamOptions(options_.arch_lr).betas({options_.arch_beta1, options_.arch_beta2}).weight_decay(options_.arch_weight_decay));
}

Batch DifferentiableSearch::next_batch(const ImageSet& split, torch::Tensor& order, std::int64_t& cursor) {
  const std::int64_t n = split.size();
  // A batch never wraps around: the last, short one of a pass is kept unless it has one sample,
  // which BatchNorm cannot train on.
  if (!order.defined() || cursor >= n || n - cursor < 2) {
    order = torch::randperm(n, generator_, torch::kInt64);
    cursor = 0;
  }
  torch::Tensor index = order.slice(0, cursor, std::min(n, cursor + options_.batch_size));
  cursor += index.size(0);
  const std::int64_t rows = index.size(0);
  if (group_) {
    const auto [begin, end] = share_of_batch(rows, *group_);
    index = index.slice(0, begin, end);
  }
  return {split.images.index_select(0, index).to(device_), split.labels.index_select(0, index).to(device_), rows};
}

std::vector<torch::Tensor> momentum_buffers(torch::optim::SGD& optimizer, CellSupernet& net) {
  std::vector<torch::Tensor> buffers;
  auto& state = optimizer.state();
  for (const auto& p : net.parameters()) {
    auto it = find_optimizer_state(state, p);
    buffers.push_back(it == state.end() ? torch::Tensor()
                                        : static_cast<torch::optim::SGDParamState&>(*it->second).momentum_buffer());
  }
  return buffers;
}

std::vector<torch::Tensor> unrolled_arch_gradient(CellSupernet& net, const std::vector<torch::Tensor>& alphas,
                                                  const Batch& train, const Batch& val, double xi, double momentum,
                                                  double weight_decay, const std::vector<torch::Tensor>& buffers,
                                                  double radius) {
  std::vector<torch::Tensor> params = net.parameters();
  std::vector<torch::Tensor> saved;
  {
    const std::vector<torch::Tensor> grads = batch_gradients(batch_loss(net.forward(train.x), train), params);
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < params.size(); ++i) {
      saved.push_back(params[i].detach().clone());
      torch::Tensor step = grads[i] + weight_decay * params[i];
      if (i < buffers.size() && buffers[i].defined()) step += momentum * buffers[i];
      params[i].sub_(xi * step);
    }
  }
  std::vector<torch::Tensor> inputs = alphas;
  inputs.insert(inputs.end(), params.begin(), params.end());
  const std::vector<torch::Tensor> at_unrolled = batch_gradients(batch_loss(net.forward(val.x), val), inputs);
  double norm_sq = 0;
  for (std::size_t i = alphas.size(); i < at_unrolled.size(); ++i) norm_sq += at_unrolled[i].pow(2).sum().item<double>();
  const double eps = radius / std::max(std::sqrt(norm_sq), 1e-300);

  const auto alpha_grad_at = [&](double sign) {
    {
      torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(saved[i] + sign * eps * at_unrolled[alphas.size() + i]);
    }
    return batch_gradients(batch_loss(net.forward(train.x), train), alphas);
  };
  const std::vector<torch::Tensor> plus = alpha_grad_at(1.0);
  const std::vector<torch::Tensor> minus = alpha_grad_at(-1.0);
  {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(saved[i]);
  }
  std::vector<torch::Tensor> result;
  for (std::size_t a = 0; a < alphas.size(); ++a) result.push_back(at_unrolled[a] - xi * (plus[a] - minus[a]) / (2 * eps));
  return result;
}

double DifferentiableSearch::darts_step(const Batch& train, const Batch& val, double lr, double& correct) {
  // Gradients are assigned, not accumulated, so no zero_grad() (which cannot detach view gradients).
  std::vector<torch::Tensor> alpha_grads;
  if (options_.order == 2) {
    alpha_grads = unrolled_arch_gradient(*w_net_, alphas_, train, val, lr, options_.momentum, options_.weight_decay,
                                         momentum_buffers(*w_optimizer_, *w_net_), options_.hessian_radius);
  } else {
    // Only alpha's gradient: LibTorch then skips the weight gradients of every layer.
    alpha_grads = batch_gradients(batch_loss(w_net_->forward(val.x), val), alphas_);
  }
  for (std::size_t a = 0; a < alphas_.size(); ++a) alphas_[a].mutable_grad() = alpha_grads[a].detach().clone();
  alpha_optimizer_->step();

  torch::Tensor logits = w_net_->forward(train.x);
  torch::Tensor loss = batch_loss(logits, train);
  weight_step(*w_optimizer_, *w_net_, batch_gradients(loss, w_net_->parameters()));
  correct += logits.argmax(1).eq(train.y).sum().item<double>();
  return loss.item<double>();
}

void DifferentiableSearch::weight_step(torch::optim::SGD& optimizer, CellSupernet& net, const std::vector<torch::Tensor>& grads) {
  std::vector<torch::Tensor> params = net.parameters();
  for (std::size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = grads[i].detach().clone();
  if (options_.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params, options_.grad_clip);
  optimizer.step();
}

EpochRecord DifferentiableSearch::run_epoch(const std::function<void(std::int64_t, std::int64_t, double)>& progress) {
  const auto started = std::chrono::steady_clock::now();
  EpochRecord record;
  record.epoch = epoch_ + 1;
  // CosineAnnealingLR stepped once per epoch, as the reference does.
  record.lr = options_.lr_min + 0.5 * (options_.lr - options_.lr_min) * (1 + std::cos(M_PI * epoch_ / options_.epochs));
  const double lr_y = options_.lr_y > 0 ? options_.lr_y * record.lr / options_.lr : record.lr;
  for (auto& group : w_optimizer_->param_groups()) group.options().set_lr(record.lr);
  if (y_optimizer_)
    for (auto& group : y_optimizer_->param_groups()) group.options().set_lr(lr_y);

  w_net_->train();
  if (y_net_) y_net_->train();
  const auto seconds_here = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  const DataParallelScope data_parallel(group_);
  // The epoch's running sums are members: a stop inside the epoch saves them with the state, and
  // the resumed epoch continues at the next step (partial_.steps > 0).
  while (partial_.steps < steps_per_epoch_) {
    const Batch train = next_batch(weight_split_, weight_order_, weight_cursor_);
    const Batch val = next_batch(alpha_split_, alpha_order_, alpha_cursor_);
    double correct = 0;
    double loss = options_.method == "rarts" ? rarts_step(train, val, correct) : darts_step(train, val, record.lr, correct);
    if (group_) {
      // The shares' losses are parts of the whole batch's mean; their correct counts add up.
      torch::Tensor step_metrics = torch::tensor({loss, correct}, torch::kDouble);
      group_->sum(step_metrics);
      loss = step_metrics[0].item<double>();
      correct = step_metrics[1].item<double>();
    }
    partial_.correct += correct;
    if (!std::isfinite(loss)) throw Error("differentiable search: the training loss diverged (" + std::to_string(loss) + ") in epoch " + std::to_string(record.epoch) + "; lower strategy.lr");
    partial_.loss_sum += loss * static_cast<double>(train.rows);
    partial_.seen += static_cast<double>(train.rows);
    ++partial_.steps;
    if (progress) {
      try {
        progress(partial_.steps, steps_per_epoch_, partial_.loss_sum / partial_.seen);
      } catch (...) {
        partial_.seconds += seconds_here();
        throw;
      }
    }
  }
  record.train_loss = partial_.loss_sum / partial_.seen;
  record.train_acc = 100.0 * partial_.correct / partial_.seen;

  if (group_) {
    // Each member scores its share of the alpha split (eval mode: running statistics, nothing to
    // synchronise) and the shares' sums are added up.
    const auto [begin, end] = share_of_batch(alpha_split_.size(), *group_);
    torch::Tensor sums = torch::zeros({2}, torch::kDouble);
    if (end > begin) {
      const SetScore share = score_on(*w_net_, slice(alpha_split_, begin, end), options_.eval_batch_size, device_);
      sums[0] = share.loss * static_cast<double>(end - begin);
      sums[1] = share.accuracy * static_cast<double>(end - begin);
    }
    group_->sum(sums);
    record.val_loss = sums[0].item<double>() / static_cast<double>(alpha_split_.size());
    record.val_acc = sums[1].item<double>() / static_cast<double>(alpha_split_.size());
  } else {
    const SetScore val = score_on(*w_net_, alpha_split_, options_.eval_batch_size, device_);
    record.val_loss = val.loss;
    record.val_acc = val.accuracy;
  }
  w_net_->train();
  for (const auto& a : alphas_) record.alpha_softmax.push_back(torch::softmax(a.detach().to(torch::kCPU, torch::kFloat64), -1));
  record.genotype = w_net_->genotype(alphas_);
  ++epoch_;
  record.seconds = partial_.seconds + seconds_here();
  partial_ = EpochInProgress{};
  return record;
}

std::string DifferentiableSearch::save_state() {
  StateWriter state;
  state.integer("epoch", epoch_);
  partial_.save(state);
  state.integer("weight_cursor", weight_cursor_);
  state.integer("alpha_cursor", alpha_cursor_);
  state.tensor("weight_order", weight_order_);
  state.tensor("alpha_order", alpha_order_);
  state.generator("generator", generator_);
  for (std::size_t a = 0; a < alphas_.size(); ++a) state.tensor("alpha." + std::to_string(a), alphas_[a]);
  state.module("w_net", *w_net_);
  state.optimizer("w_optimizer", *w_optimizer_);
  state.optimizer("alpha_optimizer", *alpha_optimizer_);
  if (y_net_) {
    state.module("y_net", *y_net_);
    state.optimizer("y_optimizer", *y_optimizer_);
  }
  return state.bytes();
}

void DifferentiableSearch::load_state(const std::string& bytes) {
  StateReader state(bytes);
  epoch_ = static_cast<int>(state.integer("epoch"));
  partial_ = EpochInProgress::load(state);
  weight_cursor_ = state.integer("weight_cursor");
  alpha_cursor_ = state.integer("alpha_cursor");
  weight_order_ = state.tensor("weight_order");
  alpha_order_ = state.tensor("alpha_order");
  state.generator("generator", generator_);
  {
    torch::NoGradGuard no_grad;
    for (std::size_t a = 0; a < alphas_.size(); ++a) alphas_[a].copy_(state.tensor("alpha." + std::to_string(a), device_));
  }
  state.module("w_net", *w_net_, device_);
  state.optimizer("w_optimizer", *w_optimizer_);
  state.optimizer("alpha_optimizer", *alpha_optimizer_);
  if (y_net_) {
    state.module("y_net", *y_net_, device_);
    state.optimizer("y_optimizer", *y_optimizer_);
  }
}

}  // namespace nascent
