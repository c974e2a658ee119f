// Multi-fidelity search as a run method: successive halving, Hyperband and ASHA train each
// candidate for a few epochs first and only the promising ones for longer, every promotion
// continuing from the training state its previous rung saved.
//
// Jobs run on parallel workers and finish in any order, yet a run is the same for a seed and
// `parallel.batch` however many workers there are: job j is scheduled knowing the results of jobs
// 0 .. j - batch exactly (told in job order, never more), so a worker that frees up starts the next
// job at once unless the job `batch` places back is still training. `batch: 1` is the sequential
// schedule of the papers.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "core/checkpoint.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"
#include "evaluators/cluster_evaluator.hpp"
#include "evaluators/reported_metrics.hpp"
#include "strategies/asha.hpp"
#include "strategies/hyperband.hpp"
#include "strategies/method.hpp"
#include "strategies/regularized_evolution.hpp"

namespace nascent {

namespace {

enum class Schedule { SuccessiveHalving, Hyperband, Asha };

OptionTable fidelity_options(Schedule kind) {
  OptionTable table;
  table.integer("min_epochs", 1, "epochs of the smallest rung").at_least(1)
      .integer("max_epochs", 9, "epochs of the largest rung: a candidate's whole training (its learning-rate schedule spans them)")
      .at_least(1)
      .number("reduction", 3, "eta: a rung keeps its best 1/reduction, and each rung trains reduction times longer")
      .at_least(1.01)
      .text("sampler", "random",
            "where new candidates come from: random (the papers), or evolution: regularised evolution over each candidate's first "
            "result (a tournament of `sample` among the latest `population`, its winner mutated), as Optuna pairs a sampler with a pruner")
      .one_of({"random", "evolution"})
      .integer("population", 10, "sampler evolution: the latest first results kept; the first `population` candidates are random")
      .at_least(1)
      .integer("sample", 3, "sampler evolution: tournament size")
      .at_least(1);
  if (kind == Schedule::SuccessiveHalving)
    table.integer("candidates", 0, "candidates the bracket starts with (0: reduction^(rungs - 1), so that one reaches the top)").at_least(0);
  if (kind == Schedule::Hyperband)
    table.integer("passes", 1, "passes over the brackets (0: start them again until the budget ends)").at_least(0);
  if (kind == Schedule::Asha)
    table.flag("endgame", true,
               "with budget.epochs: once the epochs left cannot carry a new candidate to max_epochs, carry the best partly trained "
               "ones there instead (outside their rung's top 1/reduction if need be)");
  return table;
}

struct Slot {
  FidelityJob job;
  Evaluation result;
  bool done = false;
  bool replayed = false;
  bool stopped = false;  // its training was ended by a stop: no result, not stored
  std::thread thread;
};

class MultiFidelitySearch final : public Method {
 public:
  MultiFidelitySearch(Schedule kind, std::string name, const Options& options)
      : kind_(kind), name_(std::move(name)),
        rungs_(fidelity_rungs(options.get<long long>("min_epochs"), options.get<long long>("max_epochs"), options.get<double>("reduction"))),
        reduction_(options.get<double>("reduction")),
        candidates_(kind == Schedule::SuccessiveHalving ? static_cast<std::size_t>(options.get<long long>("candidates")) : 0),
        passes_(kind == Schedule::Hyperband ? static_cast<std::size_t>(options.get<long long>("passes")) : 1),
        endgame_(kind == Schedule::Asha && options.get<bool>("endgame")) {
    if (kind_ == Schedule::SuccessiveHalving && candidates_ == 0)
      candidates_ = static_cast<std::size_t>(std::llround(std::pow(reduction_, static_cast<double>(rungs_.size() - 1))));
    if (options.get<std::string>("sampler") == "evolution") {
      evolution_options_.emplace();
      evolution_options_->population = static_cast<std::size_t>(options.get<long long>("population"));
      evolution_options_->sample = static_cast<std::size_t>(options.get<long long>("sample"));
      // Checked here rather than when the evolution is built in run(): before the run is recorded.
      if (evolution_options_->sample > evolution_options_->population)
        options.fail("sample", std::to_string(evolution_options_->sample) + " is larger than the population (" +
                                   std::to_string(evolution_options_->population) + ")");
    }
  }

  std::string label() const override { return name_; }
  std::string evaluator_label() const override { return evaluator_name_; }
  Stage final_stage() const override { return Stage::Query; }
  std::vector<std::string> sections() const override { return {"evaluator", "constraints"}; }
  std::vector<std::string> budget_keys() const override { return {"evaluations", "epochs", "seconds", "cost"}; }
  // Successive halving and Hyperband end with their brackets; ASHA and Hyperband with `passes: 0` go
  // on until the budget ends.
  bool needs_budget() const override { return until_budget(); }
  bool evaluates_in_parallel() const override { return true; }
  bool resumable() const override { return true; }
  std::string default_metric(const Config& config) const override {
    return config.child("evaluator").get<std::string>("metric", "val_acc");
  }

  void prepare(RunContext& context) override {
    const Config& config = *context.config;
    if (context.objectives.size() > 1)
      throw Error("config: objectives: " + name_ + " ranks candidates by one objective; give `objective` instead");
    const Config evaluator = config.child("evaluator");
    evaluator_name_ = evaluator.get<std::string>("name", "train");
    if (evaluator.get<long long>("steps", 0) > 0)
      throw Error("config: evaluator.steps: " + name_ + " counts training in epochs (strategy.min_epochs, max_epochs); remove steps");
    EvaluatorContext evaluator_context{context.config_dir, context.threads, context.device_override, context.space};
    // Ctrl-C and budget.seconds end the installments in flight at their next step.
    evaluator_context.stop = [&context] { return context.should_stop(); };
    evaluator_ = make_evaluator(evaluator, evaluator_context);
    staged_ = dynamic_cast<TrainsInStages*>(evaluator_.get());
    if (!staged_)
      throw Error("config: strategy " + name_ + " trains candidates in installments, which evaluator " + evaluator_name_ +
                  " cannot (use evaluator: train)");
    if (const auto* reporter = dynamic_cast<const ReportsMetrics*>(evaluator_.get())) {
      const std::vector<std::string> metrics = reporter->reported_metrics();
      std::vector<std::string> named{context.objective.metric};
      for (const Constraint& constraint : context.constraints) named.push_back(constraint.metric);
      for (std::size_t i = 0; i < named.size(); ++i) {
        if (std::find(metrics.begin(), metrics.end(), named[i]) != metrics.end()) continue;
        std::string known;
        for (const auto& metric : metrics) known += (known.empty() ? "" : ", ") + metric;
        throw Error("config: " + (i == 0 ? "objective.metric '" + named[i] + "'" : "constraints." + named[i]) +
                    " is not reported by the evaluator (it reports: " + known + ")");
      }
    }
    const auto* described = dynamic_cast<const EvaluatesTask*>(evaluator_.get());
    task_ = described ? described->evaluation_task() : Task{context.space->default_input_shape(), 10, 0};
    // Under mpirun the other processes train; the states travel with the jobs.
    if ((remote_ = distributed("evaluator", *evaluator_))) staged_ = remote_.get();
  }

  MethodResult run(RunContext& context) override {
    Rng rng(context.seed);
    stages_dir_ = context.checkpoint_path + ".stages";
    if (evolution_options_) evolution_ = std::make_unique<RegularizedEvolution>(*context.space, *evolution_options_);
    CandidateSampler sampler = [this, &context](Rng& draw) { return sample(context, draw); };
    std::unique_ptr<FidelitySchedule> schedule;
    if (kind_ == Schedule::Asha) schedule = std::make_unique<Asha>(rungs_, reduction_, sampler, endgame_);
    else if (kind_ == Schedule::Hyperband) schedule = std::make_unique<Hyperband>(rungs_, reduction_, sampler, passes_);
    else schedule = std::make_unique<SuccessiveHalving>(rungs_, 0, candidates_, reduction_, sampler);
    context.progress(name_ + ": rungs of " + rung_list() + " epochs, reduction " + short_text(reduction_) +
                         (kind_ == Schedule::SuccessiveHalving ? ", " + std::to_string(candidates_) + " candidates" : ""),
                     true);

    std::deque<Slot> slots;  // by job id; a deque keeps each slot in place while workers write to it
    std::size_t applied = 0;
    int running = 0;
    std::mutex mutex;
    std::condition_variable finished_one;
    std::string halted;  // why no job is scheduled any more
    const std::size_t lag = context.batch;

    auto start = [&](Slot& slot) {
      ++running;
      slot.thread = std::thread([this, &context, &slot, &mutex, &finished_one, &running] {
        train(context, slot);
        std::lock_guard<std::mutex> lock(mutex);
        slot.done = true;
        --running;
        finished_one.notify_all();
      });
    };
    auto apply_next = [&] {
      Slot& slot = slots[applied++];
      if (slot.thread.joinable()) slot.thread.join();
      // A stopped job has no result; only a stop ends a training, so nothing is scheduled after it.
      if (!slot.stopped) apply(context, *schedule, slot);
    };

    std::unique_lock<std::mutex> lock(mutex);
    try {
      while (true) {
        if (halted.empty() && context.interrupted()) halted = "interrupted";
        while (halted.empty() && running < context.workers) {
          const std::size_t j = slots.size();
          // Job j sees the results of jobs 0 .. j - lag, and no others.
          if (j + 1 > lag && applied < j + 1 - lag) {
            if (!slots[applied].done) break;
            apply_next();
            continue;
          }
          halted = stop_reason(context);
          if (!halted.empty()) break;
          if (context.budget.epochs) schedule->set_epochs_left(*context.budget.epochs - planned_epochs_);
          std::optional<FidelityJob> job = schedule->next(rng);
          if (!job) {
            // A synchronous rung waits for results still owed, in order; without any, the schedule is over.
            if (applied < slots.size()) {
              if (!slots[applied].done) break;
              apply_next();
              continue;
            }
            halted = schedule->finished() || !until_budget() ? "finished" : "exhausted";
            break;
          }
          const double new_epochs = static_cast<double>(job->epochs - (job->continues ? slots[static_cast<std::size_t>(*job->continues)].job.epochs : 0));
          if (context.budget.epochs && planned_epochs_ + new_epochs > *context.budget.epochs + 1e-9) {
            halted = "epochs";
            break;
          }
          planned_epochs_ += new_epochs;
          slots.emplace_back();
          ++scheduled_;
          Slot& slot = slots.back();
          slot.job = *job;
          if (replay(context, slot)) continue;
          start(slot);
        }
        // With nothing training, the loop above only stops once something halted the schedule.
        if (running == 0) break;
        const std::size_t before = done_count(slots);
        finished_one.wait(lock, [&] { return done_count(slots) != before || running == 0 || (halted.empty() && context.interrupted()); });
      }
      while (applied < slots.size()) apply_next();
    } catch (...) {
      // Workers write into `slots`: they finish before it goes away.
      finished_one.wait(lock, [&] { return running == 0; });
      for (Slot& slot : slots)
        if (slot.thread.joinable()) slot.thread.join();
      throw;
    }
    lock.unlock();

    if (context.interrupted()) result_.status = "interrupted";
    else if (halted == "finished") result_.status = "finished";
    else if (halted == "exhausted") result_.status = "exhausted";
    else if (halted == "evaluations" || halted == "epochs") result_.status = until_budget() ? "finished" : "budget";
    else result_.status = "budget";
    result_.counted = static_cast<std::int64_t>(std::count_if(slots.begin(), slots.end(), [](const Slot& s) { return !s.stopped; }));
    if (infeasible_ > 0)
      context.progress(std::to_string(infeasible_) + " candidates broke a constraint before training and were skipped", true);
    // The trained states are kept for --resume until the schedule is over.
    std::error_code ec;
    if (result_.status == "finished" && !until_budget()) std::filesystem::remove_all(stages_dir_, ec);
    else if (std::filesystem::exists(stages_dir_, ec))
      context.progress("training states kept for --resume in " + stages_dir_ + " (delete it when the run is over)", true);
    return result_;
  }

 private:
  static std::size_t done_count(const std::deque<Slot>& slots) {
    return static_cast<std::size_t>(std::count_if(slots.begin(), slots.end(), [](const Slot& s) { return s.done; }));
  }

  std::string stop_reason(const RunContext& context) const {
    if (context.interrupted()) return "interrupted";
    if (context.out_of_time()) return "seconds";
    if (context.budget.cost && total_cost_ >= *context.budget.cost) return "cost";
    if (context.budget.evaluations && jobs_scheduled() >= *context.budget.evaluations) return "evaluations";
    if (context.budget.epochs && planned_epochs_ >= *context.budget.epochs - 1e-9) return "epochs";
    return "";
  }
  long long jobs_scheduled() const { return static_cast<long long>(scheduled_); }
  bool until_budget() const { return kind_ == Schedule::Asha || (kind_ == Schedule::Hyperband && passes_ == 0); }

  std::string state_path(std::int64_t job) const { return stages_dir_ + "/job-" + std::to_string(job) + ".state"; }

  // A new canonical candidate not drawn before whose params and FLOPs meet the constraints; "" when
  // a thousand draws found none. The evolution sampler draws each from a fresh tournament.
  std::string sample(const RunContext& context, Rng& rng) {
    for (int tries = 0; tries < 1000; ++tries) {
      const std::string arch = context.space->canonical(evolution_ ? evolution_->ask(1, rng).front() : context.space->sample(rng));
      if (!drawn_.insert(arch).second) continue;
      if (!statically_feasible(context, arch)) {
        ++infeasible_;
        continue;
      }
      return arch;
    }
    return "";
  }

  bool statically_feasible(const RunContext& context, const std::string& arch) const {
    std::optional<Description> description;
    for (const Constraint& constraint : context.constraints) {
      if (constraint.metric != "params" && constraint.metric != "flops") continue;
      if (!description) description = context.space->describe(arch, task_);
      const double value = constraint.metric == "params" ? description->params : description->flops;
      if (!constraint.satisfied_by(value)) return false;
    }
    return true;
  }

  // On resume, the evaluation stored for this job stands in for training it again.
  bool replay(RunContext& context, Slot& slot) {
    auto it = context.replay.find(slot.job.id);
    if (it == context.replay.end()) return false;
    const Stage stage = stage_of(slot.job);
    if (it->second.arch != slot.job.arch || it->second.stage != stage)
      throw Error("--resume: evaluation " + std::to_string(slot.job.id) + " is " + it->second.arch + " (" + to_string(it->second.stage) +
                  ") but " + name_ + " now schedules " + slot.job.arch + " (" + to_string(stage) +
                  ") (was the run made by another nascent version?)");
    slot.result = it->second.result;
    slot.done = true;
    slot.replayed = true;
    return true;
  }

  Stage stage_of(const FidelityJob& job) const { return job.rung + 1 == rungs_.size() ? Stage::Query : Stage::Rung; }

  // Runs on a worker thread: one installment of training, its state saved for a promotion, the
  // evaluation stored.
  void train(RunContext& context, Slot& slot) {
    at::set_num_threads(context.threads);
    const FidelityJob& job = slot.job;
    std::string resume, state;
    if (job.continues) {
      // A missing or damaged state is trained again from scratch, to the same result.
      try {
        if (auto saved = read_checkpoint_file(state_path(*job.continues))) resume = std::move(*saved);
      } catch (const std::exception&) {
      }
    }
    try {
      slot.result = staged_->evaluate_for(*context.space, job.arch, derive_seed(context.seed, static_cast<std::uint64_t>(job.origin)),
                                          job.epochs, rungs_.back(), resume, state);
    } catch (const TrainingStopped&) {
      // Not stored: --resume schedules the same job and trains it again from the state it continued.
      slot.stopped = true;
      return;
    } catch (const std::exception& error) {
      slot.result = failed_evaluation(error);
    }
    slot.result.metrics["rung"] = static_cast<double>(job.rung);
    if (!slot.result.metrics.count("epochs")) slot.result.metrics["epochs"] = static_cast<double>(job.epochs);
    if (slot.result.ok && job.rung + 1 < rungs_.size() && !state.empty()) {
      try {
        std::filesystem::create_directories(stages_dir_);
        write_checkpoint_file(state_path(job.id), state);
      } catch (const std::exception&) {
        // Without the state a promotion trains from scratch: slower, same result.
      }
    }
    context.record_at(job.id, stage_of(job), job.arch, context.space->fingerprint(job.arch), slot.result,
                      objective_value(slot.result, context.objective), job.continues);
  }

  // Tells a finished job's result to the schedule, in job order, and reports it.
  void apply(RunContext& context, FidelitySchedule& schedule, const Slot& slot) {
    const Evaluation& result = slot.result;
    const bool feasible = result.ok && meets_constraints(context.constraints, result.metrics);
    const std::optional<double> fitness = feasible ? fitness_of(result, context.objective) : std::nullopt;
    schedule.tell(slot.job.id, fitness);
    // Every candidate's first result has the same fidelity under ASHA and successive halving (the
    // smallest rung); Hyperband's brackets start at different rungs, which this ranking ignores.
    if (evolution_ && !slot.job.continues) evolution_->tell(slot.job.arch, fitness);
    if (!slot.replayed) {
      ++result_.evaluated_now;
      trained_now_ += static_cast<double>(slot.job.epochs);
    }
    total_cost_ += result.cost;
    // A candidate trained further outranks any trained less: the answer is the best at the highest rung reached.
    if (fitness && (!best_fitness_ || slot.job.rung > best_rung_ || (slot.job.rung == best_rung_ && *fitness > *best_fitness_))) {
      best_fitness_ = fitness;
      best_rung_ = slot.job.rung;
      result_.best_arch = slot.job.arch;
      result_.best_value = objective_value(result, context.objective);
      result_.best_metrics = result.metrics;
    }
    report(context, slot);
  }

  void report(RunContext& context, const Slot& slot) {
    const auto& budget = context.budget;
    const double elapsed = context.elapsed();
    std::string value = "failed: " + slot.result.error;
    if (slot.result.ok) {
      const auto it = slot.result.metrics.find(context.objective.metric);
      value = context.objective.metric + " " + short_text(it == slot.result.metrics.end() ? NAN : it->second);
    }
    std::string best = "none";
    if (result_.best_value) best = short_text(*result_.best_value) + " at " + std::to_string(rungs_[best_rung_]) + " epochs";
    std::string spent;
    if (budget.epochs) spent = "  epochs " + short_text(planned_epochs_) + "/" + short_text(*budget.epochs);
    std::optional<double> left;
    const double pace = elapsed - context.elapsed_offset;
    if (budget.epochs && trained_now_ > 0) left = pace / trained_now_ * std::max(0.0, *budget.epochs - planned_epochs_);
    else if (budget.evaluations && result_.evaluated_now > 0)
      left = pace / static_cast<double>(result_.evaluated_now) * static_cast<double>(std::max(0LL, *budget.evaluations - jobs_scheduled()));
    if (budget.seconds) left = std::min(left.value_or(INFINITY), std::max(0.0, *budget.seconds - elapsed));
    char line[512];
    std::snprintf(line, sizeof line, "[%lld%s] rung %zu (%lld epochs) %s  best %s%s  elapsed %s%s", static_cast<long long>(slot.job.id + 1),
                  budget.evaluations ? ("/" + std::to_string(*budget.evaluations)).c_str() : "", slot.job.rung,
                  static_cast<long long>(slot.job.epochs), value.c_str(), best.c_str(), spent.c_str(), format_duration(elapsed).c_str(),
                  left ? ("  ~" + format_duration(*left) + " left").c_str() : "");
    context.progress(line, true);
  }

  std::string rung_list() const {
    std::string text;
    for (std::int64_t epochs : rungs_) text += (text.empty() ? "" : ", ") + std::to_string(epochs);
    return text;
  }
  static std::string short_text(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.4g", value);
    return buffer;
  }

  Schedule kind_;
  std::string name_;
  std::vector<std::int64_t> rungs_;
  double reduction_;
  std::optional<RegularizedEvolution::Options> evolution_options_;  // sampler: evolution
  std::unique_ptr<RegularizedEvolution> evolution_;
  std::size_t candidates_;
  std::size_t passes_;
  bool endgame_;
  std::unique_ptr<Evaluator> evaluator_;
  std::unique_ptr<ClusterEvaluator> remote_;
  TrainsInStages* staged_ = nullptr;
  std::string evaluator_name_;
  Task task_;
  std::string stages_dir_;
  std::unordered_set<std::string> drawn_;
  std::size_t infeasible_ = 0, scheduled_ = 0;
  double planned_epochs_ = 0, trained_now_ = 0, total_cost_ = 0;
  std::optional<double> best_fitness_;
  std::size_t best_rung_ = 0;
  MethodResult result_;
};

}  // namespace

void register_multi_fidelity_methods(Registries& registries) {
  const auto add = [&](Schedule kind, const std::string& name, const std::string& summary) {
    registries.methods.add(name, summary, fidelity_options(kind), [kind, name](const Options& options) -> std::unique_ptr<Method> {
      return std::make_unique<MultiFidelitySearch>(kind, name, options);
    });
  };
  add(Schedule::SuccessiveHalving, "successive_halving",
      "successive halving (Jamieson & Talwalkar 2016): one bracket, the best 1/reduction of each rung trained longer");
  add(Schedule::Hyperband, "hyperband", "Hyperband (Li et al. 2018): successive-halving brackets from aggressive to plain full training");
  add(Schedule::Asha, "asha", "ASHA (Li et al. 2020): asynchronous successive halving that keeps every worker busy until the budget ends");
}

}  // namespace nascent
