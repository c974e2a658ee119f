#include "core/error.hpp"
#include "strategies/random_search.hpp"
#include "strategies/regularized_evolution.hpp"
#include "strategies/robot.hpp"

namespace nascent {

std::unique_ptr<Strategy> make_strategy(const Config& config, const SearchSpace& space, const std::string& config_dir) {
  const std::string name = config.get<std::string>("name", "evolution");
  if (name == "random") {
    config.check_keys({"name"});
    return std::make_unique<RandomSearch>(space);
  }
  if (name == "evolution" || name == "regularized_evolution") {
    config.check_keys({"name", "population", "sample", "seeds", "fill_with_seeds", "sample_with_replacement"});
    RegularizedEvolution::Options options;
    options.population = static_cast<std::size_t>(config.get<int>("population", 50));
    options.sample = static_cast<std::size_t>(config.get<int>("sample", 10));
    options.seeds = config.get<std::vector<std::string>>("seeds", {});
    options.fill_with_seeds = config.get<bool>("fill_with_seeds", false);
    options.sample_with_replacement = config.get<bool>("sample_with_replacement", false);
    if (options.fill_with_seeds && options.seeds.empty())
      throw Error("config: strategy.fill_with_seeds needs strategy.seeds");
    if (config.get<int>("population", 50) < 1) throw Error("config: strategy.population must be at least 1");
    return std::make_unique<RegularizedEvolution>(space, options);
  }
  const auto table_path = [&] {
    const std::string path = config.get<std::string>("metrics_table", "");
    return path.empty() ? path : resolve_path(path, config_dir);
  };
  const auto non_negative = [&](const char* key, long long fallback) {
    const long long value = config.get<long long>(key, fallback);
    if (value < 0) throw Error(std::string("config: strategy.") + key + " must not be negative");
    return static_cast<std::size_t>(value);
  };
  if (name == "robot") {
    config.check_keys({"name", "metrics", "queries", "kappa", "random_points", "local_starts", "metrics_table",
                       "table_key", "pool"});
    Robot::Options options;
    options.metrics = config.get<std::vector<std::string>>("metrics", {});
    options.queries = non_negative("queries", 20);
    options.kappa = config.get<double>("kappa", options.kappa);
    options.random_points = std::max<std::size_t>(1, non_negative("random_points", 10000));
    options.local_starts = non_negative("local_starts", 10);
    options.metrics_table = table_path();
    options.table_key = config.get<std::string>("table_key", "arch");
    options.pool = non_negative("pool", 0);
    return std::make_unique<Robot>(space, options);
  }
  if (name == "training_free") {
    config.check_keys({"name", "metrics", "weights", "pool", "top_k", "metrics_table", "table_key"});
    TrainingFreeSearch::Options options;
    options.metrics = config.get<std::vector<std::string>>("metrics", {});
    options.weights = config.get<std::vector<double>>("weights", {});
    options.pool = non_negative("pool", 0);
    options.top_k = non_negative("top_k", 0);
    options.metrics_table = table_path();
    options.table_key = config.get<std::string>("table_key", "arch");
    return std::make_unique<TrainingFreeSearch>(space, options);
  }
  throw Error("config: strategy.name: unknown strategy '" + name +
              "' (expected random, evolution, training_free or robot)");
}

}  // namespace nascent
