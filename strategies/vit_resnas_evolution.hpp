#pragma once
// ViT-ResNAS's evolutionary search (spec B.4, evo_search.py and search_utils/evolver.py): a random
// initial population inside a MACs window [low * C, C], then per iteration children by mutation and
// crossover of the best of the whole history, every child de-duplicated and inside the window.
#include <functional>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "search_spaces/vit_resnas/vit_resnas.hpp"

namespace nascent {

struct VitEvolutionOptions {
  int initial_population = 500;
  int iterations = 20;  // iteration 0 is the random population
  int parents = 75, mutations = 75, crossovers = 75;
  double mutate_prob = 0.3;
  double window_low = 0.975;  // of macs_max
  int max_tries = 10000;      // per child
};

struct VitCandidate {
  VitArch arch;
  double macs = 0, fitness = 0;
  int iteration = 0;
};

// `macs` counts a candidate, `fitness` scores a batch of them (e.g. sub-val accuracy of the sliced
// sub-network). `progress(iteration, best)` after each iteration. Returns the history, best first.
std::vector<VitCandidate> vit_resnas_evolution(const VitSpaceSpec& spec, const std::function<double(const VitArch&)>& macs,
                                               const std::function<std::vector<double>(const std::vector<VitArch>&)>& fitness,
                                               double macs_max, const VitEvolutionOptions& options, Rng& rng,
                                               const std::function<void(int, const VitCandidate&)>& progress = {});

// The spec's random sampling into the window: uniform embeddings and block existence with the
// largest heads and MLPs, redrawn until MACs >= low; then one random pruning step at a time (a
// block's heads or MLP to the next smaller choice; after 100 steps also embeddings or removable
// blocks) while MACs > max. Returns false when the result misses the window.
bool sample_vit_in_window(const VitSpaceSpec& spec, const std::function<double(const VitArch&)>& macs, double low, double high,
                          Rng& rng, VitArch& out, int max_tries);

}  // namespace nascent
