#include "evaluators/train_evaluator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <new>

#include "core/error.hpp"
#include "core/network.hpp"
#include "evaluators/latency.hpp"
#include "evaluators/training_loop.hpp"

namespace nascent {

std::string checked_device(const std::string& device) {
  if (device == "cpu") return device;
  if (device == "cuda" || device.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (device.size() > 5) {
      try {
        std::size_t used = 0;
        index = std::stoi(device.substr(5), &used);
        if (used != device.size() - 5 || index < 0) throw std::invalid_argument(device);
      } catch (const std::exception&) {
        throw Error("device '" + device + "': expected cpu, cuda or cuda:N");
      }
    }
    if (!torch::cuda::is_available())
      throw Error("device '" + device + "' requested but LibTorch sees no CUDA device");
    if (index >= static_cast<int>(torch::cuda::device_count()))
      throw Error("device '" + device + "' requested but LibTorch sees only " +
                  std::to_string(torch::cuda::device_count()) + " CUDA device(s)");
    return device;
  }
  throw Error("device '" + device + "': expected cpu, cuda or cuda:N");
}

SetScore score_on(Network& net, const ImageSet& set, std::int64_t batch_size, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  net.eval();
  double correct = 0, loss = 0;
  for (std::int64_t start = 0; start < set.size(); start += batch_size) {
    const std::int64_t end = std::min(set.size(), start + batch_size);
    torch::Tensor x = set.images.slice(0, start, end).to(device);
    torch::Tensor y = set.labels.slice(0, start, end).to(device);
    torch::Tensor logits = net.forward(x);
    loss += torch::nn::functional::cross_entropy(logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
    correct += logits.argmax(1).eq(y).sum().item<double>();
  }
  const double n = std::max<std::int64_t>(1, set.size());
  return {100.0 * correct / n, loss / n};
}

TrainEvaluator::TrainEvaluator(DataSplits data, Options options) : data_(std::move(data)), options_(std::move(options)) {
  options_.device = checked_device(options_.device);
  if (options_.training.batch_size < 1) throw Error("config: evaluator.batch_size must be at least 1");
  if (options_.eval_batch_size < 1) throw Error("config: evaluator.eval_batch_size must be at least 1");
  if (!(options_.training.epochs >= 0) || options_.training.steps < 0) throw Error("config: evaluator.epochs and steps must not be negative");
  if (!(options_.training.lr >= 0) || !(options_.training.lr_min >= 0) || !(options_.training.weight_decay >= 0))
    throw Error("config: evaluator.lr, lr_min and weight_decay must not be negative");
  if (!(options_.training.momentum >= 0 && options_.training.momentum < 1)) throw Error("config: evaluator.momentum must be in [0, 1)");
  // LibTorch rejects Nesterov without momentum; `momentum: 0` alone should mean plain SGD.
  if (options_.training.momentum == 0) options_.training.nesterov = false;
  if (options_.training.optimizer != "sgd" && options_.training.optimizer != "adamw")
    throw Error("config: evaluator.optimizer '" + options_.training.optimizer + "': expected sgd or adamw");
  if (options_.pretrain_steps < 0 || !(options_.pretrain_lr > 0))
    throw Error("config: evaluator.pretrain_steps must not be negative and pretrain_lr must be positive");
  if (!(options_.mask_fraction > 0 && options_.mask_fraction < 1)) throw Error("config: evaluator.mask_fraction must be in (0, 1)");
  if (options_.oom_retries < 0) throw Error("config: evaluator.oom_retries must not be negative");
  if (options_.training.loader_threads < 0) throw Error("config: evaluator.loader_threads must not be negative");
  if (data_.train.size() == 0) throw Error("dataset '" + data_.name + "': the training split is empty");
  // An empty validation split would score every candidate 0 and make the search meaningless.
  if (data_.val.size() == 0) throw Error("dataset '" + data_.name + "': the validation split is empty");
}

namespace {

// Evaluation errors are stored and printed one per line; LibTorch messages can span several.
std::string first_line(const std::string& message) {
  std::size_t begin = message.find_first_not_of(" \n");
  if (begin == std::string::npos) return "unknown error";
  return message.substr(begin, message.find('\n', begin) - begin);
}

}  // namespace

// Masked-language-model pre-training on the training split's token sequences (RoBERTa-style
// dynamic masking): `mask_fraction` of the real tokens of each batch are replaced by the data's mask
// id (a word vocabulary reserves one; a character vocabulary uses the unknown id, which its training
// text never contains), and predicted by a linear
// head over the per-token features. AdamW (beta2 0.98, eps 1e-6, weight decay 0.01, spec B9) with a
// linearly decaying rate. Returns the mean loss over the last quarter of the steps.
double TrainEvaluator::pretrain_masked_lm(Network& net, at::Generator& generator, const torch::Device& device, std::int64_t batch_size) {
  if (data_.train.images.scalar_type() != torch::kLong || data_.vocabulary_size < 3)
    throw Error("evaluator.pretrain_steps needs a text dataset (token ids), such as wordnet");
  net.train();
  torch::Tensor probe = data_.train.images.slice(0, 0, 2).to(device);
  const std::int64_t width = net.token_features(probe).size(-1);
  torch::nn::Linear head(width, data_.vocabulary_size);
  {
    // Initialised from the candidate's generator (nn::Linear's own draw uses the global one).
    torch::NoGradGuard no_grad;
    const double bound = 1.0 / std::sqrt(static_cast<double>(width));
    head->weight.uniform_(-bound, bound, generator);
    head->bias.uniform_(-bound, bound, generator);
  }
  head->to(device);
  std::vector<torch::Tensor> parameters = net.parameters();
  for (const auto& p : head->parameters()) parameters.push_back(p);
  torch::optim::AdamW optimizer(parameters, torch::optim::AdamWOptions(options_.pretrain_lr).betas({0.9, 0.98}).eps(1e-6).weight_decay(0.01));
  const std::int64_t n = data_.train.size();
  double tail_loss = 0;
  std::int64_t tail_count = 0;
  for (std::int64_t step = 0; step < options_.pretrain_steps; ++step) {
    if (options_.stop && options_.stop()) throw TrainingStopped();
    const double lr = options_.pretrain_lr * (1.0 - static_cast<double>(step) / options_.pretrain_steps);
    for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
    torch::Tensor index = torch::randint(n, {batch_size}, generator, torch::kInt64);
    torch::Tensor tokens = data_.train.images.index_select(0, index).to(device);
    torch::Tensor real = tokens.ne(0).logical_and(tokens.ne(data_.mask_id));
    torch::Tensor chosen = torch::rand(tokens.sizes(), generator).to(device).lt(options_.mask_fraction).logical_and(real);
    if (chosen.sum().item<std::int64_t>() == 0) continue;
    torch::Tensor masked = tokens.masked_fill(chosen, data_.mask_id);
    optimizer.zero_grad();
    torch::Tensor logits = head(net.token_features(masked).index({chosen}));
    torch::Tensor loss = torch::nn::functional::cross_entropy(logits, tokens.index({chosen}));
    loss.backward();
    optimizer.step();
    if (step >= options_.pretrain_steps * 3 / 4) {
      tail_loss += loss.item<double>();
      ++tail_count;
    }
  }
  return tail_count > 0 ? tail_loss / tail_count : 0.0;
}

std::vector<std::string> TrainEvaluator::reported_metrics() const {
  std::vector<std::string> metrics{"val_acc", "val_loss", "train_acc", "train_loss", "params", "flops", "train_seconds"};
  if (options_.test) metrics.insert(metrics.end(), {"test_acc", "test_loss"});
  if (options_.latency) metrics.push_back("latency_ms");
  if (options_.pretrain_steps > 0) metrics.insert(metrics.end(), {"pretrain_loss", "pretrain_seconds"});
  if (options_.keep_weights > 0) metrics.push_back("transfer_overlap");
  if (options_.oom_retries > 0) metrics.push_back("batch_size");
  return metrics;
}

Evaluation TrainEvaluator::evaluate(const SearchSpace& space, const std::string& arch, std::uint64_t seed) {
  return run(space, arch, seed, "");
}

Evaluation TrainEvaluator::evaluate_from(const SearchSpace& space, const std::string& arch, std::uint64_t seed,
                                         const std::string& source) {
  return run(space, arch, seed, source);
}

Evaluation TrainEvaluator::evaluate_for(const SearchSpace& space, const std::string& arch, std::uint64_t seed, std::int64_t epochs,
                                        std::int64_t schedule_epochs, const std::string& resume_state, std::string& state) {
  if (options_.training.steps > 0)
    throw Error("config: evaluator.steps: a multi-fidelity search counts training in epochs; give evaluator.epochs instead");
  if (epochs < 1 || schedule_epochs < epochs)
    throw Error("multi-fidelity: cannot train " + std::to_string(epochs) + " of " + std::to_string(schedule_epochs) + " epochs");
  const Installment installment{epochs, schedule_epochs, &resume_state, &state};
  return run(space, arch, seed, "", &installment);
}

Evaluation TrainEvaluator::run(const SearchSpace& space, const std::string& arch, std::uint64_t seed, const std::string& source,
                               const Installment* installment) {
  // A continued installment must keep the batch size its saved data order was drawn for.
  const bool continuing = installment && !installment->resume_state->empty();
  const int retries = continuing ? 0 : options_.oom_retries;
  std::int64_t batch_size = options_.training.batch_size;
  double seconds = 0;
  for (int retry = 0;; ++retry) {
    Evaluation evaluation = attempt(space, arch, seed, source, installment, batch_size);
    seconds += evaluation.seconds;
    if (!evaluation.out_of_memory || retry >= retries || batch_size == 1) {
      evaluation.seconds = seconds;  // the failed attempts' time was spent on this candidate too
      return evaluation;
    }
    batch_size = std::max<std::int64_t>(1, batch_size / 2);
  }
}

Evaluation TrainEvaluator::attempt(const SearchSpace& space, const std::string& arch, std::uint64_t seed, const std::string& source,
                                   const Installment* installment, std::int64_t batch_size) {
  const auto started = std::chrono::steady_clock::now();
  Evaluation evaluation;
  evaluation.device = options_.device;
  try {
    const torch::Device device(options_.device);
    const Task task{data_.input_shape, data_.num_classes, data_.vocabulary_size};
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    std::shared_ptr<Network> net = space.build(arch, task);
    net->reset_parameters(generator);
    bool transferred = false;
    if (!source.empty()) {
      std::lock_guard<std::mutex> lock(weights_mutex_);
      auto kept = kept_weights_.find(source);
      if (kept != kept_weights_.end()) {
        // Weight transfer: every tensor whose name and shape match starts from the source's value.
        torch::NoGradGuard no_grad;
        std::size_t copied = 0, total = 0;
        for (auto& item : net->named_parameters()) {
          ++total;
          auto match = kept->second.find(item.key());
          if (match != kept->second.end() && match->second.sizes() == item.value().sizes()) {
            item.value().copy_(match->second);
            ++copied;
          }
        }
        transferred = copied > 0;
        evaluation.metrics["transfer_overlap"] = total ? static_cast<double>(copied) / total : 0.0;
      }
    }
    net->to(device);
    std::int64_t params = 0;
    for (const auto& p : net->parameters()) params += p.numel();

    const bool continuing = installment && !installment->resume_state->empty();
    // A transferred network is only fine-tuned, as BOSHNAS does with weights from a trained neighbour;
    // a continued one was pre-trained in its first installment.
    if (options_.pretrain_steps > 0 && !transferred && !continuing) {
      const auto pretrain_start = std::chrono::steady_clock::now();
      evaluation.metrics["pretrain_loss"] = pretrain_masked_lm(*net, generator, device, batch_size);
      evaluation.metrics["pretrain_seconds"] =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - pretrain_start).count();
    }
    // The loop shuffles with the generator that initialised the network, continuing its draws.
    TrainingSettings settings = options_.training;
    settings.batch_size = batch_size;
    if (installment) settings.epochs = static_cast<double>(installment->schedule_epochs);
    TrainingLoop loop(*net, data_, settings, generator, device);
    loop.stop_when(options_.stop);
    if (continuing) {
      // The network was initialised above all the same, so the generator's draws match the first
      // installment's before its saved state replaces them.
      StateReader saved(*installment->resume_state);
      saved.module("network", *net, device);
      loop.load(saved);
    }
    EpochStats last;  // train_* metrics describe the last (possibly partial) epoch
    double train_seconds = 0;
    while (!loop.done() && (!installment || loop.epochs_done() < installment->epochs)) {
      last = loop.run_epoch();
      train_seconds += last.seconds;
    }
    if (installment) {
      evaluation.metrics["epochs"] = static_cast<double>(loop.epochs_done());
      StateWriter state;
      state.module("network", *net);
      loop.save(state);
      *installment->state = state.bytes();
    }

    const SetScore val = score_on(*net, data_.val, options_.eval_batch_size, device);
    evaluation.metrics["val_acc"] = val.accuracy;
    evaluation.metrics["val_loss"] = val.loss;
    if (last.samples > 0) {
      evaluation.metrics["train_acc"] = last.train_acc;
      evaluation.metrics["train_loss"] = last.train_loss;
    }
    if (options_.test) {
      const SetScore test = score_on(*net, data_.test, options_.eval_batch_size, device);
      evaluation.metrics["test_acc"] = test.accuracy;
      evaluation.metrics["test_loss"] = test.loss;
    }
    evaluation.metrics["params"] = static_cast<double>(params);
    evaluation.metrics["flops"] = space.describe(arch, task).flops;
    evaluation.metrics["train_seconds"] = train_seconds;
    if (options_.oom_retries > 0) evaluation.metrics["batch_size"] = static_cast<double>(batch_size);
    if (options_.latency)
      evaluation.metrics["latency_ms"] = median_latency_ms(*net, data_.input_shape, data_.train.images.scalar_type(), device);
    evaluation.cost = train_seconds;
    if (options_.keep_weights > 0) {
      std::map<std::string, torch::Tensor> weights;
      for (const auto& item : net->named_parameters()) weights[item.key()] = item.value().detach().to(torch::kCPU).clone();
      std::lock_guard<std::mutex> lock(weights_mutex_);
      if (kept_weights_.emplace(arch, std::move(weights)).second) kept_order_.push_back(arch);
      while (kept_order_.size() > options_.keep_weights) {
        kept_weights_.erase(kept_order_.front());
        kept_order_.pop_front();
      }
    }
  } catch (const TrainingStopped&) {
    throw;  // no result: never stored as a failure
  } catch (const std::bad_alloc&) {
    evaluation.ok = false;
    evaluation.out_of_memory = true;
    evaluation.error = "out of memory (std::bad_alloc) at batch size " + std::to_string(batch_size);
  } catch (const c10::Error& error) {
    evaluation.ok = false;
    evaluation.error = first_line(error.what_without_backtrace());
    evaluation.out_of_memory = reads_as_out_of_memory(evaluation.error);
  } catch (const std::exception& error) {
    evaluation.ok = false;
    evaluation.error = first_line(error.what());
    evaluation.out_of_memory = reads_as_out_of_memory(evaluation.error);
  }
  evaluation.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return evaluation;
}

}  // namespace nascent
