#pragma once
// Process 0's stand-in for an evaluator whose evaluations run on the other processes of an MPI
// job (core/cluster.hpp). Each call waits for a free process, sends it the job and waits for the
// result, so a search's parallel workers keep every process busy. Results equal a single-process
// run's: an evaluation depends only on the architecture, the seed and the config, which every
// process reads.
#include <memory>
#include <string>

#include "evaluators/evaluator.hpp"

namespace nascent {

class ClusterEvaluator final : public Evaluator, public TrainsInStages {
 public:
  // `section`: the config section every process builds the evaluator from ("evaluator", "predictor").
  ClusterEvaluator(std::string section, std::string name) : section_(std::move(section)), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  Evaluation evaluate(const SearchSpace& space, const std::string& arch, std::uint64_t seed) override;
  Evaluation evaluate_for(const SearchSpace& space, const std::string& arch, std::uint64_t seed, std::int64_t epochs,
                          std::int64_t schedule_epochs, const std::string& resume_state, std::string& state) override;

 private:
  std::string section_, name_;
};

// The stand-in for `local` (built from `section`) when this is process 0 of several; nullptr
// otherwise, and the caller evaluates with `local`.
std::unique_ptr<ClusterEvaluator> distributed(const std::string& section, const Evaluator& local);

// Another process's side: serves evaluation jobs from process 0 until it says stop. Evaluators
// are built from the config's sections on first use; anything that fails (a dataset missing on
// this machine, a candidate that throws) is sent back as a failed evaluation.
struct ServeSettings {
  const Config* config = nullptr;
  std::string config_dir;
  std::string device;  // this process's device (--device), empty for the config's
  int threads = 1;
  const SearchSpace* space = nullptr;
};
void serve_evaluations(const ServeSettings& settings);

}  // namespace nascent
