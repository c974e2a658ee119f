#include "core/error.hpp"
#include "strategies/boshnas.hpp"
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
  if (name == "boshnas") {
    config.check_keys({"name", "initial", "library_size", "uncertainty_probability", "diversity_probability",
                       "fitness_scale", "active_learning_patience", "patience", "overlap_threshold", "restarts",
                       "gobi_iterations", "gobi_lr", "second_order", "max_epochs", "aleatoric", "npn_lr"});
    Boshnas::Options options;
    options.initial = non_negative("initial", 10);
    options.library_size = non_negative("library_size", 1000);
    options.uncertainty_probability = config.get<double>("uncertainty_probability", options.uncertainty_probability);
    options.diversity_probability = config.get<double>("diversity_probability", options.diversity_probability);
    options.fitness_scale = config.get<double>("fitness_scale", options.fitness_scale);
    options.active_learning_patience = non_negative("active_learning_patience", 5);
    options.patience = non_negative("patience", 10);
    options.overlap_threshold = config.get<double>("overlap_threshold", options.overlap_threshold);
    options.gobi.restarts = static_cast<int>(non_negative("restarts", 10));
    options.gobi.iterations = static_cast<int>(non_negative("gobi_iterations", 200));
    options.gobi.second_order = config.get<bool>("second_order", true);
    options.gobi.lr = config.get<double>("gobi_lr", options.gobi.second_order ? 0.5 : 10.0);
    options.surrogate.max_epochs = static_cast<int>(std::max<std::size_t>(1, non_negative("max_epochs", 200)));
    options.surrogate.aleatoric = config.get<bool>("aleatoric", true);
    options.surrogate.npn_lr = config.get<double>("npn_lr", options.surrogate.npn_lr);
    if (!(options.surrogate.npn_lr > 0)) throw Error("config: strategy.npn_lr must be positive");
    return std::make_unique<Boshnas>(space, options);
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
  if (name == "darts" || name == "rarts" || name == "ofa" || name == "vit_resnas")
    throw Error("config: strategy " + name + " trains a supernet rather than asking for candidates: run it with nascent search");
  throw Error("config: strategy.name: unknown strategy '" + name +
              "' (expected random, evolution, boshnas, training_free, robot, darts, rarts, ofa or vit_resnas)");
}

}  // namespace nascent
