#include "strategies/regularized_evolution.hpp"

#include "core/error.hpp"
#include "strategies/tournament.hpp"

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
  parents_.clear();
  // Until the first population has been asked for, children would have no parents: sample.
  const std::size_t initial =
      options_.fill_with_seeds && !options_.seeds.empty() ? options_.seeds.size() : options_.population;
  while (batch.size() < count && initial_asked_ < initial) {
    batch.push_back(initial_asked_ < options_.seeds.size() ? options_.seeds[initial_asked_] : space_.sample(rng));
    ++initial_asked_;
  }
  if (batch.size() == count) return batch;
  // A seeded start waits for the seeds' results, which make the whole first population.
  if (options_.fill_with_seeds && seeds_told_ < options_.seeds.size()) return batch;
  if (population_.empty()) {
    // Every initial candidate failed (or none was told yet): keep exploring at random.
    while (batch.size() < count) batch.push_back(space_.sample(rng));
    return batch;
  }
  std::vector<std::size_t> order;
  while (batch.size() < count) {
    std::size_t best = 0;
    if (options_.sample_with_replacement) {
      for (std::size_t i = 0; i < options_.sample; ++i) {
        const std::size_t contestant = uniform_index(rng, population_.size());
        if (i == 0 || population_[contestant].fitness > population_[best].fitness) best = contestant;
      }
    } else {
      best = tournament_without_replacement(population_.size(), options_.sample, rng, order,
                                            [&](std::size_t a, std::size_t b) { return population_[a].fitness > population_[b].fitness; });
    }
    batch.push_back(space_.mutate(population_[best].arch, rng));
    parents_[batch.back()] = population_[best].arch;
  }
  return batch;
}

std::optional<std::string> RegularizedEvolution::parent_of(const std::string& child) const {
  const auto found = parents_.find(child);
  if (found == parents_.end()) return std::nullopt;
  return found->second;
}

void RegularizedEvolution::tell(const std::string& arch, std::optional<double> fitness) {
  const bool seed_result = options_.fill_with_seeds && seeds_told_ < options_.seeds.size();
  if (seed_result) ++seeds_told_;
  // A failed candidate never becomes a parent; it does not age anyone out either.
  if (fitness) {
    population_.push_back(Member{arch, *fitness});
    if (population_.size() > options_.population) population_.pop_front();
  }
  if (seed_result && seeds_told_ == options_.seeds.size()) {
    // Every seed is back: copy the trained ones cyclically until the population is full. (If all
    // failed, the population is empty and ask() samples at random until it is not.)
    const std::size_t trained = population_.size();
    for (std::size_t i = trained; trained > 0 && i < options_.population; ++i) population_.push_back(population_[i % trained]);
  }
}

}  // namespace nascent
