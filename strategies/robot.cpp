#include "strategies/robot.hpp"

#include <nlopt.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.hpp"

namespace nascent {

Robot::Robot(const SearchSpace& space, Options options) : space_(space), options_(std::move(options)) {
  if (options_.queries < 1) throw Error("config: strategy.queries must be at least 1");
  if (options_.metrics.empty()) throw Error("config: strategy.metrics must list RoBoT's base metrics");
  if (!(options_.kappa >= 0)) throw Error("config: strategy.kappa must not be negative");
  // The authors' bayes_opt orders parameters by name.
  std::sort(options_.metrics.begin(), options_.metrics.end());
  if (std::adjacent_find(options_.metrics.begin(), options_.metrics.end()) != options_.metrics.end())
    throw Error("config: strategy.metrics lists a metric twice");
  if (!options_.metrics_table.empty())
    set_pool(read_metric_table(options_.metrics_table, options_.table_key, options_.metrics, space_));
  raw_pool_.metrics = options_.metrics;
}

void Robot::set_pool(MetricPool pool) {
  if (pool.size() == 0) throw Error("robot: the candidate pool is empty");
  raw_pool_ = std::move(pool);
  pool_ = min_max_normalised(raw_pool_);
  pool_ready_ = true;
}

std::vector<std::string> Robot::score_pool(Rng& rng) {
  if (pool_ready_) return {};
  return pool_candidates(space_, options_.pool, rng);
}

void Robot::tell_scores(const std::string& arch, const std::map<std::string, double>& metrics, bool ok) {
  raw_pool_.add(arch, ok ? metrics : std::map<std::string, double>{});
}

void Robot::require_pool() {
  if (pool_ready_) return;
  if (raw_pool_.size() == 0)
    throw Error("robot: no candidate pool (give strategy.metrics_table, or a `predictor` section to score one)");
  set_pool(raw_pool_);
}

std::vector<double> Robot::propose_weights(Rng& rng) {
  const std::size_t dims = options_.metrics.size();
  auto random_point = [&] {
    std::vector<double> w(dims);
    for (double& v : w) v = -1 + 2 * uniform_real(rng);
    return w;
  };
  if (observed_weights_.empty()) return random_point();
  GaussianProcess gp;
  gp.fit(observed_weights_, observed_values_, rng);
  auto ucb = [&](const std::vector<double>& w) {
    const auto p = gp.predict(w);
    return p.mean + options_.kappa * p.stddev;
  };
  std::vector<double> best = random_point();
  double best_value = ucb(best);
  for (std::size_t i = 1; i < options_.random_points; ++i) {
    std::vector<double> w = random_point();
    const double value = ucb(w);
    if (value > best_value) best_value = value, best = std::move(w);
  }
  // Local refinement from random starts; BOBYQA needs two dimensions, Subplex takes one.
  nlopt::opt optimiser(dims >= 2 ? nlopt::LN_BOBYQA : nlopt::LN_SBPLX, static_cast<unsigned>(dims));
  optimiser.set_lower_bounds(std::vector<double>(dims, -1.0));
  optimiser.set_upper_bounds(std::vector<double>(dims, 1.0));
  optimiser.set_maxeval(200);
  optimiser.set_xtol_rel(1e-6);
  using Ucb = decltype(ucb);
  optimiser.set_max_objective(
      [](const std::vector<double>& w, std::vector<double>&, void* data) { return (*static_cast<Ucb*>(data))(w); },
      &ucb);
  for (std::size_t start = 0; start < options_.local_starts; ++start) {
    std::vector<double> w = random_point();
    double value = 0;
    try {
      optimiser.optimize(w, value);
    } catch (const std::exception&) {
      continue;  // a roundoff-limited stop: this start gives nothing better
    }
    for (double& v : w) v = std::clamp(v, -1.0, 1.0);
    value = ucb(w);
    if (value >= best_value) best_value = value, best = std::move(w);
  }
  return best;
}

std::vector<std::string> Robot::ask(std::size_t count, Rng& rng) {
  require_pool();
  if (observed_weights_.size() < options_.queries) {
    proposed_ = propose_weights(rng);
    proposed_arch_ = pool_.archs[rank_by_weights(pool_, proposed_).front()];
    return {proposed_arch_};
  }
  if (exploit_order_.empty()) exploit_order_ = rank_by_weights(pool_, best_weights_);
  std::vector<std::string> batch;
  std::size_t planned = queried_.size();
  while (batch.size() < count && planned < options_.queries && exploit_next_ < exploit_order_.size()) {
    const std::string& arch = pool_.archs[exploit_order_[exploit_next_++]];
    if (queried_.count(arch)) continue;
    batch.push_back(arch);
    ++planned;
  }
  return batch;
}

void Robot::tell(const std::string& arch, std::optional<double> fitness) {
  queried_.insert(arch);
  if (observed_weights_.size() >= options_.queries || arch != proposed_arch_ || proposed_.empty()) return;
  // A failed query scores as the worst seen so far: the GP must still learn to avoid it.
  double value = 0;
  if (fitness) value = *fitness;
  else if (!observed_values_.empty()) value = *std::min_element(observed_values_.begin(), observed_values_.end());
  if (best_weights_.empty() || value >= best_value_) best_value_ = value, best_weights_ = proposed_;
  observed_weights_.push_back(proposed_);
  observed_values_.push_back(value);
  proposed_.clear();
}

TrainingFreeSearch::TrainingFreeSearch(const SearchSpace& space, Options options)
    : space_(space), options_(std::move(options)) {
  if (options_.metrics.empty()) throw Error("config: strategy.metrics must name at least one predictor");
  if (options_.weights.empty()) options_.weights.assign(options_.metrics.size(), 1.0);
  if (options_.weights.size() != options_.metrics.size())
    throw Error("config: strategy.weights must give one weight per metric");
  pool_.metrics = options_.metrics;
  if (!options_.metrics_table.empty())
    pool_ = read_metric_table(options_.metrics_table, options_.table_key, options_.metrics, space_);
}

std::vector<std::string> TrainingFreeSearch::score_pool(Rng& rng) {
  if (!options_.metrics_table.empty()) return {};
  return pool_candidates(space_, options_.pool, rng);
}

void TrainingFreeSearch::tell_scores(const std::string& arch, const std::map<std::string, double>& metrics, bool ok) {
  pool_.add(arch, ok ? metrics : std::map<std::string, double>{});
}

std::vector<std::string> TrainingFreeSearch::ask(std::size_t count, Rng&) {
  if (!ranked_) {
    if (pool_.size() == 0) throw Error("training_free: no candidate pool was scored (is the `predictor` section missing?)");
    // One metric ranks by its raw value; several by a weighted sum of min-max normalised values.
    // A candidate with any non-finite metric ranks after all others.
    const MetricPool scaled = pool_.metrics.size() == 1 ? pool_ : min_max_normalised(pool_);
    std::vector<double> score(scaled.size(), 0);
    for (std::size_t a = 0; a < scaled.size(); ++a)
      for (std::size_t m = 0; m < scaled.metrics.size(); ++m) {
        const double v = scaled.values[a][m];
        score[a] = std::isfinite(v) && std::isfinite(score[a]) ? score[a] + options_.weights[m] * v
                                                               : -std::numeric_limits<double>::infinity();
      }
    order_.resize(scaled.size());
    std::iota(order_.begin(), order_.end(), 0);
    std::stable_sort(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) { return score[a] > score[b]; });
    order_.resize(std::min(order_.size(), options_.top_k));
    ranked_ = true;
  }
  std::vector<std::string> batch;
  while (batch.size() < count && next_ < order_.size()) batch.push_back(pool_.archs[order_[next_++]]);
  return batch;
}

}  // namespace nascent
