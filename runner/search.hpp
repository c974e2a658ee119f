#pragma once
// The run driver: `nascent search` builds a run from its config (space, method, budget, seed,
// device, threads, objective, store) and steps the method that `strategy.name` names.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace nascent {

struct SearchOptions {
  Config config;                       // after --set overrides
  std::string config_dir;              // for relative paths in the config
  std::string db_path = "nascent.db";
  std::optional<std::uint64_t> seed;   // --seed overrides config `seed`
  std::optional<std::string> device;   // --device overrides the evaluator's or method's device
  std::vector<std::string> plugins;    // --plugin, in addition to config `plugins`
  bool resume = false;
  bool quiet = false;
};

struct SearchSummary {
  std::int64_t run = 0;
  std::string status;
  std::int64_t evaluations = 0;  // what the method counts as done, including ones replayed on resume
  std::int64_t evaluated_now = 0;
  std::string best_arch;
  double best_fitness = 0;       // the objective's value of the best candidate
  std::map<std::string, double> best_metrics;
  double elapsed = 0;
};

// Runs (or resumes) one search as the config describes, storing every evaluation as it finishes.
SearchSummary run_search(const SearchOptions& options);

// True once request_stop() was called during the current search.
bool stop_requested();

// Asks the running search (if any) to stop after the evaluations in flight; safe from a signal handler.
void request_stop();

}  // namespace nascent
