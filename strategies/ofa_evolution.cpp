#include "strategies/ofa_evolution.hpp"

#include <algorithm>
#include <numeric>
#include <sstream>

#include "core/error.hpp"

namespace nascent {

namespace {

bool chance(Rng& rng, double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

}  // namespace

OfaEvolutionResult ofa_evolution(const OfaSpec& spec, const std::function<std::vector<double>(const std::vector<OfaArch>&)>& score,
                                 const std::function<double(const OfaArch&)>& efficiency, double constraint,
                                 const OfaEvolutionOptions& options, Rng& rng, const std::function<void(int, double)>& progress) {
  if (options.population < 2) throw Error("config: strategy.evolution.population must be at least 2");
  if (!(options.parent_ratio > 0 && options.parent_ratio <= 1)) throw Error("config: strategy.evolution.parent_ratio must be in (0, 1]");
  if (!(options.mutation_ratio >= 0 && options.mutation_ratio <= 1)) throw Error("config: strategy.evolution.mutation_ratio must be in [0, 1]");
  const int parents_size = std::max(1, static_cast<int>(options.population * options.parent_ratio));
  const int mutation_count = static_cast<int>(options.population * options.mutation_ratio);
  const auto satisfying = [&](const std::function<OfaArch()>& draw, const char* what) {
    for (int t = 0; t < options.max_tries; ++t) {
      OfaArch arch = ofa_normalised(draw());
      if (efficiency(arch) <= constraint) return arch;
    }
    std::ostringstream message;
    message << "evolution: no " << what << " satisfied the constraint " << constraint << " in " << options.max_tries
            << " tries; relax strategy.constraint";
    throw Error(message.str());
  };
  OfaEvolutionResult result;
  std::vector<OfaArch> population;
  for (int i = 0; i < options.population; ++i) population.push_back(satisfying([&] { return spec.sample(rng); }, "random sub-network"));
  std::vector<double> scores = score(population);
  result.scored += static_cast<std::int64_t>(population.size());
  for (int generation = 0; generation < options.generations; ++generation) {
    std::vector<std::size_t> order(population.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
    std::vector<OfaArch> parents;
    std::vector<double> parent_scores;
    for (int i = 0; i < parents_size && i < static_cast<int>(order.size()); ++i) {
      parents.push_back(population[order[static_cast<std::size_t>(i)]]);
      parent_scores.push_back(scores[order[static_cast<std::size_t>(i)]]);
    }
    result.best_per_generation.push_back(parent_scores.front());
    if (progress) progress(generation + 1, parent_scores.front());
    std::vector<OfaArch> children;
    for (int i = 0; i < mutation_count; ++i) {
      children.push_back(satisfying(
          [&] {
            OfaArch arch = ofa_filled(parents[uniform_index(rng, parents.size())], spec, rng);
            for (std::size_t b = 0; b < arch.ks.size(); ++b)
              if (chance(rng, options.mutate_prob)) {
                arch.ks[b] = spec.kernels[uniform_index(rng, spec.kernels.size())];
                arch.e[b] = spec.expands[uniform_index(rng, spec.expands.size())];
              }
            for (auto& d : arch.d)
              if (chance(rng, options.mutate_prob)) d = spec.depths[uniform_index(rng, spec.depths.size())];
            if (chance(rng, options.resolution_mutate_prob)) arch.r = spec.resolutions[uniform_index(rng, spec.resolutions.size())];
            return arch;
          },
          "mutation"));
    }
    for (int i = mutation_count; i < options.population; ++i) {
      children.push_back(satisfying(
          [&] {
            const OfaArch a = ofa_filled(parents[uniform_index(rng, parents.size())], spec, rng);
            const OfaArch b = ofa_filled(parents[uniform_index(rng, parents.size())], spec, rng);
            OfaArch child = a;
            for (std::size_t j = 0; j < child.ks.size(); ++j) {
              if (chance(rng, 0.5)) child.ks[j] = b.ks[j];
              if (chance(rng, 0.5)) child.e[j] = b.e[j];
            }
            for (std::size_t j = 0; j < child.d.size(); ++j)
              if (chance(rng, 0.5)) child.d[j] = b.d[j];
            if (chance(rng, 0.5)) child.r = b.r;
            return child;
          },
          "crossover"));
    }
    const std::vector<double> child_scores = score(children);
    result.scored += static_cast<std::int64_t>(children.size());
    population = parents;
    scores = parent_scores;
    population.insert(population.end(), children.begin(), children.end());
    scores.insert(scores.end(), child_scores.begin(), child_scores.end());
  }
  std::vector<std::size_t> order(population.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  for (std::size_t i : order) {
    const bool duplicate = std::find(result.population.begin(), result.population.end(), population[i]) != result.population.end();
    if (duplicate) continue;
    result.population.push_back(population[i]);
    result.scores.push_back(scores[i]);
  }
  return result;
}

}  // namespace nascent
