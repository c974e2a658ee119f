// Multi-objective search on the NAS-Bench-201 table: objectives cifar10_valid_12ep (max) and FLOPs
// (min, computed by the space at 3x32x32 with 10 classes, equal to NAS-Bench-Suite-Zero's count
// in zc_proxies_cifar10.csv), 300 evaluations per run. For NSGA-II, the multi-objective
// regularised evolution (tournament size 10) and random search over seeds
// 0..N-1: the hypervolume of the run's front as a share of the whole table's front, with the
// reference point (80% accuracy, the largest cell's FLOPs).
//   bench_nsga2 [path/to/nb201.csv] [seeds=10] [evaluations=300] [population=50] [crossover=0]
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "evaluators/table_evaluator.hpp"
#include "results/query.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"
#include "search_spaces/nb201/nb201.hpp"

using namespace nascent;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  const std::string csv = argc > 1 ? argv[1] : "../shared/data/nas-bench-201/nb201.csv";
  const int seeds = argc > 2 ? std::stoi(argv[2]) : 10;
  const int evaluations = argc > 3 ? std::stoi(argv[3]) : 300;
  const int population = argc > 4 ? std::stoi(argv[4]) : 50;
  const std::string crossover = argc > 5 ? argv[5] : "0";
  if (!fs::exists(csv)) {
    std::fprintf(stderr, "bench_nsga2: %s does not exist\n", csv.c_str());
    return 1;
  }
  const std::vector<Objective> objectives{{"cifar10_valid_12ep", true}, {"flops", false}};

  // The whole table's front: every cell's accuracy looked up as the search does, its FLOPs from the space.
  Nb201Space space;
  const Task task{{3, 32, 32}, 10, 0};
  TableEvaluator::Options lookup;
  lookup.path = csv;
  lookup.metric = "cifar10_valid_12ep";
  TableEvaluator table_evaluator(lookup);
  std::vector<std::vector<double>> table;
  double largest_flops = 0;
  for (const std::string& arch : space.enumerate()) {
    const Evaluation found = table_evaluator.evaluate(space, arch, 0);
    if (!found.ok) continue;
    const double flops = space.describe(arch, task).flops;
    largest_flops = std::max(largest_flops, flops);
    table.push_back({found.metrics.at("cifar10_valid_12ep"), flops});
  }
  const std::vector<double> reference{80.0, largest_flops};
  const double table_volume = hypervolume(table, objectives, reference);
  std::printf("table: %zu cells, reference (80%%, %.2f MFLOPs), hypervolume %.2f\n", table.size(), largest_flops / 1e6, table_volume / 1e6);

  const fs::path dir = fs::temp_directory_path() / ("nascent-bench-nsga2-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const std::string strategy : {"nsga2", "mo_evolution", "random"}) {
    std::vector<double> shares;
    for (int seed = 0; seed < seeds; ++seed) {
      SearchOptions options;
      options.config = Config::parse("space: {name: nb201}\nevaluator: {name: table, key: arch, metric: cifar10_valid_12ep}\n"
                                     "objectives: [cifar10_valid_12ep:max, flops:min]\n");
      options.config.set("evaluator.path=" + csv);
      options.config.set("strategy.name=" + strategy);
      if (strategy != "random") options.config.set("strategy.population=" + std::to_string(population));
      if (strategy == "nsga2") options.config.set("strategy.crossover=" + crossover);
      options.config.set("budget.evaluations=" + std::to_string(evaluations));
      options.seed = static_cast<std::uint64_t>(seed);
      options.db_path = (dir / (strategy + std::to_string(seed) + ".db")).string();
      options.quiet = true;
      run_search(options);
      ResultStore store(options.db_path, ResultStore::Mode::ReadOnly);
      std::vector<std::vector<double>> points;
      for (const auto& e : store.evaluations())
        if (e.result.ok) points.push_back({e.result.metrics.at("cifar10_valid_12ep"), e.result.metrics.at("flops")});
      shares.push_back(hypervolume(points, objectives, reference) / table_volume);
    }
    double mean = 0, spread = 0;
    for (double s : shares) mean += s / shares.size();
    for (double s : shares) spread += (s - mean) * (s - mean) / std::max<std::size_t>(1, shares.size() - 1);
    std::printf("%-12s %d evaluations, seeds 0..%d: hypervolume share %.4f +- %.4f (min %.4f, max %.4f)\n", strategy.c_str(), evaluations,
                seeds - 1, mean, std::sqrt(spread), *std::min_element(shares.begin(), shares.end()),
                *std::max_element(shares.begin(), shares.end()));
  }
  fs::remove_all(dir);
  return 0;
}
