#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/search_space.hpp"

namespace nascent {

// The outcome of evaluating one candidate. A failed evaluation (e.g. a candidate that does not
// fit the input) has ok=false and an error message; it is stored and ranked last, never fatal.
// One that ran out of memory also has out_of_memory: it says nothing about the architecture's
// quality, only that it did not fit the device at that batch size, so it is stored as `oom`.
struct Evaluation {
  bool ok = true;
  bool out_of_memory = false;  // only with ok == false
  std::string error;
  std::map<std::string, double> metrics;  // e.g. val_acc, test_acc, loss, params, flops, latency_ms
  double cost = 0;                        // what the budget charges: seconds trained, or a table's cost
  double seconds = 0;                     // wall-clock seconds spent here
  std::string device = "cpu";
};

// The stored status: ok, failed or oom.
inline std::string evaluation_status(const Evaluation& e) { return e.ok ? "ok" : e.out_of_memory ? "oom" : "failed"; }

// The stored outcome of an evaluation that threw instead of returning.
inline Evaluation failed_evaluation(const std::exception& error) {
  Evaluation e;
  e.ok = false;
  e.error = error.what();
  e.out_of_memory = dynamic_cast<const std::bad_alloc*>(&error) != nullptr || reads_as_out_of_memory(e.error);
  return e;
}

// Thrown out of a training when EvaluatorContext::stop (or TrainingLoop::stop_when) asks it to end
// early, on Ctrl-C or once budget.seconds is spent: the evaluation has no result, is not stored, and
// a --resume trains it again. Never to be stored as a failed evaluation.
class TrainingStopped : public std::runtime_error {
 public:
  TrainingStopped() : std::runtime_error("training stopped before it finished") {}
};

// Scores candidates. evaluate() is called concurrently from several worker threads; everything
// random in it must come from `seed`, so that results do not depend on scheduling.
class Evaluator {
 public:
  virtual ~Evaluator() = default;
  virtual std::string name() const = 0;
  virtual Evaluation evaluate(const SearchSpace& space, const std::string& arch, std::uint64_t seed) = 0;
};

// An evaluator that keeps trained weights: evaluate() starting from the trained weights of
// `source` (an architecture it evaluated earlier) where they fit.
class WeightTransferEvaluator {
 public:
  virtual ~WeightTransferEvaluator() = default;
  virtual Evaluation evaluate_from(const SearchSpace& space, const std::string& arch, std::uint64_t seed, const std::string& source) = 0;
};

// Multi-fidelity search (successive halving, Hyperband, ASHA): an evaluator that trains a
// candidate in installments. evaluate_for() trains `arch` until `epochs` epochs of a training laid
// out over `schedule_epochs` (its learning-rate schedule spans all of them) are done, starting from
// `resume_state` (the `state` an earlier call for the same architecture and seed returned) when it
// is not empty, else from scratch, and returns in `state` what continuing needs. Continuing gives
// the network that training straight through would, so a lost state costs time, never a result.
// The evaluation's cost covers the epochs trained in this call; its metric `epochs` says how many
// are done in all.
class TrainsInStages {
 public:
  virtual ~TrainsInStages() = default;
  virtual Evaluation evaluate_for(const SearchSpace& space, const std::string& arch, std::uint64_t seed, std::int64_t epochs,
                                  std::int64_t schedule_epochs, const std::string& resume_state, std::string& state) = 0;
};

// Context an evaluator factory needs besides its own config section.
struct EvaluatorContext {
  std::string config_dir;      // for resolving relative data paths
  int threads_per_worker = 1;  // LibTorch intra-op threads each evaluation may use
  std::string device_override; // --device from the command line, if any
  const SearchSpace* space = nullptr;  // the run's space (JSON tables canonicalise their keys with it)
  // Asked between training steps (may be empty): true ends the training in progress with
  // TrainingStopped. Called from worker threads.
  std::function<bool()> stop;
};

// Builds the evaluator named by `config.name` (train, table, or a registered one).
std::unique_ptr<Evaluator> make_evaluator(const Config& config, const EvaluatorContext& context);

}  // namespace nascent
