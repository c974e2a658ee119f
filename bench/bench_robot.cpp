// RoBoT on the NAS-Bench-201 table, through the same search loop and SQLite store as any run.
//   bench_robot [nb201.csv] [zc_proxies_cifar10.csv] [own_proxies.csv] [seeds=10] [T=20]
// Queries: cifar10_valid_12ep (cost train_seconds_12ep). Base metrics: grad_norm, snip, grasp,
// fisher, synflow and jacov from the published NAS-Bench-Suite-Zero table (pool: its 9,445
// cells), then the same with nascent's own proxies (jacob_cov) from a CSV written by
// bench_proxies (pool: the cells in it). Seeds 10..19 as in the authors' script. Prints the mean
// and spread of the chosen architecture's cifar10_test_200ep and of the search cost.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <vector>

#include "evaluators/table_evaluator.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"

using namespace nascent;

namespace {

struct Figures {
  std::vector<double> test, cost;
};

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? NAN : s / v.size();
}
double stddev(const std::vector<double>& v) {
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return v.size() < 2 ? 0 : std::sqrt(s / v.size());
}

Figures run_robot(const std::string& nb201, const std::string& metrics_table, const std::string& metrics, int seeds,
                  int queries, const std::filesystem::path& dir, const std::string& tag) {
  Figures figures;
  for (int seed = 10; seed < 10 + seeds; ++seed) {
    SearchOptions options;
    options.config = Config::parse(
        "space: {name: nb201}\n"
        "strategy: {name: robot, metrics: [" + metrics + "]}\n"
        "evaluator: {name: table, key: arch, metric: cifar10_valid_12ep, report: [cifar10_test_200ep], cost: train_seconds_12ep}\n"
        "objective: {metric: cifar10_valid_12ep, mode: max}\n");
    options.config.set("strategy.metrics_table=" + metrics_table);
    options.config.set("strategy.queries=" + std::to_string(queries));
    options.config.set("evaluator.path=" + nb201);
    options.config.set("budget.evaluations=" + std::to_string(queries));
    options.config.set("seed=" + std::to_string(seed));
    options.db_path = (dir / (tag + std::to_string(seed) + ".db")).string();
    options.quiet = true;
    const SearchSummary summary = run_search(options);
    double cost = 0;
    ResultStore store(options.db_path, ResultStore::Mode::ReadOnly);
    for (const auto& e : store.evaluations(summary.run)) cost += e.result.cost;
    figures.test.push_back(summary.best_metrics.at("cifar10_test_200ep"));
    figures.cost.push_back(cost);
    std::printf("  seed %d: %lld queries, best valid %.2f -> test %.2f, cost %.0f s  %s\n", seed,
                static_cast<long long>(summary.evaluations), summary.best_fitness, figures.test.back(), cost,
                summary.best_arch.c_str());
  }
  return figures;
}

// The best cifar10_test_200ep among a pool's architectures (the pool's optimum).
double pool_optimum(const std::string& nb201, const std::string& pool_csv) {
  CsvFile table(nb201, nb201), pool(pool_csv, pool_csv);
  const std::size_t arch_col = table.column("arch", "key"), test_col = table.column("cifar10_test_200ep", "test");
  std::map<std::string, double> test;
  std::vector<std::string> cells;
  while (table.reader.next(cells)) test[cells[arch_col]] = std::stod(cells[test_col]);
  const std::size_t pool_arch = pool.column("arch", "key");
  double best = 0;
  while (pool.reader.next(cells)) best = std::max(best, test[cells[pool_arch]]);
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string nb201 = argc > 1 ? argv[1] : "../shared/data/nas-bench-201/nb201.csv";
  const std::string zc = argc > 2 ? argv[2] : "../shared/data/nas-bench-201/zc_proxies_cifar10.csv";
  const std::string own = argc > 3 ? argv[3] : "";
  const int seeds = argc > 4 ? std::atoi(argv[4]) : 10;
  const int queries = argc > 5 ? std::atoi(argv[5]) : 20;
  for (const auto& path : {nb201, zc})
    if (!std::filesystem::exists(path)) {
      std::fprintf(stderr, "bench_robot: %s not found\n", path.c_str());
      return 1;
    }
  const auto dir = std::filesystem::temp_directory_path() / ("nascent-robot-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);

  std::printf("RoBoT on NAS-Bench-201, T=%d, seeds 10..%d, query cifar10_valid_12ep\n", queries, 9 + seeds);
  std::printf("published proxies (NAS-Bench-Suite-Zero table, 9,445-cell pool):\n");
  Figures published = run_robot(nb201, zc, "grad_norm, snip, grasp, fisher, synflow, jacov", seeds, queries, dir, "pub");
  std::printf("  => cifar10_test_200ep %.2f +- %.2f (paper: 94.36 +- 0.00; pool optimum %.2f); cost %.0f +- %.0f GPU-s (paper: 3051)\n",
              mean(published.test), stddev(published.test), pool_optimum(nb201, zc), mean(published.cost),
              stddev(published.cost));
  if (!own.empty() && std::filesystem::exists(own)) {
    std::printf("nascent's own proxies (%s):\n", own.c_str());
    Figures mine = run_robot(nb201, own, "grad_norm, snip, grasp, fisher, synflow, jacob_cov", seeds, queries, dir, "own");
    std::printf("  => cifar10_test_200ep %.2f +- %.2f (pool optimum %.2f); cost %.0f +- %.0f GPU-s\n", mean(mine.test),
                stddev(mine.test), pool_optimum(nb201, own), mean(mine.cost), stddev(mine.cost));
  }
  std::filesystem::remove_all(dir);
  return 0;
}
