#pragma once
// Epoch-wise supervised training of one network: the loop the training evaluator and final
// training share.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/options.hpp"
#include "core/training_state.hpp"
#include "datasets/dataset.hpp"

namespace nascent {

class Network;

struct TrainingSettings {
  double epochs = 1;
  std::int64_t steps = 0;  // when > 0, overrides epochs
  std::int64_t batch_size = 128;
  double lr = 0.1, lr_min = 0, momentum = 0.9, weight_decay = 5e-4;
  bool nesterov = true;           // ignored when momentum is 0
  std::string optimizer = "sgd";  // sgd (momentum, nesterov above) or adamw
  std::int64_t loader_threads = 2;  // threads preparing batches ahead; 0: prepared by the training thread
};

// The ten training keys (epochs, steps, batch_size, lr, lr_min, momentum, weight_decay, nesterov,
// optimizer, loader_threads) of a section whose table declares them: the train evaluator's and a
// final training step's.
TrainingSettings read_training_settings(const Options& options);

// One epoch's training figures (the last epoch may be partial).
struct EpochStats {
  std::int64_t epoch = 0;
  double train_loss = 0, train_acc = 0;  // mean cross-entropy and percent over the samples trained on
  double seconds = 0;
  std::int64_t samples = 0;  // 0 when every batch of the epoch was skipped
};

// Trains `net` (already on `device`) on data.train with SGD (momentum, optional Nesterov, weight
// decay) or AdamW and a per-step cosine learning-rate schedule from lr to lr_min over
// total_steps(). Each epoch visits the training split in the order of torch::randperm drawn from
// the loop's generator at the epoch's start, in batches of batch_size (the last smaller); a batch
// of one sample is skipped (BatchNorm cannot train on it) but still counts as a step. Batches come
// from EpochBatches with data.augmentation, seeded from (augmentation seed, epoch, batch), so the
// training does not depend on loader_threads, and a loop restored by load() at an epoch end
// continues exactly as the uninterrupted one. `net` and `data` must outlive the loop.
class TrainingLoop {
 public:
  // The shuffling generator and the augmentation seed are both derived from `seed`.
  TrainingLoop(Network& net, const DataSplits& data, TrainingSettings settings, std::uint64_t seed,
               const torch::Device& device);
  // Shuffles with `generator` (shared, not copied: it continues where the caller's draws left
  // off, as the training evaluator needs after initialising the network from it); the
  // augmentation seed is derived from its initial seed.
  TrainingLoop(Network& net, const DataSplits& data, TrainingSettings settings, at::Generator generator,
               const torch::Device& device);
  ~TrainingLoop();

  std::int64_t total_steps() const { return total_steps_; }
  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  std::int64_t step() const { return step_; }
  std::int64_t epochs_done() const { return steps_per_epoch_ > 0 ? step_ / steps_per_epoch_ : 0; }
  std::int64_t total_epochs() const {
    return steps_per_epoch_ > 0 ? (total_steps_ + steps_per_epoch_ - 1) / steps_per_epoch_ : 0;
  }
  bool done() const { return step_ >= total_steps_; }
  const TrainingSettings& settings() const { return settings_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }

  // Trains the next epoch (partial when the steps end inside it); after done(), an empty EpochStats.
  // Throws TrainingStopped before a step when the stop_when() check says so; the loop is then
  // mid-epoch and only good for throwing away (save() states come from epoch ends).
  EpochStats run_epoch();
  void stop_when(std::function<bool()> asked) { stop_ = std::move(asked); }

  // The step, optimiser state, generator state and augmentation seed, under keys starting with
  // "training_loop.": what continuing from an epoch end needs besides the network's weights,
  // which the caller saves.
  void save(StateWriter& out) const;
  // Restores what save() wrote into a loop built with the same network, data and settings; a
  // state from a loop with another number of steps per epoch or total steps is an Error.
  void load(StateReader& in);

 private:
  Network& net_;
  const DataSplits& data_;
  TrainingSettings settings_;
  at::Generator generator_;
  std::uint64_t augmentation_seed_;
  torch::Device device_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::int64_t steps_per_epoch_ = 0, total_steps_ = 0, step_ = 0;
  std::function<bool()> stop_;
};

}  // namespace nascent
