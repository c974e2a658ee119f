#include "cli/results_command.hpp"

#include <iostream>
#include <memory>

#include "core/error.hpp"
#include "results/query.hpp"

namespace nascent {

namespace {

struct ResultsArgs {
  std::string db;
  std::string format = "table";
  std::int64_t run = 0;  // 0: every run
  std::size_t k = 10;
  std::string metric = "fitness";
  bool minimize = false;
  std::string objectives;
  std::string eval;  // RUN:SEQ
};

std::vector<StoredEvaluation> load(const ResultStore& store, const ResultsArgs& args) {
  if (args.run > 0 && !store.run(args.run)) throw Error(store.path() + " has no run " + std::to_string(args.run));
  return store.evaluations(args.run > 0 ? std::optional<std::int64_t>(args.run) : std::nullopt);
}

void print_evaluations(const std::vector<StoredEvaluation>& evaluations, const std::string& format,
                       const std::vector<std::string>& columns) {
  if (format == "json") std::cout << evaluations_to_json(evaluations);
  else if (format == "csv") std::cout << evaluations_to_csv(evaluations);
  else std::cout << evaluations_to_table(evaluations, columns);
}

void require_metric(const std::vector<StoredEvaluation>& evaluations, const std::string& metric) {
  if (metric == "fitness" || metric == "cost" || metric == "seconds") return;
  for (const auto& e : evaluations)
    if (e.result.metrics.count(metric)) return;
  if (!evaluations.empty()) throw Error("no stored evaluation has a metric '" + metric + "'");
}

CLI::App* subcommand(CLI::App* parent, const std::string& name, const std::string& help, ResultsArgs& args,
                     const std::vector<std::string>& formats) {
  auto* cmd = parent->add_subcommand(name, help);
  cmd->add_option("--db", args.db, "Results database")->required();
  cmd->add_option("--format", args.format, "Output format")->check(CLI::IsMember(formats))->capture_default_str();
  return cmd;
}

}  // namespace

void add_results_command(CLI::App& app) {
  auto args = std::make_shared<ResultsArgs>();
  auto* results = app.add_subcommand("results", "Query a results database");
  results->require_subcommand(1);
  const std::vector<std::string> all{"table", "json", "csv"};

  auto* runs = subcommand(results, "runs", "List the runs", *args, all);
  runs->callback([args] {
    ResultStore store(args->db, ResultStore::Mode::ReadOnly);
    const auto list = store.runs();
    if (args->format == "json") std::cout << runs_to_json(list);
    else if (args->format == "csv") std::cout << runs_to_csv(list);
    else std::cout << runs_to_table(list);
  });

  auto* top = subcommand(results, "top", "The best evaluations", *args, all);
  top->add_option("-k", args->k, "How many")->capture_default_str();
  top->add_option("--metric", args->metric, "Metric to rank by (default: the run's objective, 'fitness')")
      ->capture_default_str();
  top->add_flag("--min", args->minimize, "Smaller is better");
  top->add_option("--run", args->run, "Only this run");
  top->callback([args] {
    ResultStore store(args->db, ResultStore::Mode::ReadOnly);
    auto evaluations = load(store, *args);
    require_metric(evaluations, args->metric);
    std::vector<std::string> columns;
    if (args->metric != "fitness") columns.push_back(args->metric);
    print_evaluations(top_k(std::move(evaluations), args->k, args->metric, !args->minimize), args->format, columns);
  });

  auto* show = subcommand(results, "show", "Show a run (--run ID) or one evaluation (--eval RUN:SEQ)", *args, all);
  show->add_option("--run", args->run, "Run id: its config and every evaluation");
  show->add_option("--eval", args->eval, "One evaluation as RUN:SEQ, with all its metrics");
  show->callback([args] {
    ResultStore store(args->db, ResultStore::Mode::ReadOnly);
    if (!args->eval.empty()) {
      const auto colon = args->eval.find(':');
      std::int64_t run = 0, seq = 0;
      try {
        run = std::stoll(args->eval.substr(0, colon));
        seq = std::stoll(args->eval.substr(colon + 1));
      } catch (const std::exception&) {
        throw Error("--eval: expected RUN:SEQ, got '" + args->eval + "'");
      }
      if (colon == std::string::npos) throw Error("--eval: expected RUN:SEQ, got '" + args->eval + "'");
      for (const auto& e : store.evaluations(run)) {
        if (e.seq != seq) continue;
        if (args->format == "json" || args->format == "csv") {
          print_evaluations({e}, args->format, {});
          return;
        }
        std::cout << "run          " << e.run << "\nseq          " << e.seq << "\nspace        " << e.space
                  << "\narch         " << e.arch << "\nfingerprint  " << e.fingerprint << "\nstatus       "
                  << (e.result.ok ? "ok" : "failed: " + e.result.error) << "\nfitness      "
                  << (e.fitness ? std::to_string(*e.fitness) : "-") << "\ncost         " << e.result.cost
                  << "\nseconds      " << e.result.seconds << "\ndevice       " << e.result.device
                  << "\nstored at    " << e.created_at << "\n";
        for (const auto& [name, value] : e.result.metrics) std::cout << "  " << name << "  " << value << "\n";
        return;
      }
      throw Error(args->db + " has no evaluation " + args->eval);
    }
    std::optional<RunRecord> run = args->run > 0 ? store.run(args->run) : store.latest_run();
    if (!run) throw Error(args->db + (args->run > 0 ? " has no run " + std::to_string(args->run) : " has no runs"));
    const auto evaluations = store.evaluations(run->id);
    if (args->format == "json" || args->format == "csv") {
      print_evaluations(evaluations, args->format, {});
      return;
    }
    std::cout << "run " << run->id << " (" << run->status << "), seed " << run->seed << ", " << run->evaluations
              << " evaluations, started " << run->started_at << (run->ended_at.empty() ? "" : ", ended " + run->ended_at)
              << "\n" << run->versions << "\n--- config\n" << run->config << "\n---\n";
    std::cout << evaluations_to_table(evaluations, {});
  });

  auto* exporter = subcommand(results, "export", "Every evaluation with all metrics", *args, {"csv", "json"});
  args->format = "table";
  exporter->add_option("--run", args->run, "Only this run");
  exporter->callback([args] {
    ResultStore store(args->db, ResultStore::Mode::ReadOnly);
    print_evaluations(load(store, *args), args->format == "table" ? "csv" : args->format, {});
  });

  auto* pareto = subcommand(results, "pareto", "Non-dominated evaluations", *args, all);
  pareto->add_option("--objectives", args->objectives, "e.g. val_acc:max,params:min")->required();
  pareto->add_option("--run", args->run, "Only this run");
  pareto->callback([args] {
    const auto objectives = parse_objectives(args->objectives);
    ResultStore store(args->db, ResultStore::Mode::ReadOnly);
    const auto evaluations = load(store, *args);
    std::vector<std::string> columns;
    for (const auto& objective : objectives) {
      require_metric(evaluations, objective.metric);
      columns.push_back(objective.metric);
    }
    print_evaluations(pareto_front(evaluations, objectives), args->format, columns);
  });
}

}  // namespace nascent
