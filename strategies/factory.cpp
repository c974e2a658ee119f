#include "core/error.hpp"
#include "strategies/random_search.hpp"
#include "strategies/regularized_evolution.hpp"

namespace nascent {

std::unique_ptr<Strategy> make_strategy(const Config& config, const SearchSpace& space) {
  const std::string name = config.get<std::string>("name", "evolution");
  if (name == "random") {
    config.check_keys({"name"});
    return std::make_unique<RandomSearch>(space);
  }
  if (name == "evolution" || name == "regularized_evolution") {
    config.check_keys({"name", "population", "sample", "seeds"});
    RegularizedEvolution::Options options;
    options.population = static_cast<std::size_t>(config.get<int>("population", 50));
    options.sample = static_cast<std::size_t>(config.get<int>("sample", 10));
    options.seeds = config.get<std::vector<std::string>>("seeds", {});
    if (config.get<int>("population", 50) < 1) throw Error("config: strategy.population must be at least 1");
    return std::make_unique<RegularizedEvolution>(space, options);
  }
  throw Error("config: strategy.name: unknown strategy '" + name + "' (expected random or evolution)");
}

}  // namespace nascent
