// The ask/tell search method: it asks the registered Strategy for candidates, evaluates them on
// parallel workers with the run's evaluator and tells the results back in the order asked, so a
// run is the same for a seed however many workers evaluate it. Strategies that rank a pool by
// training-free scores first get it scored with the `predictor` evaluator (stage score).
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "core/cluster.hpp"
#include "core/error.hpp"
#include "evaluators/cluster_evaluator.hpp"
#include "evaluators/latency.hpp"
#include "evaluators/reported_metrics.hpp"
#include "strategies/method.hpp"
#include "strategies/strategy.hpp"

namespace nascent {

namespace {

struct Pending {
  std::int64_t seq = 0;
  std::string arch, fingerprint;
  Evaluation result;
  std::optional<double> value;  // the objective's value
  std::optional<std::int64_t> parent;  // lineage: the seq it was derived from
  std::map<std::string, double> statics;  // params, flops and latency_ms measured before evaluating
  bool replayed = false;
  bool stopped = false;  // its training was ended by a stop: no result, not stored
};

bool any_stopped(const std::vector<Pending>& pending) {
  return std::any_of(pending.begin(), pending.end(), [](const Pending& p) { return p.stopped; });
}

class AskTellSearch final : public Method {
 public:
  explicit AskTellSearch(Config strategy) : strategy_config_(std::move(strategy)) {}

  std::string label() const override { return strategy_->name(); }
  std::string evaluator_label() const override { return evaluator_name_; }
  Stage final_stage() const override { return Stage::Query; }
  std::vector<std::string> sections() const override { return {"evaluator", "predictor", "objectives", "constraints", "latency"}; }
  std::vector<std::string> budget_keys() const override { return {"evaluations", "seconds", "cost"}; }
  bool needs_budget() const override { return true; }
  bool evaluates_in_parallel() const override { return true; }
  bool resumable() const override { return true; }
  std::string default_metric(const Config& config) const override {
    return config.child("evaluator").get<std::string>("metric", "val_acc");
  }

  void prepare(RunContext& context) override {
    const std::string name = strategy_config_.get<std::string>("name", "evolution");
    strategy_ = registries().strategies.create(name, strategy_config_, StrategyContext{*context.space, context.config_dir});
    pool_scoring_ = dynamic_cast<PoolScoringStrategy*>(strategy_.get());
    lineage_ = dynamic_cast<ProposesChildren*>(strategy_.get());
    multi_objective_ = dynamic_cast<MultiObjectiveStrategy*>(strategy_.get());
    transfer_ = dynamic_cast<WeightTransferStrategy*>(strategy_.get());
    const Config& config = *context.config;
    evaluator_name_ = config.child("evaluator").get<std::string>("name", "train");
    EvaluatorContext evaluator_context{context.config_dir, context.threads, context.device_override, context.space};
    // Ctrl-C and budget.seconds end the trainings in flight at their next step, as they stop a
    // supernet method: a long candidate never holds the run past its budget.
    evaluator_context.stop = [&context] { return context.should_stop(); };
    evaluator_ = make_evaluator(config.child("evaluator"), evaluator_context);
    // Built here, like the evaluator, so that a bad `predictor` section fails before a run is recorded.
    if (config.has("predictor")) predictor_ = make_evaluator(config.child("predictor"), evaluator_context);
    // Under mpirun the other processes evaluate; the local evaluators answer the checks below.
    remote_evaluator_ = distributed("evaluator", *evaluator_);
    if (predictor_) remote_predictor_ = distributed("predictor", *predictor_);
    if (remote_evaluator_ && transfer_ && dynamic_cast<WeightTransferEvaluator*>(evaluator_.get()))
      throw Error("config: strategy " + strategy_->name() + " transfers trained weights between candidates, which stay in one process: run it without mpirun");
    const auto* described = dynamic_cast<const EvaluatesTask*>(evaluator_.get());
    static_task_ = described ? described->evaluation_task() : Task{context.space->default_input_shape(), 10, 0};
    // Metrics the space computes without training are measured before each evaluation when an
    // objective or a constraint names them.
    std::vector<std::string> named;
    for (const Objective& objective : context.objectives) named.push_back(objective.metric);
    for (const Constraint& constraint : context.constraints) named.push_back(constraint.metric);
    for (const std::string& metric : named)
      if (is_static(metric) && std::find(statics_.begin(), statics_.end(), metric) == statics_.end()) statics_.push_back(metric);
    read_latency(config, context);
    // An objective or constraint the evaluator never reports (and the space cannot compute) is
    // refused now, before a run is recorded; other evaluators are checked on their first evaluation.
    if (const auto* reporter = dynamic_cast<const ReportsMetrics*>(evaluator_.get())) {
      const std::vector<std::string> metrics = reporter->reported_metrics();
      std::string known;
      for (const auto& metric : metrics) known += (known.empty() ? "" : ", ") + metric;
      for (std::size_t i = 0; i < named.size(); ++i) {
        if (is_static(named[i]) || std::find(metrics.begin(), metrics.end(), named[i]) != metrics.end()) continue;
        const std::string what = i >= context.objectives.size() ? "constraints." + named[i]
                                 : config.has("objectives")     ? "objectives: " + named[i]
                                                                : "objective.metric '" + named[i] + "'";
        throw Error("config: " + what + " is not reported by the evaluator (it reports: " + known + "; the space computes params, flops, latency_ms)");
      }
    }
  }

  MethodResult run(RunContext& context) override {
    Rng rng(context.seed);
    if (!score_pool(context, rng)) {
      result_.status = context.interrupted() ? "interrupted" : "budget";
      return finish();
    }
    std::size_t fruitless_asks = 0;
    while (!context.interrupted()) {
      if (out_of_budget(context)) {
        result_.status = context.budget.evaluations && done_ >= *context.budget.evaluations ? "finished" : "budget";
        break;
      }
      std::size_t want = context.batch;
      if (context.budget.evaluations) want = std::min<std::size_t>(want, static_cast<std::size_t>(*context.budget.evaluations - done_));
      const std::vector<std::string> asked = strategy_->ask(want, rng);
      if (asked.empty()) {
        result_.status = "exhausted";
        break;
      }
      const bool progressed = query(context, asked);
      // A strategy that only proposes architectures it has already seen can make no progress.
      fruitless_asks = progressed ? 0 : fruitless_asks + 1;
      if (fruitless_asks > 1000) {
        result_.status = "exhausted";
        break;
      }
    }
    if (context.interrupted()) result_.status = "interrupted";
    if (infeasible_ > 0)
      context.progress(std::to_string(infeasible_) + " candidates broke a constraint before training and were skipped", true);
    return finish();
  }

 private:
  MethodResult finish() {
    result_.counted = done_;
    return result_;
  }

  bool out_of_budget(const RunContext& context) const {
    return (context.budget.evaluations && done_ >= *context.budget.evaluations) || context.out_of_time() ||
           (context.budget.cost && total_cost_ >= *context.budget.cost);
  }

  // Evaluates the asked candidates not seen before (repeats reuse their earlier result), stores
  // them, and tells every asked one back. False when nothing new was evaluated.
  bool query(RunContext& context, const std::vector<std::string>& asked) {
    std::vector<std::string> canonical;
    for (const auto& arch : asked) canonical.push_back(context.space->canonical(arch));
    std::vector<Pending> pending;
    std::unordered_set<std::string> pending_archs;
    for (std::size_t i = 0; i < canonical.size(); ++i) {
      const std::string& arch = canonical[i];
      if (seen_.count(arch) || pending_archs.count(arch)) continue;
      Pending p;
      p.seq = next_seq_ + static_cast<std::int64_t>(pending.size());
      p.arch = arch;
      if (lineage_)
        if (const auto parent = lineage_->parent_of(asked[i]))
          if (const auto found = seq_of_.find(context.space->canonical(*parent)); found != seq_of_.end()) p.parent = found->second;
      if (auto stored = stored_statics(context, p.seq, arch)) p.statics = std::move(*stored);
      else p.statics = static_metrics(*context.space, arch);
      if (!feasible(context, p.statics)) {
        // Infeasible before training: never evaluated, never stored, told back as a failure.
        seen_[arch] = std::nullopt;
        seen_values_[arch] = std::nullopt;
        ++infeasible_;
        continue;
      }
      seq_of_[arch] = p.seq;
      pending_archs.insert(arch);
      pending.push_back(std::move(p));
    }
    evaluate(context, pending, *evaluator_, Stage::Query);
    const bool stopped = any_stopped(pending);
    for (Pending& p : pending) {
      if (p.stopped) continue;
      check_metric_reported(p.result, context.objective);
      ++done_;
      ++next_seq_;
      if (!p.replayed) ++result_.evaluated_now;
      total_cost_ += p.result.cost;
      const bool ok = feasible(context, p.result.metrics);
      seen_[p.arch] = ok ? fitness_of(p.result, context.objective) : std::nullopt;
      seen_values_[p.arch] = ok ? objective_values(p.result, context.objectives) : std::nullopt;
      if (ok) note_best(p, context);
      report(context, p);
    }
    // The run ends here (the stop that ended a training ends the loop): the strategy is told
    // nothing of a batch it cannot see whole, and --resume asks the same batch again.
    if (stopped) return false;
    for (const std::string& arch : canonical) {
      if (multi_objective_) multi_objective_->tell_objectives(arch, seen_values_.at(arch));
      else strategy_->tell(arch, seen_.at(arch));
    }
    return !pending.empty();
  }

  // Evaluates what is not stored yet (in parallel) and replays what is (on resume); stores each
  // result as it finishes.
  void evaluate(RunContext& context, std::vector<Pending>& pending, Evaluator& with, Stage stage) {
    std::vector<std::size_t> to_evaluate;
    for (std::size_t k = 0; k < pending.size(); ++k) {
      if (!replay(context, pending[k], stage)) to_evaluate.push_back(k);
    }
    Evaluator& runner = &with == evaluator_.get() && remote_evaluator_   ? *remote_evaluator_
                        : &with == predictor_.get() && remote_predictor_ ? *remote_predictor_
                                                                          : with;
    // Asked serially here: strategies are not thread-safe.
    std::vector<std::string> sources(pending.size());
    if (stage == Stage::Query && transfer_ && dynamic_cast<WeightTransferEvaluator*>(&with))
      for (std::size_t k : to_evaluate) sources[k] = transfer_->transfer_source(pending[k].arch);
    // More workers than cores is the user's choice (a worker may wait on a GPU): TBB's default
    // limit, the core count, would run fewer and say so on stderr.
    const tbb::global_control parallelism(tbb::global_control::max_allowed_parallelism,
                                          std::max<std::size_t>(static_cast<std::size_t>(context.workers),
                                                                tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism)));
    tbb::task_arena arena(context.workers);
    arena.execute([&] {
      tbb::parallel_for(
          tbb::blocked_range<std::size_t>(0, to_evaluate.size(), 1),
          [&](const tbb::blocked_range<std::size_t>& range) {
            // LibTorch's thread count is per calling thread under OpenMP: set it on each worker.
            at::set_num_threads(context.threads);
            for (std::size_t i = range.begin(); i != range.end(); ++i) evaluate_one(context, pending[to_evaluate[i]], runner, stage, sources[to_evaluate[i]]);
          },
          tbb::simple_partitioner());
    });
  }

  void evaluate_one(RunContext& context, Pending& p, Evaluator& with, Stage stage, const std::string& source) {
    p.fingerprint = context.space->fingerprint(p.arch);
    try {
      const std::uint64_t seed = derive_seed(context.seed, static_cast<std::uint64_t>(p.seq));
      p.result = source.empty() ? with.evaluate(*context.space, p.arch, seed)
                                : dynamic_cast<WeightTransferEvaluator&>(with).evaluate_from(*context.space, p.arch, seed, source);
    } catch (const TrainingStopped&) {
      p.stopped = true;
      return;
    } catch (const std::exception& error) {
      p.result = failed_evaluation(error);
    }
    // Metrics measured before training stay with the evaluation (the evaluator's own win).
    for (const auto& [name, value] : p.statics) p.result.metrics.emplace(name, value);
    // A queried candidate keeps the training-free scores it was chosen by.
    auto scores = pool_scores_.find(p.arch);
    if (stage == Stage::Query && scores != pool_scores_.end())
      for (const auto& [name, value] : scores->second) p.result.metrics.emplace(name, value);
    p.value = objective_value(p.result, context.objective);
    context.record_at(p.seq, stage, p.arch, p.fingerprint, p.result, p.value, p.parent);
  }

  // On resume, an evaluation stored at this seq stands in for evaluating it again.
  static bool replay(RunContext& context, Pending& p, Stage stage) {
    auto it = context.replay.find(p.seq);
    if (it == context.replay.end()) return false;
    if (it->second.arch != p.arch || it->second.stage != stage)
      throw Error("--resume: evaluation " + std::to_string(p.seq) + " is " + it->second.arch + " (" + to_string(it->second.stage) +
                  ") but the strategy now asks for " + p.arch + " (" + to_string(stage) + ") (was the run made by another nascent version?)");
    p.result = it->second.result;
    p.value = objective_value(p.result, context.objective);
    p.replayed = true;
    return true;
  }

  static void check_metric_reported(const Evaluation& evaluation, const Objective& objective) {
    if (!evaluation.ok || evaluation.metrics.count(objective.metric)) return;
    std::string known;
    for (const auto& metric : evaluation.metrics) known += (known.empty() ? "" : ", ") + metric.first;
    throw Error("config: objective.metric '" + objective.metric + "' is not reported by the evaluator (it reports: " + known + ")");
  }

  static bool is_static(const std::string& metric) { return metric == "params" || metric == "flops" || metric == "latency_ms"; }

  // `latency: {batch_size, warmup, repeats, device}`: how latency_ms is timed before evaluating.
  void read_latency(const Config& config, const RunContext& context) {
    const Config section = config.child("latency");
    section.check_keys({"batch_size", "warmup", "repeats", "device"});
    latency_.batch_size = section.get<int>("batch_size", 1);
    latency_.warmup = section.get<int>("warmup", 3);
    latency_.repeats = section.get<int>("repeats", 20);
    if (latency_.batch_size < 1 || latency_.warmup < 0 || latency_.repeats < 1)
      throw Error("config: latency: batch_size and repeats must be at least 1, warmup at least 0");
    const std::string device = section.get<std::string>("device", context.device_override.empty() ? "cpu" : context.device_override);
    try {
      latency_device_ = torch::Device(device);
    } catch (const std::exception&) {
      throw Error("config: latency.device '" + device + "': expected cpu, cuda or cuda:N");
    }
    // `--device cuda` without a GPU is the evaluator's error to report, unless latency is timed.
    const bool timed = std::find(statics_.begin(), statics_.end(), "latency_ms") != statics_.end();
    if (timed && latency_device_.is_cuda() && !torch::cuda::is_available())
      throw Error("config: latency.device '" + device + "' requested but LibTorch sees no CUDA device");
  }

  // The metrics computable without training that an objective or constraint names: params and
  // FLOPs from the space's description, latency timed on the built (untrained) network.
  std::map<std::string, double> static_metrics(const SearchSpace& space, const std::string& arch) const {
    std::map<std::string, double> metrics;
    std::optional<Description> description;  // params and FLOPs come from one description
    for (const std::string& metric : statics_) {
      if (metric == "latency_ms") {
        auto net = space.build(arch, static_task_);
        net->to(latency_device_);
        metrics[metric] = median_latency_ms(*net, static_task_.input_shape, static_task_.vocabulary_size > 0 ? torch::kLong : torch::kFloat,
                                            latency_device_, latency_);
        continue;
      }
      if (!description) description = space.describe(arch, static_task_);
      metrics[metric] = metric == "params" ? description->params : description->flops;
    }
    return metrics;
  }

  // On resume, the static metrics an evaluation stored at `seq` already holds: measuring them again
  // costs time and, for latency, could give another value and another verdict than the first run.
  std::optional<std::map<std::string, double>> stored_statics(const RunContext& context, std::int64_t seq, const std::string& arch) const {
    const auto stored = context.replay.find(seq);
    if (statics_.empty() || stored == context.replay.end() || stored->second.arch != arch) return std::nullopt;
    std::map<std::string, double> metrics;
    for (const std::string& metric : statics_) {
      const auto found = stored->second.result.metrics.find(metric);
      if (found == stored->second.result.metrics.end()) return std::nullopt;
      metrics[metric] = found->second;
    }
    return metrics;
  }

  static bool feasible(const RunContext& context, const std::map<std::string, double>& metrics) {
    return meets_constraints(context.constraints, metrics);
  }

  // The objectives' values, larger is better (minimised ones negated); nullopt when any is missing.
  static std::optional<std::vector<double>> objective_values(const Evaluation& result, const std::vector<Objective>& objectives) {
    std::vector<double> values;
    for (const Objective& objective : objectives) {
      const auto value = fitness_of(result, objective);
      if (!value) return std::nullopt;
      values.push_back(*value);
    }
    return values;
  }

  void note_best(const Pending& p, const RunContext& context) {
    const auto fitness = fitness_of(p.result, context.objective);
    if (fitness && (!best_fitness_ || *fitness > *best_fitness_)) {
      best_fitness_ = fitness;
      result_.best_arch = p.arch;
      result_.best_value = p.value;
      result_.best_metrics = p.result.metrics;
    }
  }

  void report(RunContext& context, const Pending& p) {
    const double elapsed = context.elapsed();
    const auto& budget = context.budget;
    // Time left follows whichever budget ends the run first: the evaluations still to do at this
    // run's pace, or the seconds budget.
    std::optional<double> left_seconds;
    if (budget.evaluations && result_.evaluated_now > 0)
      left_seconds = (elapsed - context.elapsed_offset) / static_cast<double>(result_.evaluated_now) *
                     static_cast<double>(std::max<long long>(0, *budget.evaluations - done_));
    if (budget.seconds) {
      const double by_time = std::max(0.0, *budget.seconds - elapsed);
      left_seconds = left_seconds ? std::min(*left_seconds, by_time) : by_time;
    }
    const std::string left = left_seconds ? "  ~" + format_duration(*left_seconds) + " left" : "";
    const std::string total = budget.evaluations ? "/" + std::to_string(*budget.evaluations) : "";
    std::string value = evaluation_status(p.result) + ": " + p.result.error;
    if (p.result.ok) {
      auto it = p.result.metrics.find(context.objective.metric);
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, "%s %.4g", context.objective.metric.c_str(), it == p.result.metrics.end() ? NAN : it->second);
      value = buffer;
    }
    char best[64] = "none";
    if (result_.best_value) std::snprintf(best, sizeof best, "%.4g", *result_.best_value);
    char line[512];
    std::snprintf(line, sizeof line, "[%lld%s] %s  best %s  elapsed %s%s", static_cast<long long>(done_), total.c_str(), value.c_str(), best,
                  format_duration(elapsed).c_str(), left.c_str());
    context.progress(line, true);
  }

  // Scores the strategy's pool with the `predictor` evaluator before any query. False when the
  // run was stopped or ran out of time first (--resume continues it).
  bool score_pool(RunContext& context, Rng& rng) {
    if (!pool_scoring_) return true;
    const std::vector<std::string> pool = pool_scoring_->score_pool(rng);
    if (pool.empty()) return true;
    if (!predictor_)
      throw Error("config: strategy " + strategy_->name() +
                  " scores a pool of candidates first: add a `predictor` section (e.g. name: proxy, metrics: [synflow])");
    std::size_t scored = 0, failed = 0;
    const std::size_t chunk = std::max<std::size_t>(context.batch, 16);
    for (std::size_t begin = 0; begin < pool.size(); begin += chunk) {
      if (context.should_stop()) {
        context.progress("stopped while scoring the candidate pool (" + std::to_string(scored) + " of " + std::to_string(pool.size()) + " scored)", true);
        return false;
      }
      std::vector<Pending> pending;
      for (std::size_t i = begin; i < std::min(pool.size(), begin + chunk); ++i) {
        Pending p;
        p.seq = next_seq_++;
        p.arch = pool[i];
        pending.push_back(std::move(p));
      }
      evaluate(context, pending, *predictor_, Stage::Score);
      if (any_stopped(pending)) {
        context.progress("stopped while scoring the candidate pool (" + std::to_string(scored) + " of " + std::to_string(pool.size()) + " scored)", true);
        return false;
      }
      for (const auto& p : pending) {
        pool_scoring_->tell_scores(p.arch, p.result.metrics, p.result.ok);
        pool_scores_[p.arch] = p.result.metrics;
        note_best(p, context);
        ++scored;
        if (!p.result.ok) ++failed;
      }
      const double elapsed = context.elapsed();
      context.progress("[scored " + std::to_string(scored) + "/" + std::to_string(pool.size()) + "] " + std::to_string(failed) + " failed  elapsed " +
                           format_duration(elapsed) + "  ~" +
                           format_duration((elapsed - context.elapsed_offset) / static_cast<double>(scored) * static_cast<double>(pool.size() - scored)) +
                           " left",
                       scored == pool.size());
    }
    return true;
  }

  Config strategy_config_;
  std::unique_ptr<Strategy> strategy_;
  PoolScoringStrategy* pool_scoring_ = nullptr;  // the strategy's capabilities, when it has them
  WeightTransferStrategy* transfer_ = nullptr;
  std::unique_ptr<Evaluator> evaluator_, predictor_;
  std::unique_ptr<Evaluator> remote_evaluator_, remote_predictor_;  // under mpirun: the other processes evaluate
  std::string evaluator_name_;
  std::unordered_map<std::string, std::optional<double>> seen_;  // arch -> fitness, within this run
  std::unordered_map<std::string, std::int64_t> seq_of_;          // arch -> the seq it was queried at
  ProposesChildren* lineage_ = nullptr;
  MultiObjectiveStrategy* multi_objective_ = nullptr;
  std::unordered_map<std::string, std::optional<std::vector<double>>> seen_values_;  // arch -> objective values
  std::vector<std::string> statics_;  // params, flops, latency_ms named by an objective or a constraint
  Task static_task_;
  LatencyOptions latency_;
  torch::Device latency_device_{torch::kCPU};
  std::size_t infeasible_ = 0;
  std::unordered_map<std::string, std::map<std::string, double>> pool_scores_;
  std::int64_t done_ = 0;      // query evaluations, which the evaluations budget counts
  std::int64_t next_seq_ = 0;  // every stored evaluation, scores included
  double total_cost_ = 0;
  std::optional<double> best_fitness_;
  MethodResult result_;
};

}  // namespace

std::unique_ptr<Method> make_ask_tell_search(const Config& strategy) { return std::make_unique<AskTellSearch>(strategy); }

}  // namespace nascent
