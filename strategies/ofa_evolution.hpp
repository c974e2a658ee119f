#pragma once
// OFA's evolutionary search (spec A.6, ofa/nas/search_algorithm/evolution.py): a population scored
// by a predictor, the top parents kept each generation, children by mutation and crossover, and
// every individual drawn by rejection until it satisfies the efficiency constraint.
#include <functional>
#include <vector>

#include "core/rng.hpp"
#include "search_spaces/ofa/ofa.hpp"

namespace nascent {

struct OfaEvolutionOptions {
  int population = 100;
  int generations = 500;        // max_time_budget
  double parent_ratio = 0.25;
  double mutation_ratio = 0.5;  // of the population, by mutation; the rest by crossover
  double mutate_prob = 0.1;     // per block (kernel and expand together) and per stage (depth)
  double resolution_mutate_prob = 0.5;
  int max_tries = 10000;        // per individual; the reference loops without bound
};

struct OfaEvolutionResult {
  std::vector<OfaArch> population;  // the last parents, best first
  std::vector<double> scores;
  std::vector<double> best_per_generation;
  std::int64_t scored = 0;          // predictor calls
};

// `score` maps candidates to predicted accuracy (higher is better); `efficiency` gives FLOPs or
// latency, which must be <= `constraint`. `progress(generation, best)` after each generation.
OfaEvolutionResult ofa_evolution(const OfaSpec& spec, const std::function<std::vector<double>(const std::vector<OfaArch>&)>& score,
                                 const std::function<double(const OfaArch&)>& efficiency, double constraint,
                                 const OfaEvolutionOptions& options, Rng& rng,
                                 const std::function<void(int, double)>& progress = {});

}  // namespace nascent
