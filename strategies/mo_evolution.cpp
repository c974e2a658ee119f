#include "strategies/mo_evolution.hpp"

#include "core/error.hpp"
#include "strategies/nsga2.hpp"
#include "strategies/tournament.hpp"

namespace nascent {

MultiObjectiveEvolution::MultiObjectiveEvolution(const SearchSpace& space, Options options) : space_(space), options_(options) {
  if (options_.population < 1) throw Error("config: strategy.population must be at least 1");
  if (options_.sample < 1 || options_.sample > options_.population)
    throw Error("config: strategy.sample must be between 1 and the population size");
}

std::vector<std::string> MultiObjectiveEvolution::ask(std::size_t count, Rng& rng) {
  std::vector<std::string> batch;
  parents_.clear();
  while (batch.size() < count && initial_asked_ < options_.population) {
    batch.push_back(space_.sample(rng));
    ++initial_asked_;
  }
  if (batch.size() == count) return batch;
  if (population_.empty()) {
    while (batch.size() < count) batch.push_back(space_.sample(rng));
    return batch;
  }
  // Rank and crowding over the living population, once per batch.
  std::vector<std::optional<std::vector<double>>> values;
  for (const Member& m : population_) values.push_back(m.values);
  std::vector<std::size_t> rank(population_.size());
  std::vector<double> crowding(population_.size());
  const auto fronts = non_dominated_fronts(values);
  for (std::size_t r = 0; r < fronts.size(); ++r) {
    const std::vector<double> distances = crowding_distances(values, fronts[r]);
    for (std::size_t k = 0; k < fronts[r].size(); ++k) {
      rank[fronts[r][k]] = r;
      crowding[fronts[r][k]] = distances[k];
    }
  }
  const auto better = [&](std::size_t a, std::size_t b) { return rank[a] != rank[b] ? rank[a] < rank[b] : crowding[a] > crowding[b]; };
  std::vector<std::size_t> order;
  while (batch.size() < count) {
    const std::size_t best = tournament_without_replacement(population_.size(), options_.sample, rng, order, better);
    batch.push_back(space_.mutate(population_[best].arch, rng));
    parents_[batch.back()] = population_[best].arch;
  }
  return batch;
}

void MultiObjectiveEvolution::tell(const std::string& arch, std::optional<double> fitness) {
  tell_objectives(arch, fitness ? std::optional<std::vector<double>>(std::vector<double>{*fitness}) : std::nullopt);
}

void MultiObjectiveEvolution::tell_objectives(const std::string& arch, const std::optional<std::vector<double>>& values) {
  if (!values) return;
  population_.push_back(Member{arch, *values});
  if (population_.size() > options_.population) population_.pop_front();
}

std::optional<std::string> MultiObjectiveEvolution::parent_of(const std::string& child) const {
  const auto found = parents_.find(child);
  if (found == parents_.end()) return std::nullopt;
  return found->second;
}

}  // namespace nascent
