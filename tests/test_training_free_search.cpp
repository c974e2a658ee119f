#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/graph.hpp"
#include "datasets/dataset.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"
#include "search_spaces/nb201/nb201.hpp"
#include "strategies/robot.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;

TEST(MetricPool, MinMaxNormalisationAndRanking) {
  MetricPool pool;
  pool.metrics = {"a", "b"};
  pool.add("x", {{"a", 1}, {"b", 5}});
  pool.add("y", {{"a", 3}, {"b", 5}});
  pool.add("z", {{"a", NAN}, {"b", 5}});
  const MetricPool n = min_max_normalised(pool);
  EXPECT_EQ(n.values[0][0], 0);
  EXPECT_EQ(n.values[1][0], 1);
  EXPECT_TRUE(std::isnan(n.values[2][0]));
  EXPECT_EQ(n.values[0][1], 5);  // a constant metric is left as it is
  // NaN contributes nothing: z scores 5 * w_b, like x and y's b term.
  EXPECT_EQ(rank_by_weights(n, {1, 0}).front(), 1u);
  EXPECT_EQ(rank_by_weights(n, {-1, 0}).front(), 2u);  // ties (x and z at 0) keep the later first
}

// A pool where metric "good" is the quality plus small noise and "bad" is unrelated: RoBoT must
// learn a positive weight on "good" and find the best candidate within its query budget.
MetricPool synthetic_pool(std::size_t size, std::map<std::string, double>& quality) {
  Nb201Space space;
  Rng rng(3);
  MetricPool pool;
  pool.metrics = {"bad", "good"};
  for (const auto& arch : pool_candidates(space, size, rng)) {
    const double q = uniform_real(rng);
    quality[arch] = q;
    pool.add(arch, {{"good", q + 0.05 * uniform_real(rng)}, {"bad", uniform_real(rng)}});
  }
  return pool;
}

std::vector<std::string> run_robot(const MetricPool& pool, const std::map<std::string, double>& quality,
                                   std::size_t queries, std::uint64_t seed, std::unique_ptr<Robot>& robot) {
  static const Nb201Space space;
  Robot::Options options;
  options.metrics = {"good", "bad"};
  options.queries = queries;
  options.random_points = 500;
  robot = std::make_unique<Robot>(space, options);
  robot->set_pool(pool);
  Rng rng(seed);
  std::vector<std::string> asked;
  std::set<std::string> distinct;
  for (int guard = 0; guard < 1000; ++guard) {
    auto batch = robot->ask(1, rng);
    if (batch.empty()) break;
    asked.push_back(batch[0]);
    distinct.insert(batch[0]);
    robot->tell(batch[0], quality.at(batch[0]));
  }
  EXPECT_EQ(distinct.size(), std::min(queries, pool.size()));
  return asked;
}

TEST(Robot, LearnsTheInformativeMetricAndQueriesExactlyTDistinctCandidates) {
  std::map<std::string, double> quality;
  const MetricPool pool = synthetic_pool(300, quality);
  std::unique_ptr<Robot> robot, again;
  const auto asked = run_robot(pool, quality, 15, 11, robot);
  EXPECT_EQ(robot->bo_evaluations(), 15u);
  // Parameters are in sorted name order: bad, good.
  EXPECT_GT(robot->best_weights()[1], 0);
  double best_found = 0, best_possible = 0;
  for (const auto& arch : asked) best_found = std::max(best_found, quality.at(arch));
  for (const auto& [arch, q] : quality) best_possible = std::max(best_possible, q);
  EXPECT_GT(best_found, best_possible - 0.06);
  EXPECT_EQ(run_robot(pool, quality, 15, 11, again), asked) << "same seed, same queries";
}

TEST(TrainingFree, RanksByWeightedNormalisedScoresWithNonFiniteLast) {
  Nb201Space space;
  TrainingFreeSearch::Options options;
  options.metrics = {"m"};
  options.top_k = 3;
  TrainingFreeSearch search(space, options);
  Rng rng(0);
  auto pool = search.score_pool(rng);
  ASSERT_EQ(pool.size(), 15625u);  // pool 0: the whole (enumerable) space
  search.tell_scores(pool[0], {{"m", NAN}}, true);
  search.tell_scores(pool[1], {{"m", 2}}, true);
  search.tell_scores(pool[2], {{"m", 3}}, true);
  search.tell_scores(pool[3], {{"m", 1}}, false);  // a failed scoring counts as missing
  EXPECT_EQ(search.ask(10, rng), (std::vector<std::string>{pool[2], pool[1], pool[0]}));
  EXPECT_TRUE(search.ask(10, rng).empty());
}

class TrainingFreeRunTest : public ScratchDirTest {};

TEST_F(TrainingFreeRunTest, ScoresThePoolThenTrainsTheTopCandidatesAndStoresBoth) {
  SearchOptions options;
  options.config = Config::parse(R"(
seed: 1
space: {name: nb201, channels: 4, cells_per_stage: 1}
strategy: {name: training_free, metrics: [synflow, nwot], weights: [1, 0.5], pool: 6, top_k: 2}
predictor:
  name: proxy
  metrics: [synflow, nwot, params]
  batch_size: 8
  dataset: {name: synthetic, shape: [3, 8, 8], classes: 4, train: 32, val: 16, test: 16}
evaluator:
  name: train
  steps: 2
  batch_size: 8
  latency: false
  dataset: {name: synthetic, shape: [3, 8, 8], classes: 4, train: 32, val: 16, test: 16}
budget: {evaluations: 10}
)");
  options.db_path = path("run.db");
  options.quiet = true;
  const SearchSummary summary = run_search(options);
  EXPECT_EQ(summary.evaluations, 2);
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  const auto evaluations = store.evaluations(summary.run);
  ASSERT_EQ(evaluations.size(), 8u);
  std::set<std::string> scored;
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(evaluations[i].stage, Stage::Score);
    EXPECT_TRUE(evaluations[i].result.metrics.count("synflow"));
    EXPECT_TRUE(evaluations[i].result.metrics.count("params"));
    scored.insert(evaluations[i].arch);
  }
  for (std::size_t i = 6; i < 8; ++i) {
    EXPECT_EQ(evaluations[i].stage, Stage::Query);
    EXPECT_TRUE(scored.count(evaluations[i].arch));
    EXPECT_TRUE(evaluations[i].result.metrics.count("val_acc"));
    EXPECT_TRUE(evaluations[i].result.metrics.count("synflow")) << "a queried candidate keeps its scores";
  }

  // Resuming the finished run replays everything and evaluates nothing new.
  options.resume = true;
  const SearchSummary resumed = run_search(options);
  EXPECT_EQ(resumed.evaluated_now, 0);
  EXPECT_EQ(resumed.best_arch, summary.best_arch);
}

TEST_F(TrainingFreeRunTest, APoolWithoutAPredictorSectionIsAOneLineError) {
  SearchOptions options;
  options.config = Config::parse(
      "space: {name: nb201}\nstrategy: {name: training_free, metrics: [synflow], pool: 4, top_k: 1}\n"
      "evaluator: {name: train}\nbudget: {evaluations: 1}\n");
  options.db_path = path("run.db");
  options.quiet = true;
  EXPECT_ERROR(run_search(options), "add a `predictor` section");
}

// RoBoT with the published NAS-Bench-Suite-Zero proxies and the 12-epoch validation accuracy as
// the query reaches the paper's result (94.36) within T = 20 queries.
TEST_F(TrainingFreeRunTest, RobotOnTheNb201TableReachesThePublishedAccuracy) {
  const fs::path data = fs::path(NASCENT_SOURCE_DIR) / ".." / "shared" / "data" / "nas-bench-201";
  if (!fs::exists(data / "nb201.csv") || !fs::exists(data / "zc_proxies_cifar10.csv"))
    GTEST_SKIP() << "../shared/data/nas-bench-201 not present";
  SearchOptions options;
  options.config = Config::parse(
      "seed: 10\nspace: {name: nb201}\n"
      "strategy: {name: robot, metrics: [grad_norm, snip, grasp, fisher, synflow, jacov], queries: 20}\n"
      "evaluator: {name: table, key: arch, metric: cifar10_valid_12ep, report: [cifar10_test_200ep], cost: train_seconds_12ep}\n"
      "budget: {evaluations: 20}\n");
  options.config.set("strategy.metrics_table=" + (data / "zc_proxies_cifar10.csv").string());
  options.config.set("evaluator.path=" + (data / "nb201.csv").string());
  options.db_path = path("robot.db");
  options.quiet = true;
  const SearchSummary summary = run_search(options);
  EXPECT_EQ(summary.evaluations, 20);
  EXPECT_GE(summary.best_metrics.at("cifar10_test_200ep"), 94.3);
}

TEST_F(TrainingFreeRunTest, MetricTablesAreCheckedWithLineNumbers) {
  Nb201Space space;
  const std::string cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|";
  write("t.csv", "arch,m\n" + cell + ",1.5\n|bogus|,2\n");
  EXPECT_ERROR(read_metric_table(path("t.csv"), "arch", {"m"}, space), "line 3");
  write("u.csv", "arch,m\n" + cell + ",abc\n");
  EXPECT_ERROR(read_metric_table(path("u.csv"), "arch", {"m"}, space), "'abc' is not a number");
  EXPECT_ERROR(read_metric_table(path("u.csv"), "arch", {"n"}, space), "no column 'n'");
  write("v.csv", "arch,m\n" + cell + ",nan\n");
  EXPECT_TRUE(std::isnan(read_metric_table(path("v.csv"), "arch", {"m"}, space).values[0][0]));
}

}  // namespace
}  // namespace nascent

namespace nascent {
namespace {

// Bad training-free settings are one-line errors before anything runs; the database keeps the
// runs it already holds.
TEST_F(TrainingFreeRunTest, BadSettingsAreOneLineErrorsAndKeepStoredRuns) {
  const std::string yaml =
      "seed: 1\nspace: {name: nb201, channels: 4, cells_per_stage: 1}\n"
      "strategy: {name: training_free, metrics: [synflow], pool: 3, top_k: 0}\n"
      "predictor: {name: proxy, metrics: [synflow], batch_size: 4, dataset: {name: synthetic, shape: [3, 8, 8]}}\n"
      "evaluator: {name: train, steps: 1, dataset: {name: synthetic, shape: [3, 8, 8]}}\n"
      "budget: {evaluations: 1}\n";
  SearchOptions good;
  good.config = Config::parse(yaml);
  good.db_path = path("run.db");
  good.quiet = true;
  run_search(good);
  const auto bad = [&](const std::string& assignment) {
    SearchOptions options = good;
    options.config = Config::parse(yaml);
    options.config.set(assignment);
    return error_of([&] { run_search(options); });
  };
  const auto expect_one_line = [](const std::string& message, const std::string& fragment) {
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  };
  expect_one_line(bad("strategy.weights=[1, 2]"), "one weight per metric");
  expect_one_line(bad("strategy.top_k=-1"), "strategy.top_k: -1 is out of range (>= 0)");
  expect_one_line(bad("strategy.metrics=[]"), "strategy.metrics must name at least one predictor");
  expect_one_line(bad("predictor.metrics=synflow"), "metrics must be a non-empty list");
  expect_one_line(bad("predictor.metrics=[synflw]"), "unknown predictor 'synflw'");
  expect_one_line(bad("predictor.batch_size=1"), "predictor.batch_size: 1 is out of range (>= 2)");
  expect_one_line(bad("strategy={name: robot}"), "strategy.metrics must list RoBoT's base metrics");
  expect_one_line(bad("strategy={name: robot, metrics: [synflow], queries: -2}"), "strategy.queries: -2 is out of range (>= 0)");
  expect_one_line(bad("strategy={name: robot, metrics: [a, a]}"), "lists a metric twice");
  expect_one_line(bad("strategy={name: robot, metrics: [a], metrics_table: nowhere.csv}"), "cannot read the file");
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  ASSERT_EQ(store.runs().size(), 1u);
  EXPECT_EQ(store.evaluations(store.runs()[0].id).size(), 3u);
}

TEST(FashionMnistPad, BadPaddingIsAOneLineError) {
  FashionMnistOptions options;
  options.pad = 20;
  EXPECT_ERROR(load_fashion_mnist(options), "dataset.pad must be 0 or a size of at least 28");
  options.pad = 32;
  options.resize = 32;
  EXPECT_ERROR(load_fashion_mnist(options), "pad and dataset.resize exclude each other");
}

}  // namespace
}  // namespace nascent
