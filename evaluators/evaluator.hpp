#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/config.hpp"
#include "core/search_space.hpp"

namespace nascent {

// The outcome of evaluating one candidate. A failed evaluation (e.g. a candidate that does not
// fit the input) has ok=false and an error message; it is stored and ranked last, never fatal.
struct Evaluation {
  bool ok = true;
  std::string error;
  std::map<std::string, double> metrics;  // e.g. val_acc, test_acc, loss, params, flops, latency_ms
  double cost = 0;                        // what the budget charges: seconds trained, or a table's cost
  double seconds = 0;                     // wall-clock seconds spent here
  std::string device = "cpu";
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
};

// Builds the evaluator named by `config.name` (train, table, or a registered one).
std::unique_ptr<Evaluator> make_evaluator(const Config& config, const EvaluatorContext& context);

}  // namespace nascent
