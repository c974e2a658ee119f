#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "evaluators/evaluator.hpp"

namespace nascent {

struct SearchOptions {
  Config config;                       // after --set overrides
  std::string config_dir;              // for relative paths in the config
  std::string db_path = "nascent.db";
  std::optional<std::uint64_t> seed;   // --seed overrides config `seed`
  std::optional<std::string> device;   // --device overrides evaluator.device
  std::vector<std::string> plugins;    // --plugin, in addition to config `plugins`
  bool resume = false;
  bool quiet = false;
};

struct SearchSummary {
  std::int64_t run = 0;
  std::string status;
  std::int64_t evaluations = 0;  // stored for the run, including ones replayed on resume
  std::int64_t evaluated_now = 0;
  std::string best_arch;
  double best_fitness = 0;
  std::map<std::string, double> best_metrics;
  double elapsed = 0;
};

// Runs (or resumes) one search as the config describes, storing every evaluation as it finishes.
SearchSummary run_search(const SearchOptions& options);

// Differentiable strategies (darts, rarts) train one supernet instead of asking for candidates;
// run_search hands their configs to this (runner/differentiable.cpp).
SearchSummary run_differentiable_search(const SearchOptions& options, const Config& config);

// Weight-sharing strategies (ofa, vit_resnas) train a supernet, or load it from strategy.checkpoint,
// then search its sub-networks under an efficiency constraint (runner/weight_sharing.cpp).
SearchSummary run_weight_sharing_search(const SearchOptions& options, const Config& config);

// The `objective` section of a config: the metric (`default_metric` when absent) and its mode.
struct SearchObjective {
  std::string metric;
  bool maximize = true;
};
SearchObjective read_objective(const Config& config, const std::string& default_metric);

// An evaluation's objective value, higher is better. Failed evaluations, non-finite values and a
// missing metric all rank last (no fitness).
std::optional<double> fitness_of(const Evaluation& evaluation, const SearchObjective& objective);

// "42s", "3.5m", "2.1h": durations in progress lines.
std::string format_duration(double seconds);

// True once request_stop() was called during the current search.
bool stop_requested();

// Asks the running search (if any) to stop after the evaluations in flight; safe from a signal handler.
void request_stop();

}  // namespace nascent
