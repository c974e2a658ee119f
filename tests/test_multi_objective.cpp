// Several objectives and constraints: NSGA-II's sorting and crowding, the hypervolume, NSGA-II
// through the search loop, constraints checked before anything is trained, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "core/config.hpp"
#include "core/graph.hpp"
#include "results/query.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"
#include "search_spaces/nb201/nb201.hpp"
#include "strategies/nsga2.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;
using Values = std::vector<std::optional<std::vector<double>>>;

TEST(Nsga2Sorting, FrontsAndCrowdingOfAHandMadeSet) {
  // Larger is better on both. 0, 1 and 2 trade off; 3 is dominated by 1; 4 is infeasible.
  const Values values{std::vector<double>{1, 5}, std::vector<double>{3, 3}, std::vector<double>{5, 1}, std::vector<double>{2, 2},
                      std::nullopt};
  const auto fronts = non_dominated_fronts(values);
  ASSERT_EQ(fronts.size(), 3u);
  EXPECT_EQ(fronts[0], (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(fronts[1], (std::vector<std::size_t>{3}));
  EXPECT_EQ(fronts[2], (std::vector<std::size_t>{4}));
  const auto crowding = crowding_distances(values, fronts[0]);
  EXPECT_TRUE(std::isinf(crowding[0]));
  EXPECT_TRUE(std::isinf(crowding[2]));
  EXPECT_DOUBLE_EQ(crowding[1], 2.0);  // (5-1)/4 on each objective
}

TEST(Hypervolume, TwoAndThreeObjectivesByHand) {
  const std::vector<Objective> max_min{{"acc", true}, {"flops", false}};
  // Reference (0 acc, 10 flops): boxes [0,2]x[4,10] and [0,1]x[2,10] -> 12 + 2.
  EXPECT_DOUBLE_EQ(hypervolume({{2, 4}, {1, 2}, {0.5, 3}}, max_min, {0, 10}), 14.0);
  // A point that does not beat the reference adds nothing.
  EXPECT_DOUBLE_EQ(hypervolume({{2, 4}, {-1, 1}}, max_min, {0, 10}), 12.0);
  const std::vector<Objective> three{{"a", false}, {"b", false}, {"c", false}};
  // Unit cube at the origin and a 1x1x2 slab: 1 + 1 (overlap of one unit cube).
  EXPECT_DOUBLE_EQ(hypervolume({{0, 0, 1}, {0, 1, 0}}, three, {1, 2, 2}), 3.0);
  EXPECT_ERROR(hypervolume({{1, 1}}, max_min, {0}), "reference point has 1 values for 2 objectives");
}

class MultiObjectiveTest : public ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    std::ofstream csv(dir_ / "table.csv");
    csv << "arch,score\n";
    for (const auto& arch : Nb201Space().enumerate()) csv << arch << "," << (fnv1a(arch) % 10000) / 100.0 << "\n";
  }
  SearchOptions options(const std::string& extra, const std::string& db = "run.db") const {
    return search_options("seed: 5\nspace: {name: nb201}\nevaluator: {name: table, key: arch, metric: score, path: " + path("table.csv") +
                              "}\nbudget: {evaluations: 120}\n" + extra,
                          db);
  }
  std::vector<StoredEvaluation> stored(const std::string& db = "run.db") {
    ResultStore store(path(db), ResultStore::Mode::ReadOnly);
    return store.evaluations();
  }
};

TEST_F(MultiObjectiveTest, Nsga2SearchesBothObjectivesReproduciblyAndRecordsParents) {
  const std::string config = "strategy: {name: nsga2, population: 20}\nobjectives: [score:max, flops:min]\n";
  ASSERT_EQ(run_search(options(config)).status, "finished");
  SearchOptions two_workers = options(config + "parallel: {workers: 2, batch: 4}\n", "two.db");
  ASSERT_EQ(run_search(two_workers).status, "finished");
  const auto one = stored(), two = stored("two.db");
  ASSERT_EQ(one.size(), 120u);
  // The batch decides what is asked, not the workers: a batch of 4 asks as a batch of 1 does.
  ASSERT_EQ(two.size(), one.size());
  for (std::size_t i = 0; i < one.size(); ++i) EXPECT_EQ(one[i].arch, two[i].arch) << i;
  // FLOPs come from the space (the table has none), on every evaluation; children name parents.
  Nb201Space space;
  std::size_t with_parent = 0;
  for (const auto& e : one) {
    ASSERT_TRUE(e.result.metrics.count("flops")) << e.arch;
    EXPECT_DOUBLE_EQ(e.result.metrics.at("flops"), space.describe(e.arch, Task{{3, 32, 32}, 10, 0}).flops);
    with_parent += e.parent.has_value();
    if (e.seq < 20) EXPECT_FALSE(e.parent);
  }
  EXPECT_GT(with_parent, 50u);
  // The search improves on its random first generation: the front of all 120 dominates more.
  const std::vector<Objective> objectives{{"score", true}, {"flops", false}};
  const auto volume = [&](std::size_t upto) {
    std::vector<std::vector<double>> points;
    for (std::size_t i = 0; i < upto; ++i) points.push_back({one[i].result.metrics.at("score"), one[i].result.metrics.at("flops")});
    return hypervolume(points, objectives, {0, 3e8});
  };
  EXPECT_GT(volume(120), volume(20));
  // results pareto --hypervolume gives the same figure.
  const CliOutput cli = run_cli("results pareto --db " + path("run.db") + " --objectives score:max,flops:min --hypervolume --reference 0,3e8");
  ASSERT_EQ(cli.status, 0) << cli.out;
  EXPECT_NEAR(std::stod(cli.out.substr(cli.out.find(' ') + 1)), volume(120), 1e-6 * volume(120)) << cli.out;
  // The report's scatter shows the run's two objectives, FLOPs minimised.
  ASSERT_EQ(run_cli("report --db " + path("run.db") + " --out " + path("r.html")).status, 0);
  std::ifstream page(path("r.html"));
  const std::string html((std::istreambuf_iterator<char>(page)), std::istreambuf_iterator<char>());
  EXPECT_NE(html.find("\"scatter_x\":\"flops\",\"scatter_y\":\"score\""), std::string::npos);
  EXPECT_NE(html.find("\"flops\":\"min\""), std::string::npos);
  EXPECT_NE(run_cli("results pareto --db " + path("run.db") + " --objectives score:max,flops:min --hypervolume").out.find(
                "--hypervolume needs --reference with one value per objective (2)"),
            std::string::npos);
}

// On the real NB201 table (accuracy against FLOPs), both multi-objective strategies dominate more
// than random search with the same budget and seeds (docs/strategies.md has the 30-seed figures).
TEST_F(MultiObjectiveTest, MultiObjectiveStrategiesBeatRandomSearchOnTheNb201Table) {
  const std::string table = std::string(NASCENT_SOURCE_DIR) + "/../shared/data/nas-bench-201/nb201.csv";
  if (!fs::exists(table)) GTEST_SKIP() << table << " is absent (../shared/data)";
  const std::vector<Objective> objectives{{"cifar10_valid_12ep", true}, {"flops", false}};
  const auto mean_volume = [&](const std::string& strategy) {
    double total = 0;
    for (int seed = 0; seed < 5; ++seed) {
      const std::string db = strategy + std::to_string(seed) + ".db";
      SearchOptions o = search_options("seed: " + std::to_string(seed) + "\nspace: {name: nb201}\nstrategy: {name: " + strategy + "}\n"
                                       "evaluator: {name: table, key: arch, metric: cifar10_valid_12ep, path: " + table + "}\n"
                                       "objectives: [cifar10_valid_12ep:max, flops:min]\nbudget: {evaluations: 300}\n",
                                       db);
      if (strategy != "random") o.config.set("strategy.population=20");
      EXPECT_EQ(run_search(o).status, "finished");
      std::vector<std::vector<double>> points;
      for (const auto& e : stored(db)) points.push_back({e.result.metrics.at("cifar10_valid_12ep"), e.result.metrics.at("flops")});
      total += hypervolume(points, objectives, {80, 222860992});
    }
    return total / 5;
  };
  const double random = mean_volume("random");
  EXPECT_GT(mean_volume("nsga2"), random);
  EXPECT_GT(mean_volume("mo_evolution"), random);
}

TEST_F(MultiObjectiveTest, Nsga2WithoutCrossoverMutatesOneEdgeOfItsParent) {
  // NB201 defines a crossover: with it off, NSGA-II's children are single mutations of their parent.
  ASSERT_EQ(run_search(options("strategy: {name: nsga2, population: 20, crossover: 0}\nobjectives: [score:max, flops:min]\n", "m.db")).status,
            "finished");
  const auto mutated = stored("m.db");
  for (const auto& e : mutated) {
    if (!e.parent) continue;
    const auto child = Nb201Space::parse(e.arch), parent = Nb201Space::parse(mutated[static_cast<std::size_t>(*e.parent)].arch);
    int differ = 0;
    for (int edge = 0; edge < Nb201Space::kEdges; ++edge) differ += child[edge] != parent[edge];
    EXPECT_EQ(differ, 1) << e.arch;
  }
  // With crossover always on, children mix two parents: some differ from the first in several edges.
  ASSERT_EQ(run_search(options("strategy: {name: nsga2, population: 20, crossover: 1}\nobjectives: [score:max, flops:min]\n", "x.db")).status,
            "finished");
  const auto crossed = stored("x.db");
  int mixed = 0;
  for (const auto& e : crossed) {
    if (!e.parent) continue;
    const auto child = Nb201Space::parse(e.arch), parent = Nb201Space::parse(crossed[static_cast<std::size_t>(*e.parent)].arch);
    int differ = 0;
    for (int edge = 0; edge < Nb201Space::kEdges; ++edge) differ += child[edge] != parent[edge];
    mixed += differ > 1;
  }
  EXPECT_GT(mixed, 10);
}

// NB201 names 15,625 cells but has 6,466 distinct networks: NSGA-II never spends an evaluation on a
// cell isomorphic to one it has evaluated or queued, while single-edge mutation alone keeps
// producing such cells.
TEST(Nsga2Duplicates, NoChildIsANetworkAlreadyEvaluated) {
  const Nb201Space space;
  Nsga2 nsga2(space, Nsga2::Options{20, 0.0});
  Rng rng(9);
  std::set<std::string> fingerprints;
  for (int generation = 0; generation < 10; ++generation) {
    const std::vector<std::string> asked = nsga2.ask(20, rng);
    ASSERT_EQ(asked.size(), 20u);
    for (const auto& arch : asked) {
      EXPECT_TRUE(fingerprints.insert(space.fingerprint(arch)).second) << arch;
      const auto cell = Nb201Space::parse(arch);
      const double conv = std::count(cell.begin(), cell.end(), 3);
      nsga2.tell_objectives(arch, std::vector<double>{conv + 0.1 * std::count(cell.begin(), cell.end(), 1), -conv});
    }
  }
  std::set<std::string> walked;
  std::string arch = space.sample(rng);
  int repeats = 0;
  for (int step = 0; step < 200; ++step, arch = space.mutate(arch, rng)) repeats += !walked.insert(space.fingerprint(arch)).second;
  EXPECT_GT(repeats, 20);
}

TEST_F(MultiObjectiveTest, StaticConstraintsAreCheckedBeforeEvaluating) {
  const double limit = 5e7;
  ASSERT_EQ(run_search(options("strategy: {name: evolution, population: 10, sample: 3}\nconstraints: {flops: {max: 5e7}}\n")).status,
            "finished");
  const auto evaluations = stored();
  ASSERT_EQ(evaluations.size(), 120u);
  for (const auto& e : evaluations) EXPECT_LE(e.result.metrics.at("flops"), limit) << e.arch;
  // A constraint on a metric measured by the evaluator: stored, but never a parent or the best.
  fs::remove(path("run.db"));
  const SearchSummary summary = run_search(options("strategy: {name: evolution, population: 10, sample: 3}\nconstraints: {score: {max: 50}}\n"));
  EXPECT_LE(summary.best_fitness, 50);
  for (const auto& e : stored()) {
    if (e.parent) {
      EXPECT_LE(stored()[static_cast<std::size_t>(*e.parent)].result.metrics.at("score"), 50);
    }
  }
}

TEST_F(MultiObjectiveTest, LatencyIsTimedBeforeEvaluatingWhenAnObjectiveNamesIt) {
  SearchOptions o = options("strategy: {name: nsga2, population: 4}\nobjectives: [score:max, latency_ms:min]\n"
                            "latency: {batch_size: 2, warmup: 1, repeats: 3}\n");
  o.config.set("space.channels=4");
  o.config.set("space.cells_per_stage=1");
  o.config.set("budget.evaluations=8");
  ASSERT_EQ(run_search(o).status, "finished");
  const auto evaluations = stored();
  ASSERT_EQ(evaluations.size(), 8u);
  for (const auto& e : evaluations) {
    ASSERT_TRUE(e.result.metrics.count("latency_ms")) << e.arch;
    EXPECT_GT(e.result.metrics.at("latency_ms"), 0);
    EXPECT_TRUE(std::isfinite(e.result.metrics.at("latency_ms")));
  }
  fs::remove(path("run.db"));
  EXPECT_ERROR(run_search(options("strategy: {name: nsga2}\nobjectives: [score:max, latency_ms:min]\nlatency: {device: tpu}\n")),
               "config: latency.device 'tpu': expected cpu, cuda or cuda:N");
  EXPECT_ERROR(run_search(options("strategy: {name: nsga2}\nobjectives: [score:max, latency_ms:min]\nlatency: {repeats: 0}\n")),
               "batch_size and repeats must be at least 1");
  EXPECT_ERROR(run_search(options("strategy: {name: nsga2}\nobjectives: [score:max, latency_ms:min]\nlatency: {repeat: 3}\n")),
               "unknown key 'latency.repeat'");
  EXPECT_FALSE(fs::exists(path("run.db")));
}

TEST_F(MultiObjectiveTest, BadObjectivesAndConstraintsAreOneLineBeforeAnythingIsWritten) {
  EXPECT_ERROR(run_search(options("strategy: {name: nsga2}\nobjectives: [score:max, latency:min]\n")),
               "config: objectives: latency is not reported by the evaluator (it reports: score; the space computes params, flops, latency_ms)");
  EXPECT_ERROR(run_search(options("strategy: {name: nsga2}\nobjectives: [score:max]\nconstraints: {memory: {max: 3}}\n")),
               "config: constraints.memory is not reported by the evaluator");
  EXPECT_ERROR(run_search(options("strategy: {name: nsga2}\nobjectives: [score:best]\n")), "expected metric:max or metric:min, got 'score:best'");
  EXPECT_ERROR(run_search(options("strategy: {name: nsga2}\nobjectives: [score:max, score:min]\n")), "score is listed twice");
  EXPECT_ERROR(run_search(options("strategy: {name: nsga2}\nobjectives: [score:max]\nobjective: {metric: score}\n")),
               "give objective or objectives, not both");
  EXPECT_ERROR(run_search(options("strategy: {name: random}\nconstraints: {flops: {maximum: 3}}\n")), "unknown key 'constraints.flops.maximum'");
  EXPECT_ERROR(run_search(options("strategy: {name: random}\nconstraints: {flops: {min: 3, max: 1}}\n")), "min is above max");
  EXPECT_ERROR(run_search(options("strategy: {name: random}\nconstraints: [flops]\n")), "expected a map");
  // A metric without a direction is not maximised by default (flops would be, silently).
  EXPECT_ERROR(run_search(options("strategy: {name: nsga2}\nobjectives: [score:max, flops]\n")),
               "expected metric:max or metric:min, got 'flops'");
  EXPECT_ERROR(run_search(options("strategy: {name: random}\nconstraints: {flops: {max: .nan}}\n")),
               "constraints.flops.max must be a finite number");
  EXPECT_FALSE(fs::exists(path("run.db")));
}

}  // namespace
}  // namespace nascent
