// The built-in ask/tell strategies and their declared options.
#include "core/error.hpp"
#include "core/registry.hpp"
#include "strategies/boshnas.hpp"
#include "strategies/random_search.hpp"
#include "strategies/mo_evolution.hpp"
#include "strategies/nsga2.hpp"
#include "strategies/regularized_evolution.hpp"
#include "strategies/robot.hpp"

namespace nascent {

namespace {

std::size_t count_of(const Options& options, const char* key) { return static_cast<std::size_t>(options.get<long long>(key)); }

std::string table_path(const Options& options, const StrategyContext& context) {
  const std::string path = options.get<std::string>("metrics_table");
  return path.empty() ? path : resolve_path(path, context.config_dir);
}

OptionTable& metric_table_options(OptionTable& table) {
  return table.text("metrics_table", "", "CSV of precomputed metric values per architecture, instead of computing them")
      .text("table_key", "arch", "the metrics table's architecture column");
}

}  // namespace

void register_builtin_strategies(Registries& registries) {
  auto& strategies = registries.strategies;
  strategies.add("random", "uniform random sampling from the space", OptionTable(),
                 [](const Options&, const StrategyContext& context) -> std::unique_ptr<Strategy> {
                   return std::make_unique<RandomSearch>(context.space);
                 });

  const RegularizedEvolution::Options evolution;
  const auto make_evolution = [](const Options& options, const StrategyContext& context) -> std::unique_ptr<Strategy> {
    RegularizedEvolution::Options o;
    o.population = count_of(options, "population");
    o.sample = count_of(options, "sample");
    o.seeds = options.get<std::vector<std::string>>("seeds");
    o.fill_with_seeds = options.get<bool>("fill_with_seeds");
    o.sample_with_replacement = options.get<bool>("sample_with_replacement");
    if (o.fill_with_seeds && o.seeds.empty()) throw Error("config: " + options.config().full("fill_with_seeds") + " needs strategy.seeds");
    return std::make_unique<RegularizedEvolution>(context.space, o);
  };
  const OptionTable evolution_options =
      OptionTable()
          .integer("population", static_cast<long long>(evolution.population), "individuals kept (the oldest dies)").at_least(1)
          .integer("sample", static_cast<long long>(evolution.sample), "tournament size").at_least(1)
          .texts("seeds", {}, "architectures evaluated first, before random ones")
          .flag("fill_with_seeds", evolution.fill_with_seeds, "einspace's start: the population is the seeds copied cyclically")
          .flag("sample_with_replacement", evolution.sample_with_replacement,
                "tournament contestants drawn with replacement (einspace's code) instead of without (Real et al.)");
  strategies.add("evolution", "regularised (aging) evolution, Real et al. 2019", evolution_options, make_evolution);
  strategies.add("regularized_evolution", "the same as evolution", evolution_options, make_evolution);

  const Nsga2::Options nsga2;
  strategies.add("nsga2", "NSGA-II over the config's objectives (Deb et al. 2002)",
                 OptionTable()
                     .integer("population", static_cast<long long>(nsga2.population), "parents kept and children per generation").at_least(2)
                     .number("crossover", nsga2.crossover, "chance a child is a crossover of two parents (spaces that define one)").at_least(0).at_most(1),
                 [](const Options& options, const StrategyContext& context) -> std::unique_ptr<Strategy> {
                   Nsga2::Options o;
                   o.population = count_of(options, "population");
                   o.crossover = options.get<double>("crossover");
                   return std::make_unique<Nsga2>(context.space, o);
                 });

  const MultiObjectiveEvolution::Options mo_evolution;
  strategies.add("mo_evolution", "regularised evolution over the config's objectives: tournaments by non-domination rank, then crowding",
                 OptionTable()
                     .integer("population", static_cast<long long>(mo_evolution.population), "individuals kept (the oldest dies)").at_least(1)
                     .integer("sample", static_cast<long long>(mo_evolution.sample), "tournament size").at_least(1),
                 [](const Options& options, const StrategyContext& context) -> std::unique_ptr<Strategy> {
                   MultiObjectiveEvolution::Options o;
                   o.population = count_of(options, "population");
                   o.sample = count_of(options, "sample");
                   return std::make_unique<MultiObjectiveEvolution>(context.space, o);
                 });

  const Robot::Options robot;
  OptionTable robot_options;
  robot_options.texts("metrics", {}, "training-free metrics combined (predictor names), used in sorted order")
      .integer("queries", static_cast<long long>(robot.queries), "Bayesian-optimisation queries T").at_least(0)
      .number("kappa", robot.kappa, "UCB exploration weight")
      .integer("random_points", static_cast<long long>(robot.random_points), "acquisition: random weight vectors scored").at_least(1)
      .integer("local_starts", static_cast<long long>(robot.local_starts), "acquisition: BOBYQA local optimisations").at_least(0)
      .integer("pool", 0, "candidates to score when computing metrics (0: the whole space)").at_least(0);
  metric_table_options(robot_options);
  strategies.add("robot", "RoBoT: Bayesian optimisation of a weighted combination of training-free metrics, then greedy exploitation",
                 robot_options, [](const Options& options, const StrategyContext& context) -> std::unique_ptr<Strategy> {
                   Robot::Options o;
                   o.metrics = options.get<std::vector<std::string>>("metrics");
                   o.queries = count_of(options, "queries");
                   o.kappa = options.get<double>("kappa");
                   o.random_points = count_of(options, "random_points");
                   o.local_starts = count_of(options, "local_starts");
                   o.metrics_table = table_path(options, context);
                   o.table_key = options.get<std::string>("table_key");
                   o.pool = count_of(options, "pool");
                   return std::make_unique<Robot>(context.space, o);
                 });

  const Boshnas::Options boshnas;
  strategies.add(
      "boshnas", "BOSHNAS: heteroscedastic surrogate (teacher, student, NPN) with GOBI, uncertainty sampling and weight transfer",
      OptionTable()
          .integer("initial", static_cast<long long>(boshnas.initial), "random architectures before the surrogate").at_least(0)
          .integer("library_size", static_cast<long long>(boshnas.library_size), "sampled library for spaces that cannot list themselves").at_least(0)
          .number("uncertainty_probability", boshnas.uncertainty_probability, "chance of querying the most uncertain").at_least(0).at_most(1)
          .number("diversity_probability", boshnas.diversity_probability, "chance of querying a random architecture").at_least(0).at_most(1)
          .text("targets", "standardised", "surrogate targets: standardised (fitness z-scores) or relative (the authors' (1 - fitness / fitness_scale) / largest initial)")
          .one_of({"standardised", "relative"})
          .number("fitness_scale", boshnas.fitness_scale, "fitness divided by this before the surrogate (targets: relative)")
          .integer("active_learning_patience", static_cast<long long>(boshnas.active_learning_patience),
                   "steps without a better fitness before uncertainty enters the acquisition").at_least(0)
          .integer("patience", static_cast<long long>(boshnas.patience), "steps without a better fitness before stopping (0: never)").at_least(0)
          .number("overlap_threshold", boshnas.overlap_threshold, "weight transfer from a trained model at least this close").at_least(0).at_most(1)
          .text("acquisition_search", "library", "minimise the acquisition over every untrained library member (library) or by the authors' gradient descent (gobi)")
          .one_of({"library", "gobi"})
          .integer("restarts", boshnas.gobi.restarts, "GOBI restarts (queries per optimisation step)").at_least(0)
          .integer("gobi_iterations", boshnas.gobi.iterations, "GOBI iterations per restart").at_least(0)
          .optional("gobi_lr", OptionType::Number, "GOBI learning rate (default 0.5 with second_order, else 10)")
          .at_least(1e-12)
          .flag("second_order", true, "GOBI with AdaHessian (else Adam)")
          .integer("max_epochs", boshnas.surrogate.max_epochs, "surrogate training epochs").at_least(1)
          .flag("aleatoric", boshnas.surrogate.aleatoric, "model aleatoric uncertainty with the NPN")
          .number("npn_lr", boshnas.surrogate.npn_lr, "NPN learning rate").at_least(1e-12).at_most(1),
      [](const Options& options, const StrategyContext& context) -> std::unique_ptr<Strategy> {
        Boshnas::Options o;
        o.initial = count_of(options, "initial");
        o.library_size = count_of(options, "library_size");
        o.uncertainty_probability = options.get<double>("uncertainty_probability");
        o.diversity_probability = options.get<double>("diversity_probability");
        o.targets = options.get<std::string>("targets") == "relative" ? Boshnas::Options::Targets::kRelative
                                                                      : Boshnas::Options::Targets::kStandardised;
        o.acquisition_search = options.get<std::string>("acquisition_search") == "gobi"
                                   ? Boshnas::Options::AcquisitionSearch::kGobi
                                   : Boshnas::Options::AcquisitionSearch::kLibrary;
        o.fitness_scale = options.get<double>("fitness_scale");
        o.active_learning_patience = count_of(options, "active_learning_patience");
        o.patience = count_of(options, "patience");
        o.overlap_threshold = options.get<double>("overlap_threshold");
        o.gobi.restarts = options.get<int>("restarts");
        o.gobi.iterations = options.get<int>("gobi_iterations");
        o.gobi.second_order = options.get<bool>("second_order");
        o.gobi.lr = options.maybe<double>("gobi_lr").value_or(o.gobi.second_order ? 0.5 : 10.0);
        o.surrogate.max_epochs = options.get<int>("max_epochs");
        o.surrogate.aleatoric = options.get<bool>("aleatoric");
        o.surrogate.npn_lr = options.get<double>("npn_lr");
        return std::make_unique<Boshnas>(context.space, o);
      });

  OptionTable training_free_options;
  training_free_options.texts("metrics", {}, "training-free metrics (predictor names)")
      .numbers("weights", {}, "one weight per metric for the combined score (empty: 1 each)")
      .integer("pool", 0, "candidates scored (0: the whole space)").at_least(0)
      .integer("top_k", 0, "best-scored candidates then evaluated by the run's evaluator (0: scores only)").at_least(0);
  metric_table_options(training_free_options);
  strategies.add("training_free", "rank a pool by (combined, normalised) training-free metrics, then query the top k",
                 training_free_options, [](const Options& options, const StrategyContext& context) -> std::unique_ptr<Strategy> {
                   TrainingFreeSearch::Options o;
                   o.metrics = options.get<std::vector<std::string>>("metrics");
                   o.weights = options.get<std::vector<double>>("weights");
                   o.pool = count_of(options, "pool");
                   o.top_k = count_of(options, "top_k");
                   o.metrics_table = table_path(options, context);
                   o.table_key = options.get<std::string>("table_key");
                   return std::make_unique<TrainingFreeSearch>(context.space, o);
                 });
}

std::unique_ptr<Strategy> make_strategy(const Config& config, const SearchSpace& space, const std::string& config_dir) {
  const std::string name = config.get<std::string>("name", "evolution");
  if (registries().methods.contains(name))
    throw Error("config: strategy " + name + " trains a supernet rather than asking for candidates: run it with nascent search");
  return registries().strategies.create(name, config, StrategyContext{space, config_dir});
}

}  // namespace nascent
