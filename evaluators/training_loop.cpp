#include "evaluators/training_loop.hpp"

#include <chrono>
#include <cmath>

#include "core/error.hpp"
#include "core/network.hpp"
#include "core/rng.hpp"
#include "datasets/batches.hpp"
#include "evaluators/evaluator.hpp"

namespace nascent {

TrainingSettings read_training_settings(const Options& options) {
  TrainingSettings settings;
  settings.epochs = options.get<double>("epochs");
  settings.steps = options.get<long long>("steps");
  settings.batch_size = options.get<long long>("batch_size");
  settings.lr = options.get<double>("lr");
  settings.lr_min = options.get<double>("lr_min");
  settings.momentum = options.get<double>("momentum");
  settings.weight_decay = options.get<double>("weight_decay");
  settings.nesterov = options.get<bool>("nesterov");
  settings.optimizer = options.get<std::string>("optimizer");
  settings.loader_threads = options.get<long long>("loader_threads");
  return settings;
}

namespace {

// Streams of derive_seed: the shuffling generator and the augmentation seeds must not replay the
// draws the caller made from the same seed (the network's initialisation), nor each other's.
constexpr std::uint64_t kShuffleStream = 0x5348554646ULL;  // "SHUFF"
constexpr std::uint64_t kAugmentStream = 0x4155474dULL;    // "AUGM"

std::unique_ptr<torch::optim::Optimizer> make_optimizer(Network& net, const TrainingSettings& settings) {
  if (settings.optimizer == "adamw")
    return std::make_unique<torch::optim::AdamW>(net.parameters(),
                                                 torch::optim::AdamWOptions(settings.lr).weight_decay(settings.weight_decay));
  return std::make_unique<torch::optim::SGD>(net.parameters(), torch::optim::SGDOptions(settings.lr)
                                                                   .momentum(settings.momentum)
                                                                   .nesterov(settings.nesterov)
                                                                   .weight_decay(settings.weight_decay));
}

TrainingSettings checked(TrainingSettings settings) {
  if (settings.batch_size < 1) throw Error("training: batch_size must be at least 1");
  if (!(settings.epochs >= 0) || settings.steps < 0) throw Error("training: epochs and steps must not be negative");
  if (!(settings.lr >= 0) || !(settings.lr_min >= 0) || !(settings.weight_decay >= 0))
    throw Error("training: lr, lr_min and weight_decay must not be negative");
  if (!(settings.momentum >= 0 && settings.momentum < 1)) throw Error("training: momentum must be in [0, 1)");
  if (settings.optimizer != "sgd" && settings.optimizer != "adamw")
    throw Error("training: optimizer '" + settings.optimizer + "': expected sgd or adamw");
  if (settings.loader_threads < 0) throw Error("training: loader_threads must not be negative");
  // LibTorch rejects Nesterov without momentum; `momentum: 0` alone should mean plain SGD.
  if (settings.momentum == 0) settings.nesterov = false;
  return settings;
}

}  // namespace

TrainingLoop::TrainingLoop(Network& net, const DataSplits& data, TrainingSettings settings, std::uint64_t seed,
                           const torch::Device& device)
    : TrainingLoop(net, data, std::move(settings), at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed, kShuffleStream)),
                   device) {}

TrainingLoop::TrainingLoop(Network& net, const DataSplits& data, TrainingSettings settings, at::Generator generator,
                           const torch::Device& device)
    : net_(net),
      data_(data),
      settings_(checked(std::move(settings))),
      generator_(std::move(generator)),
      augmentation_seed_(derive_seed(generator_.current_seed(), kAugmentStream)),
      device_(device) {
  const std::int64_t n = data_.train.size();
  if (n == 0) throw Error("dataset '" + data_.name + "': the training split is empty");
  steps_per_epoch_ = (n + settings_.batch_size - 1) / settings_.batch_size;
  total_steps_ = settings_.steps > 0 ? settings_.steps
                                     : static_cast<std::int64_t>(std::ceil(settings_.epochs * steps_per_epoch_));
  optimizer_ = make_optimizer(net_, settings_);
}

TrainingLoop::~TrainingLoop() = default;

EpochStats TrainingLoop::run_epoch() {
  EpochStats stats;
  stats.epoch = epochs_done();
  if (done()) return stats;
  const auto started = std::chrono::steady_clock::now();
  const std::int64_t n = data_.train.size();
  // Epochs always start at a multiple of steps_per_epoch: run_epoch ends at an epoch's end or at
  // the last step, and load() accepts only such states.
  const std::int64_t first_step = step_;
  // Only the batches this epoch trains on are prepared (the steps may end inside it).
  const std::int64_t batches = std::min(steps_per_epoch_, total_steps_ - step_);
  const torch::Tensor order = torch::randperm(n, generator_, torch::kInt64);
  EpochBatches loader(data_.train, order, settings_.batch_size, batches, data_.augmentation, augmentation_seed_,
                      stats.epoch, settings_.loader_threads);
  net_.train();
  double correct = 0, loss_sum = 0;
  Batch batch;
  while (loader.next(batch)) {
    if (stop_ && stop_()) throw TrainingStopped();
    const std::int64_t step = first_step + batch.index;
    step_ = step + 1;
    if (batch.labels.size(0) < 2) continue;  // BatchNorm cannot train on a single sample
    const double lr = settings_.lr_min + 0.5 * (settings_.lr - settings_.lr_min) *
                                             (1 + std::cos(M_PI * static_cast<double>(step) / total_steps_));
    for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
    const torch::Tensor x = batch.inputs.to(device_);
    const torch::Tensor y = batch.labels.to(device_);
    optimizer_->zero_grad();
    const torch::Tensor logits = net_.forward(x);
    const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
    loss.backward();
    optimizer_->step();
    const std::int64_t size = y.size(0);
    stats.samples += size;
    loss_sum += loss.item<double>() * size;
    correct += logits.argmax(1).eq(y).sum().item<double>();
  }
  if (stats.samples > 0) {
    stats.train_loss = loss_sum / stats.samples;
    stats.train_acc = 100.0 * correct / stats.samples;
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return stats;
}

void TrainingLoop::save(StateWriter& out) const {
  out.integer("training_loop.step", step_);
  out.integer("training_loop.steps_per_epoch", steps_per_epoch_);
  out.integer("training_loop.total_steps", total_steps_);
  // Stored as its bits: IValue integers are signed.
  out.integer("training_loop.augmentation_seed", static_cast<std::int64_t>(augmentation_seed_));
  out.optimizer("training_loop.optimizer", *optimizer_);
  at::Generator generator = generator_;  // a handle on the same state
  out.generator("training_loop.generator", generator);
}

void TrainingLoop::load(StateReader& in) {
  const std::int64_t steps_per_epoch = in.integer("training_loop.steps_per_epoch");
  const std::int64_t total_steps = in.integer("training_loop.total_steps");
  if (steps_per_epoch != steps_per_epoch_ || total_steps != total_steps_)
    throw Error("training state: saved for " + std::to_string(total_steps) + " steps of " +
                std::to_string(steps_per_epoch) + " per epoch, but this training has " + std::to_string(total_steps_) +
                " steps of " + std::to_string(steps_per_epoch_));
  const std::int64_t step = in.integer("training_loop.step");
  if (step < 0 || step > total_steps_ || (step % steps_per_epoch_ != 0 && step != total_steps_))
    throw Error("training state: step " + std::to_string(step) + " is not an epoch end of this training");
  augmentation_seed_ = static_cast<std::uint64_t>(in.integer("training_loop.augmentation_seed"));
  in.optimizer("training_loop.optimizer", *optimizer_);
  in.generator("training_loop.generator", generator_);
  step_ = step;
}

}  // namespace nascent
