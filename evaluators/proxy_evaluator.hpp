#pragma once
#include "datasets/dataset.hpp"
#include "evaluators/evaluator.hpp"
#include "evaluators/reported_metrics.hpp"
#include "predictors/predictor.hpp"

namespace nascent {

// Scores candidates with training-free predictors instead of training them: each candidate is
// built, initialised from its seed and scored on one fixed batch (the first `batch_size`
// training images of the dataset's fixed shuffled order, the same batch for every candidate).
// Every predictor's score becomes a metric under the predictor's name; a failing predictor
// scores NaN (stored as such, ranked last) and its message goes to the evaluation's error text.
// The evaluation's cost is its seconds.
class ProxyEvaluator : public Evaluator, public ReportsMetrics {
 public:
  struct Options {
    std::int64_t batch_size = 64;
    std::string device = "cpu";
  };
  ProxyEvaluator(DataSplits data, std::vector<std::unique_ptr<Predictor>> predictors, Options options);

  std::string name() const override { return "proxy"; }
  Evaluation evaluate(const SearchSpace& space, const std::string& arch, std::uint64_t seed) override;
  // The predictors' names.
  std::vector<std::string> reported_metrics() const override;

 private:
  DataSplits data_;
  std::vector<std::unique_ptr<Predictor>> predictors_;
  Options options_;
  torch::Tensor inputs_, labels_;
};

// Reads a `metrics` list: plain names ("synflow", "hidden_cov@cell3") or maps ({name: lga, warmup_steps: 1}).
std::vector<std::unique_ptr<Predictor>> predictors_from_config(const Config& list);

}  // namespace nascent
