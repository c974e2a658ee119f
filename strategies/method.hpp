#pragma once
// A search method: one registered class that the run driver (runner/run.cpp) steps. The ask/tell
// search over any registered Strategy is one method; DARTS, RARTS, Once-for-All and ViT-ResNAS are
// others. The driver owns everything a run shares (seed, device, threads, budget, objective,
// progress, Ctrl-C and the store) and hands it to the method as a RunContext.
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/objective.hpp"
#include "core/registry.hpp"
#include "core/search_space.hpp"
#include "evaluators/evaluator.hpp"
#include "results/stage.hpp"

namespace nascent {

class DataParallel;  // core/data_parallel.hpp

struct Budget {
  std::optional<long long> evaluations;  // candidates evaluated (ask/tell search)
  std::optional<double> seconds;         // wall-clock seconds, resumed runs included
  std::optional<double> cost;            // evaluators' summed cost
  std::optional<double> epochs;          // supernet epochs (supernet methods); training epochs summed over candidates (multi-fidelity)
};

// `constraints: {flops: {max: 3e8}}`: a candidate outside [min, max] on `metric` is infeasible.
struct Constraint {
  std::string metric;
  std::optional<double> min, max;
  bool satisfied_by(double value) const { return (!min || value >= *min) && (!max || value <= *max); }
};

// Every constraint whose metric `metrics` holds is met (a missing metric is checked once it
// exists); a non-finite value meets none.
inline bool meets_constraints(const std::vector<Constraint>& constraints, const std::map<std::string, double>& metrics) {
  for (const Constraint& constraint : constraints) {
    const auto found = metrics.find(constraint.metric);
    if (found != metrics.end() && !(std::isfinite(found->second) && constraint.satisfied_by(found->second))) return false;
  }
  return true;
}

// Thrown by RunContext::check_stop inside a method: the run stops where it is, with what it stored.
struct RunStopped {
  std::string status;  // "interrupted" (Ctrl-C) or "budget"
};

// One evaluation stored earlier in the run being resumed.
struct ReplayedEvaluation {
  Stage stage = Stage::Query;
  std::string arch;
  Evaluation result;
};

class RunContext {
 public:
  virtual ~RunContext() = default;

  std::uint64_t seed = 0;
  std::string device_override; // --device, when given; it overrides the method's and evaluators' device
  int threads = 1;             // LibTorch threads per worker
  int workers = 1;             // evaluations in parallel (ask/tell search)
  std::size_t batch = 1;       // candidates asked at once (ask/tell search)
  std::string config_dir;
  bool quiet = false;
  Budget budget;
  Objective objective;                 // the first of `objectives`: what single-objective methods rank by
  std::vector<Objective> objectives;   // `objectives:` (or just `objective`)
  std::vector<Constraint> constraints; // `constraints:` (ask/tell searches)
  const SearchSpace* space = nullptr;
  const Config* config = nullptr;  // the whole run config
  bool resuming = false;
  std::map<std::int64_t, ReplayedEvaluation> replay;  // seq -> stored evaluation, when resuming
  double elapsed_offset = 0;                          // seconds the resumed run had already spent
  std::string checkpoint_path;  // this run's checkpoint file, beside the database
  // Under mpirun, for a method that trains_data_parallel(): every process of the job, training
  // together. Process 0 stores and checkpoints; the others (replicas) record nothing, and take
  // every stop decision from process 0 (DataParallel::agree).
  DataParallel* data_parallel = nullptr;
  bool replica = false;

  virtual double elapsed() const = 0;
  virtual bool interrupted() const = 0;  // Ctrl-C
  bool out_of_time() const { return budget.seconds && elapsed() >= *budget.seconds; }
  // Ctrl-C or the time budget: what ends a training at its next step.
  bool should_stop() const { return interrupted() || out_of_time(); }
  // The result stored at `seq` by the run being resumed (nothing when not resuming or not stored):
  // a method takes it instead of computing it again.
  const Evaluation* stored_at(std::int64_t seq) const {
    auto it = replay.find(seq);
    return it == replay.end() ? nullptr : &it->second.result;
  }
  // Throws RunStopped on Ctrl-C or once budget.seconds is spent; methods call it between steps.
  void check_stop() const {
    if (!should_stop()) return;
    throw RunStopped{interrupted() ? "interrupted" : "budget"};
  }

  // Stores one evaluation (fingerprint and elapsed are filled in) and returns its seq: `seq`, or the
  // next in the run. `value`: the objective value, empty for failed or unranked ones. When resuming,
  // an evaluation already stored at that seq is kept (it must be the same architecture).
  virtual std::int64_t record(Stage stage, const std::string& arch, const Evaluation& result, std::optional<double> value,
                              std::optional<std::int64_t> seq = std::nullopt) = 0;
  // Stores the same at a given seq (the ask/tell search numbers evaluations evaluated in parallel).
  // `parent`: the seq of the evaluation it was derived from (lineage), when the method knows one.
  virtual void record_at(std::int64_t seq, Stage stage, const std::string& arch, const std::string& fingerprint,
                         const Evaluation& result, std::optional<double> fitness, std::optional<std::int64_t> parent = std::nullopt) = 0;
  // One point of a named curve (supernet loss per epoch, predictor quality, alphas per epoch); a
  // point a resumed run already holds is kept.
  virtual void record_curve(const std::string& curve, double step, double value, const std::string& label = "") = 0;
  // A progress line on stderr, at most every 10 s unless `force`; nothing when quiet.
  virtual void progress(const std::string& line, bool force = false) = 0;
};

struct MethodResult {
  std::string status = "finished";  // finished, exhausted (nothing left to ask), interrupted, budget
  std::string best_arch;
  std::optional<double> best_value;  // the objective's value (not negated)
  std::map<std::string, double> best_metrics;
  std::int64_t evaluated_now = 0;
  std::int64_t counted = 0;  // what the method counts as done (evaluations, epochs)
};

class Method {
 public:
  virtual ~Method() = default;
  // Labels the run in the store ("darts-order2", "evolution").
  virtual std::string label() const = 0;
  // The evaluator names the run records ("train", "supernet").
  virtual std::string evaluator_label() const = 0;
  // The stage that holds the method's final candidates (results top's default).
  virtual Stage final_stage() const { return Stage::Final; }
  // Reads and checks everything that can fail before the run is recorded: a bad config must
  // write nothing. The config sections outside `strategy` that this method accepts are listed
  // by sections().
  virtual void prepare(RunContext& context) = 0;
  virtual std::vector<std::string> sections() const = 0;
  virtual bool resumable() const { return false; }
  // Resuming: loads the method's state from context.checkpoint_path, before the run is reopened in
  // the store (a damaged checkpoint must leave the database untouched).
  virtual void restore(RunContext& context) {}
  // The budget keys the method honours (others are config errors), and whether it needs one.
  virtual std::vector<std::string> budget_keys() const { return {"seconds"}; }
  virtual bool needs_budget() const { return false; }
  // Ask/tell search evaluates candidates on parallel workers; supernet methods train one network
  // with every thread.
  virtual bool evaluates_in_parallel() const { return false; }
  // Under mpirun, every process trains the method's network together (RunContext::data_parallel)
  // instead of process 0 alone.
  virtual bool trains_data_parallel() const { return false; }
  // The objective's metric when the config's `objective` names none.
  virtual std::string default_metric(const Config& config) const { return "val_acc"; }
  virtual MethodResult run(RunContext& context) = 0;
};

// The ask/tell search method over the registered Strategy named by `strategy.name`
// (runner/ask_tell.cpp).
std::unique_ptr<Method> make_ask_tell_search(const Config& strategy);

// The `objective` section (metric, mode) with `default_metric` when absent.
Objective read_objective(const Config& config, const std::string& default_metric);
// `objectives: [val_acc:max, flops:min]`, or the single `objective` when absent.
std::vector<Objective> read_objectives(const Config& config, const Objective& single);
// `constraints: {metric: {min: .., max: ..}, ...}`.
std::vector<Constraint> read_constraints(const Config& config);
// An evaluation's objective value; failed evaluations, non-finite values and a missing metric have none.
std::optional<double> objective_value(const Evaluation& evaluation, const Objective& objective);
// Higher is better: the value, negated for a minimised objective.
inline std::optional<double> fitness_of(const Evaluation& evaluation, const Objective& objective) {
  auto value = objective_value(evaluation, objective);
  if (value && !objective.maximize) *value = -*value;
  return value;
}

// The config's `final_training` steps, one mapping or a list of them (runner/final_training.hpp);
// a section of another shape is a one-line Error.
std::vector<Config> final_training_sections(const Config& config);

// "42s", "3.5m", "2.1h": durations in progress lines.
std::string format_duration(double seconds);

}  // namespace nascent
