#include "runner/search.hpp"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "core/error.hpp"
#include "core/registry.hpp"
#include "evaluators/evaluator.hpp"
#include "results/store.hpp"
#include "strategies/strategy.hpp"

namespace nascent {

namespace {

std::atomic<bool> g_stop_requested{false};

struct Settings {
  std::uint64_t seed = 0;
  SearchObjective objective;
  std::optional<std::int64_t> max_evaluations;
  std::optional<double> max_seconds;
  std::optional<double> max_cost;
  int workers = 1;
  int threads_per_worker = 1;
  std::size_t batch = 1;
};

Settings read_settings(const Config& config, const SearchOptions& options) {
  config.check_keys({"name", "description", "seed", "space", "strategy", "evaluator", "objective", "budget",
                     "parallel", "plugins", "predictor"});
  Settings s;
  s.seed = options.seed ? *options.seed : config.get<unsigned long>("seed", 0);

  s.objective = read_objective(config, config.child("evaluator").get<std::string>("metric", "val_acc"));

  const Config budget = config.child("budget");
  budget.check_keys({"evaluations", "seconds", "cost"});
  if (budget.has("evaluations")) s.max_evaluations = budget.get<long long>("evaluations");
  if (budget.has("seconds")) s.max_seconds = budget.get<double>("seconds");
  if (budget.has("cost")) s.max_cost = budget.get<double>("cost");
  if (!s.max_evaluations && !s.max_seconds && !s.max_cost)
    throw Error("config: budget needs at least one of evaluations, seconds or cost");
  if (s.max_evaluations && *s.max_evaluations < 0) throw Error("config: budget.evaluations must not be negative");

  const Config parallel = config.child("parallel");
  parallel.check_keys({"workers", "threads_per_worker", "batch"});
  s.workers = parallel.get<int>("workers", 1);
  s.threads_per_worker = parallel.get<int>("threads_per_worker", 1);
  if (s.workers < 1) throw Error("config: parallel.workers must be at least 1");
  if (s.threads_per_worker < 1) throw Error("config: parallel.threads_per_worker must be at least 1");
  const int batch = parallel.get<int>("batch", s.workers);
  if (batch < 1) throw Error("config: parallel.batch must be at least 1");
  s.batch = static_cast<std::size_t>(batch);
  return s;
}

// The part of a config that decides which candidates a run asks for and how they score.
// Budgets, worker counts and the device may change between a run and its resumption.
std::string identity_of(const Config& config) {
  YAML::Node copy = YAML::Clone(config.node());
  copy.remove("budget");
  if (copy["parallel"]) {
    copy["parallel"].remove("workers");
    copy["parallel"].remove("threads_per_worker");
  }
  if (copy["evaluator"]) copy["evaluator"].remove("device");
  if (copy["predictor"]) copy["predictor"].remove("device");
  YAML::Emitter out;
  out << copy;
  return out.c_str();
}

void check_metric_reported(const Evaluation& evaluation, const Settings& settings) {
  if (!evaluation.ok || evaluation.metrics.count(settings.objective.metric)) return;
  std::string known;
  for (const auto& metric : evaluation.metrics) known += (known.empty() ? "" : ", ") + metric.first;
  throw Error("config: objective.metric '" + settings.objective.metric + "' is not reported by the evaluator (it reports: " +
              known + ")");
}

class Clock {
 public:
  explicit Clock(double offset) : offset_(offset), start_(std::chrono::steady_clock::now()) {}
  double elapsed() const {
    return offset_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  double offset_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

SearchObjective read_objective(const Config& config, const std::string& default_metric) {
  const Config objective = config.child("objective");
  objective.check_keys({"metric", "mode"});
  const std::string mode = objective.get<std::string>("mode", "max");
  if (mode != "max" && mode != "min") throw Error("config: objective.mode must be max or min, got '" + mode + "'");
  return {objective.get<std::string>("metric", default_metric), mode == "max"};
}

// A metric that the evaluator never reports is caught by check_metric_reported.
std::optional<double> fitness_of(const Evaluation& evaluation, const SearchObjective& objective) {
  if (!evaluation.ok) return std::nullopt;
  auto it = evaluation.metrics.find(objective.metric);
  if (it == evaluation.metrics.end() || !std::isfinite(it->second)) return std::nullopt;
  return objective.maximize ? it->second : -it->second;
}

std::string format_duration(double seconds) {
  char buffer[32];
  if (seconds < 120) std::snprintf(buffer, sizeof buffer, "%.0fs", seconds);
  else if (seconds < 7200) std::snprintf(buffer, sizeof buffer, "%.1fm", seconds / 60);
  else std::snprintf(buffer, sizeof buffer, "%.1fh", seconds / 3600);
  return buffer;
}

void request_stop() { g_stop_requested = true; }
bool stop_requested() { return g_stop_requested; }

SearchSummary run_search(const SearchOptions& options) {
  g_stop_requested = false;
  Config config = options.config;
  register_builtin_spaces();
  for (const auto& plugin : config.get<std::vector<std::string>>("plugins", {}))
    load_plugin(resolve_path(plugin, options.config_dir));
  for (const auto& plugin : options.plugins) load_plugin(plugin);

  const std::string strategy_name = config.child("strategy").get<std::string>("name", "");
  if (strategy_name == "darts" || strategy_name == "rarts") return run_differentiable_search(options, config);
  if (strategy_name == "ofa" || strategy_name == "vit_resnas") return run_weight_sharing_search(options, config);
  if (options.device) config.set("evaluator.device=" + *options.device);

  Settings settings = read_settings(config, options);
  Config space_config = config.child("space");
  // A grammar file (space `grammar`) or a model library (`flexibert`) may sit next to the config,
  // like any other data path.
  for (const char* path_key : {"file", "models"}) {
    if (!space_config.has(path_key)) continue;
    YAML::Node resolved = YAML::Clone(space_config.node());
    resolved[path_key] = resolve_path(space_config.get<std::string>(path_key), options.config_dir);
    space_config = Config(resolved, space_config.path());
  }
  const std::string space_name = space_config.get<std::string>("name");
  auto space = SpaceRegistry::instance().create(space_name, space_config);
  auto strategy = make_strategy(config.child("strategy"), *space, options.config_dir);
  EvaluatorContext context{options.config_dir, settings.threads_per_worker, options.device.value_or(""), space.get()};
  auto evaluator = make_evaluator(config.child("evaluator"), context);
  // Built here, like the evaluator, so that a bad `predictor` section fails before a run is recorded.
  std::unique_ptr<Evaluator> predictor;
  if (config.has("predictor")) predictor = make_evaluator(config.child("predictor"), context);
  at::set_num_threads(settings.threads_per_worker);

  ResultStore store(options.db_path, ResultStore::Mode::ReadWrite);
  std::int64_t run_id = 0;
  std::unordered_map<std::int64_t, StoredEvaluation> stored;
  double elapsed_offset = 0;
  if (options.resume) {
    auto previous = store.latest_run();
    if (!previous) throw Error("--resume: " + options.db_path + " has no run to resume");
    if (options.seed && *options.seed != previous->seed)
      throw Error("--resume: run " + std::to_string(previous->id) + " used seed " + std::to_string(previous->seed) +
                  ", not " + std::to_string(*options.seed));
    if (identity_of(Config::parse(previous->config)) != identity_of(config))
      throw Error("--resume: the config differs from run " + std::to_string(previous->id) +
                  " (only budget, parallel workers/threads and evaluator.device may change)");
    run_id = previous->id;
    settings.seed = previous->seed;
    for (auto& evaluation : store.evaluations(run_id)) {
      elapsed_offset = std::max(elapsed_offset, evaluation.elapsed);
      stored.emplace(evaluation.seq, std::move(evaluation));
    }
    store.reopen_run(run_id);
  } else {
    RunInfo info;
    info.config = config.dump();
    info.seed = settings.seed;
    info.space = space_name;
    info.strategy = strategy->name();
    info.evaluator = config.child("evaluator").get<std::string>("name", "train");
    info.objective_metric = settings.objective.metric;
    info.maximize = settings.objective.maximize;
    run_id = store.begin_run(info);
  }

  SearchSummary summary;
  summary.run = run_id;
  const Clock clock(elapsed_offset);
  Rng rng(settings.seed);
  std::unordered_map<std::string, std::optional<double>> seen;  // arch -> fitness, within this run
  std::int64_t done = 0;      // query evaluations, which the evaluations budget counts
  std::int64_t next_seq = 0;  // every stored evaluation, scores included
  double total_cost = 0;
  std::optional<double> best;
  std::mutex store_mutex;
  std::size_t fruitless_asks = 0;
  std::string status = "finished";

  const auto budget_left = [&]() -> std::optional<std::int64_t> {
    if (settings.max_evaluations) return *settings.max_evaluations - done;
    return std::nullopt;
  };
  const auto out_of_budget = [&] {
    return (settings.max_evaluations && done >= *settings.max_evaluations) ||
           (settings.max_seconds && clock.elapsed() >= *settings.max_seconds) ||
           (settings.max_cost && total_cost >= *settings.max_cost);
  };
  const auto note_best = [&](const StoredEvaluation& e) {
    if (e.fitness && (!best || *e.fitness > *best)) {
      best = e.fitness;
      summary.best_arch = e.arch;
      summary.best_fitness = settings.objective.maximize ? *e.fitness : -*e.fitness;
      summary.best_metrics = e.result.metrics;
    }
  };
  const auto report = [&](const StoredEvaluation& e) {
    note_best(e);
    if (options.quiet) return;
    const double elapsed = clock.elapsed();
    std::string left;
    if (settings.max_evaluations && done > 0 && *settings.max_evaluations > done)
      left = "  ~" + format_duration((elapsed - elapsed_offset) / std::max<std::int64_t>(1, summary.evaluated_now) *
                                     (*settings.max_evaluations - done)) + " left";
    if (settings.max_seconds) left = "  " + format_duration(std::max(0.0, *settings.max_seconds - elapsed)) + " left";
    const std::string total = settings.max_evaluations ? "/" + std::to_string(*settings.max_evaluations) : "";
    std::string value = e.result.ok ? "" : "failed: " + e.result.error;
    if (e.result.ok) {
      auto it = e.result.metrics.find(settings.objective.metric);
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, "%s %.4g", settings.objective.metric.c_str(),
                    it == e.result.metrics.end() ? NAN : it->second);
      value = buffer;
    }
    char best_text[64] = "none";
    if (best) std::snprintf(best_text, sizeof best_text, "%.4g", summary.best_fitness);
    std::fprintf(stderr, "[%lld%s] %s  best %s  elapsed %s%s\n", static_cast<long long>(done), total.c_str(),
                 value.c_str(), best_text, format_duration(elapsed).c_str(), left.c_str());
  };

  // Evaluates what is not stored yet (in parallel) and replays what is (on resume); stores each
  // result as it finishes. Returns which entries were replayed.
  std::unordered_map<std::string, std::map<std::string, double>> pool_scores;  // arch -> its training-free scores
  const auto evaluate_pending = [&](std::vector<StoredEvaluation>& pending, Evaluator& with, Stage stage) {
    std::vector<char> replayed(pending.size(), 0);
    for (std::size_t p = 0; p < pending.size(); ++p) {
      pending[p].stage = stage;
      auto it = stored.find(pending[p].seq);
      if (it == stored.end()) continue;
      if (it->second.arch != pending[p].arch || it->second.stage != stage)
        throw Error("--resume: evaluation " + std::to_string(pending[p].seq) + " of run " + std::to_string(run_id) +
                    " is " + it->second.arch + " (" + to_string(it->second.stage) + ") but the strategy now asks for " +
                    pending[p].arch + " (" + to_string(stage) + ") (was the run made by another nascent version?)");
      pending[p] = it->second;
      pending[p].fitness = fitness_of(pending[p].result, settings.objective);  // stored unoriented
      replayed[p] = 1;
    }
    std::vector<std::size_t> to_evaluate;
    for (std::size_t p = 0; p < pending.size(); ++p)
      if (!replayed[p]) to_evaluate.push_back(p);
    // Asked serially here: strategies are not thread-safe.
    std::vector<std::string> sources(pending.size());
    if (stage == Stage::Query)
      for (std::size_t p : to_evaluate) sources[p] = strategy->transfer_source(pending[p].arch);

    tbb::task_arena arena(settings.workers);
    arena.execute([&] {
      tbb::parallel_for(
          tbb::blocked_range<std::size_t>(0, to_evaluate.size(), 1),
          [&](const tbb::blocked_range<std::size_t>& range) {
            // LibTorch's thread count is per calling thread under OpenMP: set it on each worker.
            at::set_num_threads(settings.threads_per_worker);
            for (std::size_t k = range.begin(); k != range.end(); ++k) {
              StoredEvaluation& e = pending[to_evaluate[k]];
              e.fingerprint = space->fingerprint(e.arch);
              try {
                const std::uint64_t seed = derive_seed(settings.seed, static_cast<std::uint64_t>(e.seq));
                const std::string& source = sources[to_evaluate[k]];
                e.result = source.empty() ? with.evaluate(*space, e.arch, seed) : with.evaluate_from(*space, e.arch, seed, source);
              } catch (const std::exception& error) {
                e.result = Evaluation{};
                e.result.ok = false;
                e.result.error = error.what();
              }
              // A queried candidate keeps the training-free scores it was chosen by.
              auto scores = pool_scores.find(e.arch);
              if (stage == Stage::Query && scores != pool_scores.end())
                for (const auto& [name, value] : scores->second) e.result.metrics.emplace(name, value);
              std::lock_guard<std::mutex> lock(store_mutex);
              e.elapsed = clock.elapsed();
              e.fitness = fitness_of(e.result, settings.objective);
              // The store keeps the objective as measured; e.fitness stays oriented for the strategy.
              StoredEvaluation measured = e;
              if (measured.fitness && !settings.objective.maximize) measured.fitness = -*measured.fitness;
              store.add_evaluation(measured);
            }
          },
          tbb::simple_partitioner());
    });
    return replayed;
  };

  // Scores the strategy's pool with the `predictor` evaluator before any query. False when the
  // run was stopped or ran out of time first (--resume continues it).
  const auto score_pool = [&] {
    const std::vector<std::string> pool = strategy->score_pool(rng);
    if (pool.empty()) return true;
    if (!predictor)
      throw Error("config: strategy " + strategy->name() +
                  " scores a pool of candidates first: add a `predictor` section (e.g. name: proxy, metrics: [synflow])");
    std::size_t scored = 0, failed = 0;
    auto last_print = std::chrono::steady_clock::now();
    const std::size_t chunk = std::max<std::size_t>(settings.batch, 16);
    for (std::size_t begin = 0; begin < pool.size(); begin += chunk) {
      if (g_stop_requested || (settings.max_seconds && clock.elapsed() >= *settings.max_seconds)) {
        if (!options.quiet)
          std::fprintf(stderr, "stopped while scoring the candidate pool (%zu of %zu scored)\n", scored, pool.size());
        return false;
      }
      std::vector<StoredEvaluation> pending;
      for (std::size_t i = begin; i < std::min(pool.size(), begin + chunk); ++i) {
        StoredEvaluation e;
        e.run = run_id;
        e.seq = next_seq++;
        e.space = space_name;
        e.arch = pool[i];
        pending.push_back(std::move(e));
      }
      evaluate_pending(pending, *predictor, Stage::Score);
      for (const auto& e : pending) {
        strategy->tell_scores(e.arch, e.result.metrics, e.result.ok);
        pool_scores[e.arch] = e.result.metrics;
        note_best(e);
        ++scored;
        if (!e.result.ok) ++failed;
      }
      const auto now = std::chrono::steady_clock::now();
      if (!options.quiet && (std::chrono::duration<double>(now - last_print).count() >= 1 || scored == pool.size())) {
        last_print = now;
        const double elapsed = clock.elapsed();
        std::fprintf(stderr, "[scored %zu/%zu] %zu failed  elapsed %s  ~%s left\n", scored, pool.size(), failed,
                     format_duration(elapsed).c_str(),
                     format_duration((elapsed - elapsed_offset) / scored * (pool.size() - scored)).c_str());
      }
    }
    return true;
  };

  try {
    const bool pool_scored = score_pool();
    while (pool_scored && !out_of_budget() && !g_stop_requested) {
      std::size_t want = settings.batch;
      if (auto left = budget_left()) want = std::min<std::size_t>(want, static_cast<std::size_t>(*left));
      const std::vector<std::string> asked = strategy->ask(want, rng);
      if (asked.empty()) {
        status = "exhausted";
        break;
      }
      // Work out which asked candidates need evaluating: repeats reuse their earlier result and
      // stored ones (on resume) are replayed, so only new candidates reach the evaluator.
      std::vector<std::string> canonical;
      for (const auto& arch : asked) canonical.push_back(space->canonical(arch));
      std::vector<StoredEvaluation> pending;
      std::unordered_set<std::string> pending_archs;
      for (const std::string& arch : canonical) {
        if (seen.count(arch) || pending_archs.count(arch)) continue;
        StoredEvaluation e;
        e.run = run_id;
        e.seq = next_seq + static_cast<std::int64_t>(pending.size());
        e.space = space_name;
        e.arch = arch;
        pending_archs.insert(arch);
        pending.push_back(std::move(e));
      }
      const std::vector<char> replayed = evaluate_pending(pending, *evaluator, Stage::Query);
      for (std::size_t p = 0; p < pending.size(); ++p) {
        StoredEvaluation& e = pending[p];
        check_metric_reported(e.result, settings);
        if (replayed[p]) e.fitness = fitness_of(e.result, settings.objective);
        ++done;
        ++next_seq;
        if (!replayed[p]) ++summary.evaluated_now;
        total_cost += e.result.cost;
        seen[e.arch] = e.fitness;
        report(e);
      }
      for (const std::string& arch : canonical) strategy->tell(arch, seen.at(arch));
      // A strategy that only proposes architectures it has already seen can make no progress.
      fruitless_asks = pending.empty() ? fruitless_asks + 1 : 0;
      if (fruitless_asks > 1000) {
        status = "exhausted";
        break;
      }
    }
    if (g_stop_requested) status = "interrupted";
  } catch (...) {
    store.finish_run(run_id, "failed");
    throw;
  }
  store.finish_run(run_id, status);
  summary.status = status;
  summary.evaluations = done;
  summary.elapsed = clock.elapsed();
  return summary;
}

}  // namespace nascent
