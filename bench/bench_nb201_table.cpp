// Search quality and loop overhead on the NAS-Bench-201 table (../shared/data/nas-bench-201/nb201.csv).
//   bench_nb201_table [path/to/nb201.csv] [seeds=10]
// For regularised evolution (population 50, sample 10) and random search, 300 evaluations each with
// cifar10_valid_12ep as the fitness: the mean and spread over seeds of the chosen architecture's
// cifar10_test_200ep, then the search loop's throughput with and without SQLite logging.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "core/registry.hpp"
#include "evaluators/evaluator.hpp"
#include "runner/search.hpp"
#include "strategies/strategy.hpp"

using namespace nascent;

namespace {

Config make_config(const std::string& csv, const std::string& strategy, std::uint64_t seed, int evaluations) {
  Config config = Config::parse(
      "space: {name: nb201}\n"
      "evaluator: {name: table, key: arch, metric: cifar10_valid_12ep, report: [cifar10_test_200ep], cost: train_seconds_12ep}\n"
      "objective: {metric: cifar10_valid_12ep, mode: max}\n");
  config.set("evaluator.path=" + csv);
  config.set("strategy.name=" + strategy);
  if (strategy == "evolution") {
    config.set("strategy.population=50");
    config.set("strategy.sample=10");
  }
  config.set("seed=" + std::to_string(seed));
  config.set("budget.evaluations=" + std::to_string(evaluations));
  return config;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string csv = argc > 1 ? argv[1] : "../shared/data/nas-bench-201/nb201.csv";
  const int seeds = argc > 2 ? std::atoi(argv[2]) : 10;
  if (!std::filesystem::exists(csv)) {
    std::fprintf(stderr, "bench_nb201_table: %s not found (pass the path to nb201.csv)\n", csv.c_str());
    return 1;
  }
  const auto dir = std::filesystem::temp_directory_path() / ("nascent-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);

  std::printf("NAS-Bench-201 table, 300 evaluations, fitness cifar10_valid_12ep, %d seeds\n", seeds);
  for (const std::string strategy : {"evolution", "random"}) {
    std::vector<double> test;
    for (int seed = 0; seed < seeds; ++seed) {
      SearchOptions options;
      options.config = make_config(csv, strategy, seed, 300);
      options.db_path = (dir / (strategy + std::to_string(seed) + ".db")).string();
      options.quiet = true;
      const SearchSummary summary = run_search(options);
      test.push_back(summary.best_metrics.at("cifar10_test_200ep"));
    }
    double mean = 0, var = 0;
    for (double t : test) mean += t / test.size();
    for (double t : test) var += (t - mean) * (t - mean) / std::max<std::size_t>(1, test.size() - 1);
    std::printf("  %-10s chosen architecture's cifar10_test_200ep: mean %.3f  std %.3f\n", strategy.c_str(), mean,
                std::sqrt(var));
  }

  // Loop overhead: the strategy and table lookups alone, then the full run with SQLite logging.
  const int n = 20000;
  {
    Config config = make_config(csv, "evolution", 1, n);
    auto space = registries().spaces.create("nb201", config.child("space"));
    auto strategy = make_strategy(config.child("strategy"), *space);
    auto evaluator = make_evaluator(config.child("evaluator"), EvaluatorContext{});
    Rng rng(1);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      const std::string arch = strategy->ask(1, rng).at(0);
      const Evaluation e = evaluator->evaluate(*space, arch, i);
      strategy->tell(arch, e.metrics.at("cifar10_valid_12ep"));
    }
    const double s = seconds_since(start);
    std::printf("search loop without logging: %d evaluations in %.3f s = %.0f evaluations/s\n", n, s, n / s);
  }
  {
    SearchOptions options;
    options.config = make_config(csv, "evolution", 1, 5000);
    options.db_path = (dir / "overhead.db").string();
    options.quiet = true;
    const auto start = std::chrono::steady_clock::now();
    const SearchSummary summary = run_search(options);
    const double s = seconds_since(start);
    std::printf("search loop with SQLite logging: %lld evaluations (%lld new; repeats are reused) in %.3f s = %.0f evaluations/s\n",
                static_cast<long long>(summary.evaluations), static_cast<long long>(summary.evaluated_now), s,
                summary.evaluations / s);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
