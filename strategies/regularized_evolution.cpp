#include "strategies/regularized_evolution.hpp"

#include <numeric>

#include "core/error.hpp"

namespace nascent {

RegularizedEvolution::RegularizedEvolution(const SearchSpace& space, Options options)
    : space_(space), options_(std::move(options)) {
  if (options_.population < 1) throw Error("config: strategy.population must be at least 1");
  if (options_.sample < 1 || options_.sample > options_.population)
    throw Error("config: strategy.sample must be between 1 and the population size");
  for (auto& seed : options_.seeds) seed = space_.canonical(seed);
}

std::vector<std::string> RegularizedEvolution::ask(std::size_t count, Rng& rng) {
  std::vector<std::string> batch;
  // Until the first population has been asked for, children would have no parents: sample.
  while (batch.size() < count && initial_asked_ < options_.population) {
    batch.push_back(initial_asked_ < options_.seeds.size() ? options_.seeds[initial_asked_] : space_.sample(rng));
    ++initial_asked_;
  }
  if (batch.size() == count) return batch;
  if (population_.empty()) {
    // Every initial candidate failed (or none was told yet): keep exploring at random.
    while (batch.size() < count) batch.push_back(space_.sample(rng));
    return batch;
  }
  std::vector<std::size_t> order(population_.size());
  while (batch.size() < count) {
    // Tournament without replacement: a partial Fisher-Yates shuffle of member indices.
    std::iota(order.begin(), order.end(), 0);
    const std::size_t contestants = std::min(options_.sample, population_.size());
    std::size_t best = order[0];
    for (std::size_t i = 0; i < contestants; ++i) {
      std::swap(order[i], order[i + uniform_index(rng, order.size() - i)]);
      if (i == 0 || population_[order[i]].fitness > population_[best].fitness) best = order[i];
    }
    batch.push_back(space_.mutate(population_[best].arch, rng));
  }
  return batch;
}

void RegularizedEvolution::tell(const std::string& arch, std::optional<double> fitness) {
  // A failed candidate never becomes a parent; it does not age anyone out either.
  if (!fitness) return;
  population_.push_back(Member{arch, *fitness});
  if (population_.size() > options_.population) population_.pop_front();
}

}  // namespace nascent
