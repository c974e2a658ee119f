#include <gtest/gtest.h>

#include "tests/test_support.hpp"

#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "core/graph.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"
#include "search_spaces/nb201/nb201.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;

class SearchTest : public ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    // A stand-in benchmark table: every NB201 cell with a deterministic pseudo-random score.
    std::ofstream csv(dir_ / "table.csv");
    csv << "arch,score,cost\n";
    for (const auto& arch : Nb201Space().enumerate())
      csv << arch << "," << (fnv1a(arch) % 10000) / 100.0 << "," << 1 + fnv1a(arch + "c") % 7 << "\n";
  }

  SearchOptions options(const std::string& strategy, int evaluations, const std::string& db = "run.db") {
    SearchOptions o;
    o.config = Config::parse("seed: 3\nspace: {name: nb201}\nevaluator: {name: table, key: arch, metric: score, cost: cost}\n");
    o.config.set("evaluator.path=" + (dir_ / "table.csv").string());
    o.config.set("strategy.name=" + strategy);
    if (strategy == "evolution") {
      o.config.set("strategy.population=10");
      o.config.set("strategy.sample=3");
    }
    o.config.set("budget.evaluations=" + std::to_string(evaluations));
    o.db_path = (dir_ / db).string();
    o.quiet = true;
    return o;
  }

  std::vector<std::string> archs(const std::string& db) {
    std::vector<std::string> result;
    ResultStore store((dir_ / db).string(), ResultStore::Mode::ReadOnly);
    auto evaluations = store.evaluations(store.latest_run()->id);
    std::sort(evaluations.begin(), evaluations.end(), [](auto& a, auto& b) { return a.seq < b.seq; });
    for (const auto& e : evaluations) result.push_back(e.arch);
    return result;
  }

};

TEST_F(SearchTest, StoresEveryEvaluationAndStopsAtTheBudget) {
  const SearchSummary summary = run_search(options("evolution", 40));
  EXPECT_EQ(summary.status, "finished");
  EXPECT_EQ(summary.evaluations, 40);
  ResultStore store((dir_ / "run.db").string(), ResultStore::Mode::ReadOnly);
  const auto evaluations = store.evaluations(summary.run);
  ASSERT_EQ(evaluations.size(), 40u);
  std::set<std::string> distinct;
  double best = -1;
  for (const auto& e : evaluations) {
    distinct.insert(e.arch);
    EXPECT_EQ(e.fingerprint, Nb201Space().fingerprint(e.arch));
    ASSERT_TRUE(e.fitness.has_value());
    EXPECT_EQ(*e.fitness, e.result.metrics.at("score"));
    best = std::max(best, *e.fitness);
  }
  EXPECT_EQ(distinct.size(), 40u);  // repeats are reused, not stored twice
  EXPECT_EQ(summary.best_fitness, best);
  EXPECT_EQ(store.run(summary.run)->status, "finished");
}

TEST_F(SearchTest, CostAndMinimisationBudgets) {
  SearchOptions o = options("random", 1000);
  o.config.set("budget.cost=50");
  o.config.set("objective.mode=min");
  const SearchSummary summary = run_search(o);
  ResultStore store(o.db_path, ResultStore::Mode::ReadOnly);
  double cost = 0, lowest = 1e9;
  for (const auto& e : store.evaluations(summary.run)) {
    cost += e.result.cost;
    lowest = std::min(lowest, e.result.metrics.at("score"));
  }
  EXPECT_GE(cost, 50);
  EXPECT_LT(cost, 50 + 7);  // stops as soon as the budget is reached
  EXPECT_EQ(summary.best_fitness, lowest);
}

TEST_F(SearchTest, SameSeedSameRunWhateverTheNumberOfWorkers) {
  SearchOptions sequential = options("evolution", 30, "a.db");
  sequential.config.set("parallel.batch=4");
  SearchOptions parallel = options("evolution", 30, "b.db");
  parallel.config.set("parallel.workers=4");
  run_search(sequential);
  run_search(parallel);
  EXPECT_EQ(archs("a.db"), archs("b.db"));
  SearchOptions other_seed = options("evolution", 30, "c.db");
  other_seed.seed = 4;
  run_search(other_seed);
  EXPECT_NE(archs("a.db"), archs("c.db"));
}

TEST_F(SearchTest, ResumeContinuesWithoutReevaluating) {
  run_search(options("evolution", 25, "full.db"));
  run_search(options("evolution", 12, "part.db"));
  const auto first_part = archs("part.db");
  SearchOptions resumed = options("evolution", 25, "part.db");
  resumed.resume = true;
  const SearchSummary summary = run_search(resumed);
  EXPECT_EQ(summary.evaluated_now, 13);
  EXPECT_EQ(summary.evaluations, 25);
  const auto all = archs("part.db");
  EXPECT_EQ(all, archs("full.db"));
  EXPECT_TRUE(std::equal(first_part.begin(), first_part.end(), all.begin()));
  ResultStore store(resumed.db_path, ResultStore::Mode::ReadOnly);
  EXPECT_EQ(store.runs().size(), 1u);
}

TEST_F(SearchTest, ResumeRefusesAChangedConfig) {
  run_search(options("evolution", 5));
  SearchOptions changed = options("evolution", 10);
  changed.config.set("strategy.sample=2");
  changed.resume = true;
  EXPECT_THROW(run_search(changed), Error);
  SearchOptions wrong_seed = options("evolution", 10);
  wrong_seed.resume = true;
  wrong_seed.seed = 99;
  EXPECT_THROW(run_search(wrong_seed), Error);
  EXPECT_EQ(archs("run.db").size(), 5u);
}

TEST_F(SearchTest, ConfigMistakesAreOneLineErrors) {
  auto message = [&](const std::string& assignment) {
    SearchOptions o = options("evolution", 5);
    o.config.set(assignment);
    try {
      run_search(o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("strategy.populaton=3").find("unknown key 'strategy.populaton'"), std::string::npos);
  EXPECT_NE(message("budget.evaluations=many").find("budget.evaluations"), std::string::npos);
  EXPECT_NE(message("space.name=nope").find("unknown search space 'nope'"), std::string::npos);
  EXPECT_NE(message("objective.metric=accuracy").find("objective.metric 'accuracy'"), std::string::npos);
  EXPECT_NE(message("parallel.workers=0").find("parallel.workers"), std::string::npos);
  for (const std::string& m : {message("strategy.populaton=3"), message("objective.metric=accuracy")})
    EXPECT_EQ(m.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace nascent
