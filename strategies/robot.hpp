#pragma once
#include <unordered_set>

#include "predictors/gaussian_process.hpp"
#include "strategies/metric_pool.hpp"
#include "strategies/strategy.hpp"

namespace nascent {

// RoBoT (He et al., ICLR 2024): robustifying and boosting training-free NAS. Base metrics are
// min-max normalised over the pool; a weight vector w in [-1, 1]^M is searched by Bayesian
// optimisation (GP with a Matern 5/2 kernel fitted by maximum likelihood, UCB acquisition), each
// objective evaluation querying the pool's top architecture under S(.; w). After T such
// evaluations (the first w at random) the ranking under the best w is walked greedily, querying
// architectures not yet queried until T distinct ones have been.
class Robot : public Strategy, public PoolScoringStrategy {
 public:
  struct Options {
    std::size_t queries = 20;        // T
    double kappa = 2.576;            // UCB exploration
    std::size_t random_points = 10000;  // acquisition: random candidates scored ...
    std::size_t local_starts = 10;   // ... then local optimisation (NLopt BOBYQA) from random starts
    std::vector<std::string> metrics;  // base metrics, used in sorted order
    std::string metrics_table, table_key = "arch";  // metric values from a CSV instead of predictors
    std::size_t pool = 0;            // candidates to score when computing metrics (0: whole space)
  };
  Robot(const SearchSpace& space, Options options);
  std::string name() const override { return "robot"; }
  std::vector<std::string> ask(std::size_t count, Rng& rng) override;
  void tell(const std::string& arch, std::optional<double> fitness) override;
  std::vector<std::string> score_pool(Rng& rng) override;
  void tell_scores(const std::string& arch, const std::map<std::string, double>& metrics, bool ok) override;

  // For benchmarks and tests: the pool as given, and the best weights so far.
  void set_pool(MetricPool pool);
  const std::vector<double>& best_weights() const { return best_weights_; }
  std::size_t bo_evaluations() const { return observed_weights_.size(); }

 private:
  std::vector<double> propose_weights(Rng& rng);
  void require_pool();

  const SearchSpace& space_;
  Options options_;
  MetricPool raw_pool_, pool_;  // pool_ is normalised
  bool pool_ready_ = false;
  std::vector<std::vector<double>> observed_weights_;
  std::vector<double> observed_values_;
  std::vector<double> proposed_;           // weights behind the architecture in flight
  std::string proposed_arch_;
  std::vector<double> best_weights_;
  double best_value_ = 0;
  std::unordered_set<std::string> queried_;
  std::vector<std::size_t> exploit_order_;
  std::size_t exploit_next_ = 0;
};

// Training-free search: score a pool (sampled, or the whole space) with one predictor or a
// weighted combination of min-max normalised predictors, then query the top k in order with the
// run's evaluator (k = 0: scores only).
class TrainingFreeSearch : public Strategy, public PoolScoringStrategy {
 public:
  struct Options {
    std::vector<std::string> metrics;
    std::vector<double> weights;  // one per metric; empty: 1 each
    std::size_t pool = 0;
    std::size_t top_k = 0;
    std::string metrics_table, table_key = "arch";
  };
  TrainingFreeSearch(const SearchSpace& space, Options options);
  std::string name() const override { return "training_free"; }
  std::vector<std::string> ask(std::size_t count, Rng& rng) override;
  void tell(const std::string&, std::optional<double>) override {}
  std::vector<std::string> score_pool(Rng& rng) override;
  void tell_scores(const std::string& arch, const std::map<std::string, double>& metrics, bool ok) override;

 private:
  const SearchSpace& space_;
  Options options_;
  MetricPool pool_;
  bool ranked_ = false;
  std::vector<std::size_t> order_;
  std::size_t next_ = 0;
};

}  // namespace nascent
