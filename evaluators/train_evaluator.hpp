#pragma once
#include <deque>
#include <map>
#include <mutex>

#include "datasets/dataset.hpp"
#include "evaluators/evaluator.hpp"
#include "evaluators/reported_metrics.hpp"
#include "evaluators/training_loop.hpp"

namespace nascent {

class Network;

// Trains each candidate from scratch with SGD (momentum, optional Nesterov, weight decay) or AdamW and a
// per-step cosine learning-rate schedule (TrainingLoop, with the data's training augmentation),
// then measures it: val_acc, val_loss, train_acc,
// train_loss, test_acc, test_loss (percent / mean cross-entropy), params, flops, train_seconds,
// latency_ms (batch 1, median). The evaluation's cost is its training seconds.
class TrainEvaluator : public Evaluator, public WeightTransferEvaluator, public TrainsInStages, public ReportsMetrics, public EvaluatesTask {
 public:
  struct Options {
    // Epochs or steps, batch size, optimiser and schedule, loader threads. Nesterov is ignored when
    // momentum is 0.
    TrainingSettings training;
    std::int64_t eval_batch_size = 512;
    bool test = true;
    bool latency = true;
    std::string device = "cpu";
    // Text tasks: masked-language-model steps before fine-tuning (0: none), see pretrain_masked_lm.
    std::int64_t pretrain_steps = 0;
    double pretrain_lr = 1e-3;
    double mask_fraction = 0.15;
    // Weight transfer: the trained weights of the last `keep_weights` candidates stay in memory so
    // that a later candidate can start from them (evaluate_from; BOSHNAS asks for it). 0: none kept.
    std::size_t keep_weights = 0;
    // A candidate that runs out of memory is trained again from scratch with half the batch size,
    // up to this many times (metric batch_size says which one trained it); 0: stored as `oom`.
    int oom_retries = 0;
    // Asked between steps: true ends the training with TrainingStopped (EvaluatorContext::stop).
    std::function<bool()> stop;
  };
  TrainEvaluator(DataSplits data, Options options);

  std::string name() const override { return "train"; }
  Evaluation evaluate(const SearchSpace& space, const std::string& arch, std::uint64_t seed) override;
  // Starts from `source`'s kept weights (tensors matched by name and shape; metric transfer_overlap)
  // and skips pre-training; without kept weights for `source`, the same as evaluate().
  Evaluation evaluate_from(const SearchSpace& space, const std::string& arch, std::uint64_t seed,
                           const std::string& source) override;
  // One installment of a multi-fidelity search; `steps` must be 0 (fidelity is counted in epochs).
  Evaluation evaluate_for(const SearchSpace& space, const std::string& arch, std::uint64_t seed, std::int64_t epochs,
                          std::int64_t schedule_epochs, const std::string& resume_state, std::string& state) override;
  const DataSplits& data() const { return data_; }
  const Options& options() const { return options_; }
  std::vector<std::string> reported_metrics() const override;
  Task evaluation_task() const override { return Task{data_.input_shape, data_.num_classes, data_.vocabulary_size}; }

 private:
  double pretrain_masked_lm(Network& net, at::Generator& generator, const torch::Device& device, std::int64_t batch_size);
  struct Installment {
    std::int64_t epochs = 0, schedule_epochs = 0;
    const std::string* resume_state = nullptr;
    std::string* state = nullptr;
  };
  Evaluation run(const SearchSpace& space, const std::string& arch, std::uint64_t seed, const std::string& source,
                 const Installment* installment = nullptr);
  Evaluation attempt(const SearchSpace& space, const std::string& arch, std::uint64_t seed, const std::string& source,
                     const Installment* installment, std::int64_t batch_size);

  DataSplits data_;
  Options options_;
  std::mutex weights_mutex_;
  std::map<std::string, std::map<std::string, torch::Tensor>> kept_weights_;
  std::deque<std::string> kept_order_;
};

// Accuracy (percent) and mean cross-entropy of `net` in eval mode over `set`, `batch_size` at a time.
struct SetScore {
  double accuracy = 0, loss = 0;
};
SetScore score_on(Network& net, const ImageSet& set, std::int64_t batch_size, const torch::Device& device);

// Parses cpu / cuda / cuda:N and checks that LibTorch can use it; throws Error otherwise.
std::string checked_device(const std::string& device);

}  // namespace nascent
