#pragma once
// Training state as bytes, for checkpoints that continue a training exactly: weights, optimiser
// states, random generators and plain values under names.
#include <torch/torch.h>

#include <functional>
#include <optional>
#include <sstream>
#include <string>

#include "core/rng.hpp"

namespace nascent {

class StateWriter {
 public:
  void integer(const std::string& key, std::int64_t value) { archive_.write(key, c10::IValue(value)); }
  void number(const std::string& key, double value) { archive_.write(key, c10::IValue(value)); }
  void text(const std::string& key, const std::string& value) { archive_.write(key, c10::IValue(value)); }
  // An undefined tensor round-trips as undefined.
  void tensor(const std::string& key, const torch::Tensor& value);
  void module(const std::string& key, torch::nn::Module& module);
  void optimizer(const std::string& key, torch::optim::Optimizer& optimizer);
  void generator(const std::string& key, at::Generator& generator);
  void rng(const std::string& key, const Rng& rng);
  std::string bytes();

 private:
  torch::serialize::OutputArchive archive_;
};

class StateReader {
 public:
  explicit StateReader(const std::string& bytes);
  std::int64_t integer(const std::string& key);
  double number(const std::string& key);
  std::string text(const std::string& key);
  torch::Tensor tensor(const std::string& key, const torch::Device& device = torch::kCPU);
  void module(const std::string& key, torch::nn::Module& module, const torch::Device& device);
  void optimizer(const std::string& key, torch::optim::Optimizer& optimizer);
  void generator(const std::string& key, at::Generator& generator);
  void rng(const std::string& key, Rng& rng);
  bool has(const std::string& key);

 private:
  torch::serialize::InputArchive archive_;
};

// Epoch-end checkpoints of a supernet training: `save` receives the whole training state after
// every epoch; `resume` is such a state to continue from, after which the training goes on exactly
// as if it had never stopped.
struct TrainingCheckpoints {
  std::function<void(const std::string& state)> save;
  std::optional<std::string> resume;
};

// The epoch a stop (Ctrl-C, a budget) interrupted: the steps it has done and its running sums, from
// which a resumed training finishes it. Part of every checkpoint; all zero at an epoch's end.
struct EpochInProgress {
  std::int64_t steps = 0;
  double loss_sum = 0, seconds = 0, lr = 0;
  double correct = 0, seen = 0;  // for trainings that count accuracy over the epoch
  void save(StateWriter& state) const;
  // All zero for checkpoints written before stops were saved inside epochs.
  static EpochInProgress load(StateReader& state);
};

}  // namespace nascent
