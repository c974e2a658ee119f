#pragma once
// The run driver: `nascent search` builds a run from its config (space, method, budget, seed,
// device, threads, objective, store) and steps the method that `strategy.name` names.
#include <cstdint>
#include <map>
#include <memory>
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
  // `nascent train`: no search; the run trains final_training.arch (which the config must give).
  bool train_only = false;
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
  // When the run's final training completed: the best step's metrics and the weights files.
  std::map<std::string, double> final_metrics;
  std::vector<std::string> weights;
};

// Runs (or resumes) one search as the config describes, storing every evaluation as it finishes.
// Under mpirun, process 0 runs it and the other processes evaluate its candidates (see
// serve_as_cluster_worker).
SearchSummary run_search(const SearchOptions& options);

// Under mpirun with several processes: starts MPI, and on every process but 0 serves evaluations
// for the search `options` describes until process 0 is done, then returns true (the caller prints
// nothing). False on process 0 and without mpirun: the caller runs the search.
bool serve_as_cluster_worker(const SearchOptions& options);

// The run's search space as its config's `space` section describes it (paths relative to config_dir).
std::unique_ptr<class SearchSpace> make_run_space(const Config& config, const std::string& config_dir);
// The data a run's networks train on: final_training.dataset, else evaluator.dataset, else
// strategy.dataset; nothing when the config has none.
std::optional<Config> run_dataset_section(const Config& config);
// Where a run's final training step (from 0) writes its weights unless its `weights` says otherwise.
std::string weights_path_for(const std::string& db_path, std::int64_t run, std::size_t step = 0);

// True once request_stop() was called during the current search.
bool stop_requested();

// Asks the running search (if any) to stop after the evaluations in flight; safe from a signal handler.
void request_stop();

}  // namespace nascent
