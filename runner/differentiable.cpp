// The run of a differentiable strategy: train the supernet for its epochs, storing each epoch's
// state as an evaluation of stage "epoch" (its genotype, losses, accuracies and the softmax of
// every architecture weight), then train the derived architecture with each `final_training`
// evaluator (stage "final").
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <thread>

#include "core/error.hpp"
#include "core/registry.hpp"
#include "evaluators/evaluator.hpp"
#include "evaluators/train_evaluator.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"
#include "strategies/differentiable.hpp"

namespace nascent {

namespace {

struct EpochInterrupted {};

// `final_training` is one evaluator section or a list of them.
std::vector<Config> final_sections(const Config& config) {
  std::vector<Config> sections;
  if (!config.has("final_training")) return sections;
  const YAML::Node node = config.node()["final_training"];
  if (node.IsMap()) {
    sections.emplace_back(node, "final_training");
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      if (!node[i].IsMap()) throw Error("config: final_training[" + std::to_string(i) + "]: expected an evaluator mapping");
      sections.emplace_back(node[i], "final_training[" + std::to_string(i) + "]");
    }
  } else {
    throw Error("config: final_training: expected an evaluator mapping (name: train, ...) or a list of them");
  }
  return sections;
}

}  // namespace

SearchSummary run_differentiable_search(const SearchOptions& options, const Config& config) {
  config.check_keys({"name", "description", "seed", "space", "strategy", "final_training", "objective", "budget", "parallel",
                     "plugins", "evaluator"});
  const Config strategy_config = config.child("strategy");
  const std::string method = strategy_config.get<std::string>("name");
  if (config.has("evaluator"))
    throw Error("config: " + method + " trains a supernet and has no per-candidate evaluator: put the derived architecture's "
                "training in final_training (an evaluator section, or a list of them)");
  if (options.resume)
    throw Error("--resume: " + method + " runs cannot be resumed (their supernet weights are not stored); start a new run");
  const std::uint64_t seed = options.seed ? *options.seed : config.get<unsigned long>("seed", 0);

  const Config space_config = config.child("space");
  const std::string space_name = space_config.get<std::string>("name");
  DifferentiableOptions search_options = read_differentiable_options(strategy_config, space_name);
  if (options.device) search_options.device = *options.device;
  search_options.device = checked_device(search_options.device);

  const std::vector<Config> finals = final_sections(config);
  const SearchObjective objective =
      read_objective(config, finals.empty() ? "val_acc" : finals.front().get<std::string>("metric", "val_acc"));
  const Config budget = config.child("budget");
  budget.check_keys({"seconds"});
  const double max_seconds = budget.get<double>("seconds", std::numeric_limits<double>::infinity());
  const Config parallel = config.child("parallel");
  parallel.check_keys({"threads_per_worker"});
  // One network trains at a time, so by default it gets every core.
  const int threads = parallel.get<int>("threads_per_worker", static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  if (threads < 1) throw Error("config: parallel.threads_per_worker must be at least 1");
  at::set_num_threads(threads);

  auto space = SpaceRegistry::instance().create(space_name, space_config);
  const DataSplits data = load_dataset(strategy_config.child("dataset"), options.config_dir);
  const Task task{data.input_shape, data.num_classes, data.vocabulary_size};
  if (data.train.images.scalar_type() == torch::kLong)
    throw Error("config: strategy.dataset: " + method + " searches cell spaces of image networks; '" + data.name + "' is text");
  const Config supernet_config = strategy_config.child("supernet");
  auto w_net = make_cell_supernet(space_name, supernet_config, task);
  auto y_net = method == "rarts" ? make_cell_supernet(space_name, supernet_config, task) : nullptr;
  EvaluatorContext context{options.config_dir, threads, options.device.value_or(""), space.get()};
  std::vector<std::unique_ptr<Evaluator>> evaluators;
  for (const auto& section : finals) evaluators.push_back(make_evaluator(section, context));

  DifferentiableSearch search(w_net, y_net, data.train, search_options, seed);
  try {
    space->canonical(w_net->genotype(search.alphas()));
  } catch (const Error& error) {
    throw Error("config: strategy.supernet does not match the space: its genotypes do not parse (" + std::string(error.what()) + ")");
  }

  std::string evaluator_names;
  for (const auto& section : finals) evaluator_names += (evaluator_names.empty() ? "" : ",") + section.get<std::string>("name", "train");
  const std::string strategy_label = method == "darts" ? "darts-order" + std::to_string(search_options.order) : method;
  ResultStore store(options.db_path, ResultStore::Mode::ReadWrite);
  RunInfo info;
  info.config = config.dump();
  info.seed = seed;
  info.space = space_name;
  info.strategy = strategy_label;
  info.evaluator = evaluator_names.empty() ? "none" : evaluator_names;
  info.objective_metric = objective.metric;
  info.maximize = objective.maximize;
  info.final_stage = Stage::Final;
  const std::int64_t run_id = store.begin_run(info);
  const auto started = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };

  SearchSummary summary;
  summary.run = run_id;
  std::string status = "finished";
  std::int64_t seq = 0;
  try {
    const auto alpha_names = w_net->alpha_names();
    const auto edge_names = w_net->edge_names();
    const auto op_names = w_net->op_names();
    auto last_print = std::chrono::steady_clock::now();
    const double total_steps = static_cast<double>(search_options.epochs) * static_cast<double>(search.steps_per_epoch());
    while (search.epochs_done() < search_options.epochs) {
      if (stop_requested()) {
        status = "interrupted";
        break;
      }
      if (elapsed() >= max_seconds) break;
      const int epoch = search.epochs_done() + 1;
      EpochRecord record;
      try {
        record = search.run_epoch([&](std::int64_t step, std::int64_t steps, double loss) {
          // Ctrl-C ends the run within a step; the unfinished epoch is not stored.
          if (stop_requested()) throw EpochInterrupted{};
          if (options.quiet) return;
          const auto now = std::chrono::steady_clock::now();
          if (std::chrono::duration<double>(now - last_print).count() < 10 && step < steps) return;
          last_print = now;
          const double done = static_cast<double>(epoch - 1) * static_cast<double>(steps) + static_cast<double>(step);
          std::fprintf(stderr, "[epoch %d/%d step %lld/%lld] train_loss %.4f  elapsed %s  ~%s left\n", epoch,
                       search_options.epochs, static_cast<long long>(step), static_cast<long long>(steps), loss,
                       format_duration(elapsed()).c_str(), format_duration(elapsed() / done * (total_steps - done)).c_str());
        });
      } catch (const EpochInterrupted&) {
        status = "interrupted";
        break;
      }
      StoredEvaluation e;
      e.run = run_id;
      e.seq = seq++;
      e.space = space_name;
      e.arch = space->canonical(record.genotype);
      e.fingerprint = space->fingerprint(e.arch);
      e.stage = Stage::Epoch;
      e.result.device = search_options.device;
      e.result.seconds = record.seconds;
      e.result.cost = record.seconds;
      auto& m = e.result.metrics;
      m["epoch"] = record.epoch;
      m["train_loss"] = record.train_loss;
      m["train_acc"] = record.train_acc;
      m["val_loss"] = record.val_loss;
      m["val_acc"] = record.val_acc;
      m["lr"] = record.lr;
      const SkipShare share = skip_share(*w_net, search.alphas());
      m["skip_share"] = share.genotype_share;
      m["skip_weight"] = share.alpha_weight;
      // The architecture weights are curves over the epochs, not metrics of the derived genotype.
      std::vector<CurvePoint> alphas;
      for (std::size_t a = 0; a < record.alpha_softmax.size(); ++a)
        for (std::size_t r = 0; r < edge_names.size(); ++r)
          for (std::size_t o = 0; o < op_names.size(); ++o)
            alphas.push_back({run_id, "alpha." + alpha_names[a] + "." + edge_names[r] + "." + op_names[o],
                              static_cast<double>(record.epoch),
                              record.alpha_softmax[a][static_cast<std::int64_t>(r)][static_cast<std::int64_t>(o)].item<double>(), ""});
      e.elapsed = elapsed();
      store.add_evaluation(e);
      store.add_curve_points(run_id, alphas);
      summary.best_arch = e.arch;
      summary.best_metrics = {{"epoch", record.epoch},         {"train_acc", record.train_acc},
                              {"val_acc", record.val_acc},     {"skip_share", share.genotype_share},
                              {"skip_weight", share.alpha_weight}};
      if (!options.quiet)
        std::fprintf(stderr, "[epoch %d/%d] train_acc %.2f val_acc %.2f skip_connect %.2f  %s  elapsed %s\n", record.epoch,
                     search_options.epochs, record.train_acc, record.val_acc, share.genotype_share, e.arch.c_str(),
                     format_duration(elapsed()).c_str());
    }
    if (search.epochs_done() == 0 && status != "interrupted") throw Error("the run's time budget ended before the first epoch");

    // The derived architecture, trained from scratch by every final_training evaluator.
    std::optional<double> best;
    for (std::size_t k = 0; k < evaluators.size() && status != "interrupted"; ++k) {
      if (!options.quiet) std::fprintf(stderr, "final training %zu/%zu (%s) of %s\n", k + 1, evaluators.size(),
                                       evaluators[k]->name().c_str(), summary.best_arch.c_str());
      StoredEvaluation e;
      e.run = run_id;
      e.seq = seq++;
      e.space = space_name;
      e.arch = summary.best_arch;
      e.fingerprint = space->fingerprint(e.arch);
      e.stage = Stage::Final;
      try {
        e.result = evaluators[k]->evaluate(*space, e.arch, derive_seed(seed, static_cast<std::uint64_t>(e.seq)));
      } catch (const std::exception& error) {
        e.result = Evaluation{};
        e.result.ok = false;
        e.result.error = error.what();
      }
      const std::optional<double> oriented = fitness_of(e.result, objective);
      e.fitness = oriented && !objective.maximize ? std::optional<double>(-*oriented) : oriented;  // stored as measured
      e.elapsed = elapsed();
      store.add_evaluation(e);
      if (!e.result.ok && !options.quiet) std::fprintf(stderr, "final training failed: %s\n", e.result.error.c_str());
      if (oriented && (!best || *oriented > *best)) {
        best = oriented;
        summary.best_fitness = *e.fitness;
        summary.best_metrics = e.result.metrics;
      }
      ++summary.evaluated_now;
    }
    if (stop_requested()) status = "interrupted";
  } catch (...) {
    store.finish_run(run_id, "failed");
    throw;
  }
  store.finish_run(run_id, status);
  summary.status = status;
  summary.evaluations = seq;
  summary.evaluated_now += search.epochs_done();
  summary.elapsed = elapsed();
  return summary;
}

}  // namespace nascent
