#pragma once
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/objective.hpp"
#include "results/store.hpp"

namespace nascent {

// Queries and output formats behind `nascent results`, as plain functions over loaded
// evaluations so that they can be tested (and reused) without a command line.

// "val_acc:max,params:min" -> objectives. Throws Error on a malformed item, a repeated metric or
// fewer than two objectives.
std::vector<Objective> parse_objectives(const std::string& text);

// Which way each run's fitness improves (RunRecord::maximize), by run id.
using RunDirections = std::map<std::int64_t, bool>;
RunDirections run_directions(const std::vector<RunRecord>& runs);

// The evaluations of `stage`; without one, those of each evaluation's own run's final stage
// (RunRecord::final_stage; Stage::Query for a run not in `runs`). Storage order is kept.
std::vector<StoredEvaluation> select_stage(std::vector<StoredEvaluation> evaluations, const std::vector<RunRecord>& runs,
                                           std::optional<Stage> stage);

// The stored (raw) fitness for "fitness"; otherwise the named metric, falling back to the evaluation's
// own "cost" and "seconds" fields. Empty for a failed evaluation and for a missing or NaN value.
std::optional<double> metric_value(const StoredEvaluation& e, const std::string& metric);

// Throws Error when no evaluation has `metric` (a typo would otherwise give an empty listing).
// "fitness", "cost" and "seconds" always exist; an empty list accepts any name.
void require_metric(const std::vector<StoredEvaluation>& evaluations, const std::string& metric);

// Every metric name in the evaluations, sorted.
std::vector<std::string> metric_names(const std::vector<StoredEvaluation>& evaluations);

// The best k evaluations by metric, descending (ascending when !maximize). Failed evaluations
// and those without a value are left out; ties keep storage order.
std::vector<StoredEvaluation> top_k(std::vector<StoredEvaluation> evaluations, std::size_t k, const std::string& metric,
                                    bool maximize);
// The best k by the stored fitness, each evaluation ranked in its run's direction, so that runs
// minimising their objective come smallest first (a run not in `directions` maximises). Evaluations
// of runs with opposite directions are compared as "larger is better" values.
std::vector<StoredEvaluation> top_k_fitness(std::vector<StoredEvaluation> evaluations, std::size_t k,
                                            const RunDirections& directions);

// The evaluations with a value for every objective that no other such evaluation dominates
// (at least as good on all objectives and better on one), in storage order. Evaluations with
// identical values do not dominate each other, so all of them are kept. A "fitness" objective
// is taken in each run's direction when `directions` lists the run: fitness:max is then the best
// by the run's own objective, whether that is maximised or minimised.
std::vector<StoredEvaluation> pareto_front(const std::vector<StoredEvaluation>& evaluations,
                                           const std::vector<Objective>& objectives, const RunDirections& directions = {});

// The hypervolume the points dominate up to `reference` (one value per objective; objectives
// as in `objectives`, maximised or minimised). Points that do not beat the reference on every
// objective add nothing. Exact, by slicing along one objective at a time (fine for the fronts of
// a search: hundreds of points, a few objectives).
double hypervolume(const std::vector<std::vector<double>>& points, const std::vector<Objective>& objectives,
                   const std::vector<double>& reference);

// JSON: an array of objects with run, seq, space, arch, fingerprint, ok, error, fitness, cost,
// seconds, device, created_at, stage and metrics (name -> number); NaN and infinities become null.
std::string evaluations_to_json(const std::vector<StoredEvaluation>& evaluations);
// CSV: the same fields, stage after created_at, one column per metric name found in any evaluation (empty where an
// evaluation lacks it); numbers at full precision, nan/inf/-inf spelled out.
std::string evaluations_to_csv(const std::vector<StoredEvaluation>& evaluations);
// Aligned columns: run, seq, fitness, the given metrics (a metric, or cost, seconds, stage), arch.
std::string evaluations_to_table(const std::vector<StoredEvaluation>& evaluations, const std::vector<std::string>& metrics);
// One evaluation, every field and metric on its own line.
std::string evaluation_to_text(const StoredEvaluation& evaluation);
std::string evaluation_to_json(const StoredEvaluation& evaluation);

// Runs: JSON objects with run (the id), status, space, strategy, evaluator, seed, evaluations,
// started_at, ended_at (null while running), objective_metric, objective_mode (max or min),
// final_stage, versions and config.
std::string runs_to_json(const std::vector<RunRecord>& runs);
std::string runs_to_csv(const std::vector<RunRecord>& runs);
std::string runs_to_table(const std::vector<RunRecord>& runs);
// A run's summary, config and evaluations as text, or as one JSON object with "evaluations".
std::string run_to_text(const RunRecord& run, const std::vector<StoredEvaluation>& evaluations);
std::string run_to_json(const RunRecord& run, const std::vector<StoredEvaluation>& evaluations);

// Runs side by side (`nascent results compare`): for each run its method, space, evaluator,
// status, seed, evaluations, objective, best value and architecture (of its final stage), and run
// time (the latest evaluation's elapsed seconds); then every config key, flattened to a.b.c, whose
// values differ between the runs ("-" where a run lacks it). `evaluations` holds each run's.
struct RunComparison {
  std::vector<std::int64_t> runs;
  std::vector<std::pair<std::string, std::vector<std::string>>> summary;      // row name, one value per run
  // config key, one value per run (nullopt: the run's config lacks the key)
  std::vector<std::pair<std::string, std::vector<std::optional<std::string>>>> differences;
};
RunComparison compare_runs(const std::vector<RunRecord>& runs, const std::vector<std::vector<StoredEvaluation>>& evaluations);
std::string comparison_to_table(const RunComparison& comparison);
// {"runs": [ids], "summary": {row: [values]}, "config_differences": {key: [values or null]}}
std::string comparison_to_json(const RunComparison& comparison);

// Curve points: JSON objects (run, curve, step, value, label; NaN and infinities as null), CSV
// with those columns, or an aligned table.
std::string curves_to_json(const std::vector<CurvePoint>& points);
std::string curves_to_csv(const std::vector<CurvePoint>& points);
std::string curves_to_table(const std::vector<CurvePoint>& points);

// RFC 4180 quoting for one CSV field: quoted when it holds a comma, quote, CR or LF.
std::string csv_field(const std::string& text);

// Shortest text that reads back as the same double ("nan", "inf", "-inf" for the others).
std::string exact_number(double value);

}  // namespace nascent
