#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/rng.hpp"
#include "core/search_space.hpp"

namespace nascent {

// Ask/tell: the search loop asks for a batch of candidates, evaluates them (possibly in parallel)
// and tells the results back in the order asked. Because the loop, not the strategy, owns the
// order, a run is reproducible for a seed however many workers evaluate it.
class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;
  // Up to `count` architectures to evaluate next. May return fewer (e.g. an exhausted space);
  // an empty batch ends the search.
  virtual std::vector<std::string> ask(std::size_t count, Rng& rng) = 0;
  // fitness: higher is better; std::nullopt for a failed evaluation.
  virtual void tell(const std::string& arch, std::optional<double> fitness) = 0;
};

// Capabilities a strategy may implement besides Strategy; the ask/tell search asks for them.

// Strategies that rank candidates by training-free scores first (training-free search, RoBoT with
// computed metrics) return the pool to score. The search asks once, before the first ask(); scores
// every candidate with the config's `predictor` evaluator, stores them as stage score and tells
// each back, in order, before asking for queries.
class PoolScoringStrategy {
 public:
  virtual ~PoolScoringStrategy() = default;
  virtual std::vector<std::string> score_pool(Rng& rng) = 0;
  virtual void tell_scores(const std::string& arch, const std::map<std::string, double>& metrics, bool ok) = 0;
};

// Weight transfer (BOSHNAS): an architecture evaluated earlier in the run whose trained weights
// `arch` (just asked) should start from, or "" to train from scratch. The search passes it to an
// evaluator that keeps weights (WeightTransferEvaluator); others train from scratch.
class WeightTransferStrategy {
 public:
  virtual ~WeightTransferStrategy() = default;
  virtual std::string transfer_source(const std::string& arch) const = 0;
};

// Lineage: the architecture `child` (as the last ask() returned it) was derived from, e.g. the
// parent it mutates; empty for a sampled one. The search stores it with the evaluation (as the
// parent's seq) and the report shows it.
class ProposesChildren {
 public:
  virtual ~ProposesChildren() = default;
  virtual std::optional<std::string> parent_of(const std::string& child) const = 0;
};

// Several objectives (the config's `objectives`): the search tells every candidate's values, one
// per objective in the config's order, each oriented so that larger is better (minimised ones
// negated); nullopt when the candidate failed, lacks a value or breaks a constraint. tell() is not
// called for a strategy with this capability.
class MultiObjectiveStrategy {
 public:
  virtual ~MultiObjectiveStrategy() = default;
  virtual void tell_objectives(const std::string& arch, const std::optional<std::vector<double>>& values) = 0;
};

// config_dir resolves relative paths (a metrics table) as the rest of the config does.
std::unique_ptr<Strategy> make_strategy(const Config& config, const SearchSpace& space,
                                        const std::string& config_dir = "");

}  // namespace nascent
