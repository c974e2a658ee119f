#include "cli/results_command.hpp"

#include "cli/cli_run.hpp"

#include <cmath>
#include <iostream>
#include <iterator>
#include <memory>

#include "core/error.hpp"
#include "results/query.hpp"

namespace nascent {

namespace {

// Each subcommand has its own options so that defaults (e.g. export's csv) do not leak between them.
struct ResultsArgs {
  std::string db;
  std::string format;
  std::int64_t run = 0;
  CLI::Option* run_option = nullptr;  // set: --run was given
  std::size_t k = 10;
  std::string metric = "fitness";
  bool minimize = false;
  std::string objectives;
  std::vector<std::int64_t> compared;  // compare: run ids
  std::string eval;
  std::string stage;  // empty: each run's final stage
  std::string curve;  // curve name prefix
  bool hypervolume = false;
  std::vector<double> reference;

  // Checked before the database is opened, so a typo is reported as such.
  std::optional<Stage> selected_stage() const {
    if (stage.empty() || stage == "all") return std::nullopt;
    try {
      return parse_stage(stage);
    } catch (const Error&) {
      std::string valid;
      for (Stage known : all_stages()) valid += to_string(known) + ", ";
      throw Error("--stage: unknown stage '" + stage + "' (valid: " + valid + "all)");
    }
  }

  std::optional<std::int64_t> selected_run() const {
    if (run_option && *run_option) return run;
    return std::nullopt;
  }
};

CLI::App* subcommand(CLI::App* parent, const std::string& name, const std::string& help,
                     const std::shared_ptr<ResultsArgs>& args, const std::vector<std::string>& formats) {
  auto* cmd = parent->add_subcommand(name, help);
  args->format = formats.front();
  cmd->add_option("--db", args->db, "Results database (SQLite file written by `nascent search`)")->required();
  cmd->add_option("--format", args->format, "Output format")->check(CLI::IsMember(formats))->capture_default_str();
  return cmd;
}

void add_run_option(CLI::App* cmd, ResultsArgs& args, const std::string& help) {
  args.run_option = cmd->add_option("--run", args.run, help)->check(at_least(1));
}

void add_stage_option(CLI::App* cmd, ResultsArgs& args) {
  cmd->add_option("--stage", args.stage,
                  "Only evaluations of this stage (query, score, epoch, report, measure, search, final, rung), or all "
                  "(default: each run's final stage)");
}

// The selected run's (or every run's) evaluations of the selected stage.
std::vector<StoredEvaluation> load(const ResultStore& store, const ResultsArgs& args, std::vector<RunRecord>& runs) {
  const auto stage = args.selected_stage();
  const auto run = args.selected_run();
  if (run) {
    auto record = store.run(*run);
    if (!record) throw Error(store.path() + " has no run " + std::to_string(*run));
    runs = {std::move(*record)};
  } else {
    runs = store.runs();
  }
  auto evaluations = store.evaluations(run);
  if (args.stage == "all") return evaluations;
  return select_stage(std::move(evaluations), runs, stage);
}

void print(const std::vector<StoredEvaluation>& evaluations, const std::string& format,
           const std::vector<std::string>& columns) {
  if (format == "json") std::cout << evaluations_to_json(evaluations);
  else if (format == "csv") std::cout << evaluations_to_csv(evaluations);
  else std::cout << evaluations_to_table(evaluations, columns);
}


}  // namespace

void add_results_command(CLI::App& app) {
  auto* results = app.add_subcommand("results", "Query a results database: runs, top, show, export, pareto, curves");
  results->require_subcommand(1);
  const std::vector<std::string> listing{"table", "json", "csv"};

  auto runs_args = std::make_shared<ResultsArgs>();
  auto* runs = subcommand(results, "runs", "List the runs: id, status, space, strategy, evaluator, seed, evaluations, times",
                          runs_args, listing);
  runs->callback([args = runs_args] {
    ResultStore store(args->db, ResultStore::Mode::ReadOnly);
    const auto list = store.runs();
    if (args->format == "json") std::cout << runs_to_json(list);
    else if (args->format == "csv") std::cout << runs_to_csv(list);
    else std::cout << runs_to_table(list);
  });

  auto top_args = std::make_shared<ResultsArgs>();
  auto* top = subcommand(results, "top",
                         "The best N successful evaluations by a metric (default: the stored fitness), best first",
                         top_args, listing);
  top->add_option("-k", top_args->k, "How many")->check(at_least(1))->capture_default_str();
  top->add_option("--metric", top_args->metric,
                  "Metric to rank by; 'fitness' is the run's objective, ranked the way the run optimised it")
      ->capture_default_str();
  top->add_flag("--min", top_args->minimize, "Smaller is better (e.g. loss, params; with fitness: the smallest values)");
  add_run_option(top, *top_args, "Only this run (default: every run)");
  add_stage_option(top, *top_args);
  top->callback([args = top_args] {
    args->selected_stage();
    ResultStore store(args->db, ResultStore::Mode::ReadOnly);
    std::vector<RunRecord> runs;
    auto evaluations = load(store, *args, runs);
    require_metric(evaluations, args->metric);
    if (args->metric == "fitness" && !args->minimize)
      print(top_k_fitness(std::move(evaluations), args->k, run_directions(runs)), args->format, {args->metric});
    else
      print(top_k(std::move(evaluations), args->k, args->metric, !args->minimize), args->format, {args->metric});
  });

  auto show_args = std::make_shared<ResultsArgs>();
  auto* show = subcommand(results, "show",
                          "Show a run (--run ID, default the latest): its summary, config and evaluations; or one "
                          "evaluation with every field and metric (--eval RUN:SEQ, SEQ counting from 0 as in `top`). "
                          "JSON: an object (a run has an \"evaluations\" array)",
                          show_args, listing);
  add_run_option(show, *show_args, "Run id (default: the latest run)");
  auto* eval_option = show->add_option("--eval", show_args->eval, "One evaluation, as RUN:SEQ, e.g. 1:0");
  eval_option->excludes(show_args->run_option);
  show->callback([args = show_args] {
    ResultStore store(args->db, ResultStore::Mode::ReadOnly);
    if (!args->eval.empty()) {
      const auto [run, seq] = parse_eval(args->eval);
      const auto e = store.evaluation(run, seq);
      if (!e) throw Error(args->db + " has no evaluation " + args->eval);
      if (args->format == "json") std::cout << evaluation_to_json(*e);
      else if (args->format == "csv") std::cout << evaluations_to_csv({*e});
      else std::cout << evaluation_to_text(*e);
      return;
    }
    const auto requested = args->selected_run();
    const std::optional<RunRecord> run = requested ? store.run(*requested) : store.latest_run();
    if (!run) throw Error(args->db + (requested ? " has no run " + std::to_string(*requested) : " has no runs"));
    const auto evaluations = store.evaluations(run->id);
    if (args->format == "json") std::cout << run_to_json(*run, evaluations);
    else if (args->format == "csv") std::cout << evaluations_to_csv(evaluations);
    else std::cout << run_to_text(*run, evaluations);
  });

  auto export_args = std::make_shared<ResultsArgs>();
  auto* exporter = subcommand(results, "export",
                              "Every evaluation with all its fields, one column (csv) or field (json) per metric",
                              export_args, {"csv", "json"});
  add_run_option(exporter, *export_args, "Only this run (default: every run)");
  add_stage_option(exporter, *export_args);
  exporter->callback([args = export_args] {
    args->selected_stage();
    ResultStore store(args->db, ResultStore::Mode::ReadOnly);
    std::vector<RunRecord> runs;
    print(load(store, *args, runs), args->format, {});
  });

  auto pareto_args = std::make_shared<ResultsArgs>();
  auto* pareto = subcommand(results, "pareto",
                            "The successful evaluations that no other one beats on every objective at once",
                            pareto_args, listing);
  pareto->add_option("--objectives", pareto_args->objectives,
                     "Two or more metric:max|min, comma-separated, e.g. val_acc:max,params:min")
      ->required();
  pareto->add_flag("--hypervolume", pareto_args->hypervolume, "Print the hypervolume the front dominates instead of the front");
  pareto->add_option("--reference", pareto_args->reference, "The hypervolume's reference point, one value per objective: 80,3e8")
      ->delimiter(',');
  add_run_option(pareto, *pareto_args, "Only this run (default: every run)");
  add_stage_option(pareto, *pareto_args);
  pareto->callback([args = pareto_args] {
    const auto objectives = parse_objectives(args->objectives);
    args->selected_stage();
    ResultStore store(args->db, ResultStore::Mode::ReadOnly);
    std::vector<RunRecord> runs;
    const auto evaluations = load(store, *args, runs);
    std::vector<std::string> columns;
    for (const auto& objective : objectives) {
      require_metric(evaluations, objective.metric);
      columns.push_back(objective.metric);
    }
    const auto front = pareto_front(evaluations, objectives, run_directions(runs));
    if (!args->hypervolume) {
      if (!args->reference.empty()) throw Error("results pareto: --reference goes with --hypervolume");
      print(front, args->format, columns);
      return;
    }
    if (args->reference.size() != objectives.size())
      throw Error("results pareto: --hypervolume needs --reference with one value per objective (" + std::to_string(objectives.size()) + ")");
    for (const double value : args->reference)
      if (!std::isfinite(value)) throw Error("results pareto: --reference values must be finite numbers");
    std::vector<std::vector<double>> points;
    for (const auto& e : front) {
      std::vector<double> point;
      for (const auto& objective : objectives) point.push_back(metric_value(e, objective.metric).value_or(NAN));
      points.push_back(std::move(point));
    }
    const double volume = hypervolume(points, objectives, args->reference);
    if (!std::isfinite(volume))
      throw Error("results pareto: the hypervolume overflows a double; give a --reference point nearer the front");
    if (args->format == "json") {
      std::cout << "{\"hypervolume\": " << exact_number(volume) << ", \"front\": " << front.size() << "}\n";
    } else {
      std::cout << "hypervolume " << exact_number(volume) << " (" << front.size() << " evaluations on the front)\n";
    }
  });

  auto compare_args = std::make_shared<ResultsArgs>();
  auto* compare = subcommand(results, "compare",
                             "Runs side by side: method, space, evaluator, status, seed, evaluations, objective, best "
                             "and its architecture, seconds, then the config keys whose values differ",
                             compare_args, {"table", "json"});
  compare->add_option("--runs", compare_args->compared, "Run ids, comma-separated: --runs 1,2")
      ->required()
      ->delimiter(',')
      ->check(at_least(1))
      ->expected(1, 64);
  compare->callback([args = compare_args] {
    ResultStore store(args->db, ResultStore::Mode::ReadOnly);
    std::vector<RunRecord> runs;
    std::vector<std::vector<StoredEvaluation>> evaluations;
    for (const std::int64_t id : args->compared) {
      auto record = store.run(id);
      if (!record) throw Error(store.path() + " has no run " + std::to_string(id));
      runs.push_back(std::move(*record));
      evaluations.push_back(store.evaluations(id));
    }
    const RunComparison comparison = compare_runs(runs, evaluations);
    std::cout << (args->format == "json" ? comparison_to_json(comparison) : comparison_to_table(comparison));
  });

  auto curves_args = std::make_shared<ResultsArgs>();
  auto* curves = subcommand(results, "curves",
                            "Series stored per run that are no candidate's evaluation: supernet training, predictor "
                            "quality, architecture weights (alpha.*), as (step, value) points",
                            curves_args, listing);
  add_run_option(curves, *curves_args, "Only this run (default: every run)");
  curves->add_option("--curve", curves_args->curve, "Only curves whose name starts with this, e.g. supernet. or alpha.normal");
  curves->callback([args = curves_args] {
    ResultStore store(args->db, ResultStore::Mode::ReadOnly);
    std::vector<std::int64_t> ids;
    if (const auto run = args->selected_run()) {
      if (!store.run(*run)) throw Error(args->db + " has no run " + std::to_string(*run));
      ids.push_back(*run);
    } else {
      for (const auto& r : store.runs()) ids.push_back(r.id);
    }
    std::vector<CurvePoint> points;
    for (std::int64_t id : ids) {
      auto more = store.curves(id, args->curve);
      points.insert(points.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    }
    if (args->format == "json") std::cout << curves_to_json(points);
    else if (args->format == "csv") std::cout << curves_to_csv(points);
    else std::cout << curves_to_table(points);
  });
}

}  // namespace nascent
