#include <gtest/gtest.h>

#include "tests/scratch_dir.hpp"
#include <sqlite3.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.hpp"
#include "results/query.hpp"
#include "results/store.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;

class ResultsTest : public ScratchDirTest {
 protected:

  static StoredEvaluation evaluation(std::int64_t run, std::int64_t seq, const std::string& arch,
                                     std::map<std::string, double> metrics, bool ok = true) {
    StoredEvaluation e;
    e.run = run;
    e.seq = seq;
    e.space = "nb201";
    e.arch = arch;
    e.fingerprint = "f" + arch;
    e.result.ok = ok;
    e.result.error = ok ? "" : "boom, \"quoted\"";
    e.result.metrics = std::move(metrics);
    e.result.cost = 1.5;
    if (ok) e.fitness = e.result.metrics.count("acc") ? e.result.metrics["acc"] : 0.0;
    return e;
  }

  static std::string bytes(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  static void run_sql(const std::string& file, const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }

  static std::string refusal(const std::string& file, ResultStore::Mode mode = ResultStore::Mode::ReadWrite) {
    try {
      ResultStore store(file, mode);
    } catch (const Error& e) {
      return e.what();
    }
    return "accepted";
  }

};

TEST_F(ResultsTest, RunsEvaluationsAndMetricsRoundTrip) {
  const double inf = std::numeric_limits<double>::infinity();
  std::int64_t run = 0;
  {
    ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
    run = store.begin_run("seed: 1\n", 18446744073709551615ULL, "nb201", "evolution", "table");
    store.add_evaluation(evaluation(run, 0, "a", {{"acc", 90.5}, {"nan", std::nan("")}, {"inf", inf}, {"ninf", -inf}}));
    store.add_evaluation(evaluation(run, 1, "b", {}, false));
    store.finish_run(run, "finished");
  }
  ResultStore store(path("r.db"), ResultStore::Mode::ReadOnly);
  const auto r = store.run(run);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->seed, 18446744073709551615ULL);
  EXPECT_EQ(r->status, "finished");
  EXPECT_EQ(r->config, "seed: 1\n");
  EXPECT_EQ(r->evaluations, 2);
  EXPECT_FALSE(r->ended_at.empty());
  EXPECT_NE(r->versions.find("libtorch"), std::string::npos);
  const auto evaluations = store.evaluations(run);
  ASSERT_EQ(evaluations.size(), 2u);
  const auto& m = evaluations[0].result.metrics;
  EXPECT_EQ(m.at("acc"), 90.5);
  EXPECT_TRUE(std::isnan(m.at("nan")));
  EXPECT_EQ(m.at("inf"), inf);
  EXPECT_EQ(m.at("ninf"), -inf);
  EXPECT_EQ(evaluations[0].fingerprint, "fa");
  EXPECT_FALSE(evaluations[1].result.ok);
  EXPECT_FALSE(evaluations[1].fitness);
  EXPECT_EQ(evaluations[1].result.error, "boom, \"quoted\"");
}

TEST_F(ResultsTest, ReopeningAppendsAndKeepsEarlierRuns) {
  {
    ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
    store.add_evaluation(evaluation(store.begin_run("", 1, "nb201", "random", "table"), 0, "a", {{"acc", 1}}));
  }
  {
    ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
    store.add_evaluation(evaluation(store.begin_run("", 2, "nb201", "random", "table"), 0, "a", {{"acc", 2}}));
  }
  ResultStore store(path("r.db"), ResultStore::Mode::ReadOnly);
  EXPECT_EQ(store.runs().size(), 2u);
  EXPECT_EQ(store.evaluations().size(), 2u);
  EXPECT_EQ(store.latest_run()->seed, 2u);
}

TEST_F(ResultsTest, DuplicateSequenceNumbersAreRejectedWithoutPartialWrites) {
  ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
  const auto run = store.begin_run("", 1, "nb201", "random", "table");
  store.add_evaluation(evaluation(run, 0, "a", {{"acc", 1}}));
  EXPECT_THROW(store.add_evaluation(evaluation(run, 0, "b", {{"acc", 2}})), Error);
  EXPECT_EQ(store.evaluations(run).size(), 1u);
}

TEST_F(ResultsTest, RefusesForeignNewerCorruptAndLockedFilesWithoutTouchingThem) {
  run_sql(path("foreign.db"), "CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('x');");
  run_sql(path("newer.db"), "PRAGMA application_id = 1851880291; PRAGMA user_version = 99; CREATE TABLE t (x);");
  { std::ofstream(path("text.db")) << "this is not a database, just some text that is long enough to be a header....."; }
  for (const auto& [name, expected] :
       std::vector<std::pair<std::string, std::string>>{{"foreign.db", "not a nascent results database"},
                                                        {"newer.db", "newer nascent (schema 99"},
                                                        {"text.db", "is not a database"}}) {
    const std::string before = bytes(path(name));
    const std::string message = refusal(path(name));
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_NE(message.find(name), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
    EXPECT_EQ(bytes(path(name)), before) << name;
    EXPECT_FALSE(fs::exists(path(name) + "-wal")) << name;
  }
  EXPECT_NE(refusal(path("missing.db"), ResultStore::Mode::ReadOnly).find("no such database"), std::string::npos);
  EXPECT_NE(refusal(dir_.string()).find("directory"), std::string::npos);
}

TEST_F(ResultsTest, LockedDatabaseIsAClearError) {
  { ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite); }
  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open(path("r.db").c_str(), &holder), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(holder, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;", nullptr, nullptr, nullptr), SQLITE_OK);
  const std::string message = refusal(path("r.db"));
  EXPECT_NE(message.find("locked"), std::string::npos) << message;
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
  EXPECT_EQ(refusal(path("r.db")), "accepted");
}

TEST_F(ResultsTest, TopKRanksAndSkipsFailuresAndMissingValues) {
  std::vector<StoredEvaluation> all{evaluation(1, 0, "a", {{"acc", 3}, {"params", 10}}),
                                    evaluation(1, 1, "b", {{"acc", 9}, {"params", 30}}),
                                    evaluation(1, 2, "c", {}, false), evaluation(1, 3, "d", {{"params", 5}}),
                                    evaluation(1, 4, "e", {{"acc", 6}, {"params", 20}})};
  auto best = top_k(all, 2, "acc", true);
  ASSERT_EQ(best.size(), 2u);
  EXPECT_EQ(best[0].arch, "b");
  EXPECT_EQ(best[1].arch, "e");
  auto smallest = top_k(all, 10, "params", false);
  ASSERT_EQ(smallest.size(), 4u);
  EXPECT_EQ(smallest[0].arch, "d");
}

TEST_F(ResultsTest, ParetoFrontKeepsOnlyNonDominated) {
  std::vector<StoredEvaluation> all{evaluation(1, 0, "small-weak", {{"acc", 80}, {"params", 1}}),
                                    evaluation(1, 1, "big-strong", {{"acc", 95}, {"params", 10}}),
                                    evaluation(1, 2, "dominated", {{"acc", 85}, {"params", 12}}),
                                    evaluation(1, 3, "middle", {{"acc", 90}, {"params", 5}}),
                                    evaluation(1, 4, "duplicate-of-middle", {{"acc", 90}, {"params", 5}})};
  const auto front = pareto_front(all, parse_objectives("acc:max,params:min"));
  std::set<std::string> names;
  for (const auto& e : front) names.insert(e.arch);
  EXPECT_EQ(names, (std::set<std::string>{"small-weak", "big-strong", "middle", "duplicate-of-middle"}));
  EXPECT_THROW(parse_objectives("acc:max"), Error);
  EXPECT_THROW(parse_objectives("acc:up,params:min"), Error);
}

TEST_F(ResultsTest, JsonAndCsvCarryEveryField) {
  std::vector<StoredEvaluation> all{evaluation(7, 0, "a,b", {{"acc", 91}, {"nan", std::nan("")}}),
                                    evaluation(7, 1, "c", {}, false)};
  const auto json = nlohmann::json::parse(evaluations_to_json(all));
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0]["run"], 7);
  EXPECT_EQ(json[0]["space"], "nb201");
  EXPECT_EQ(json[0]["arch"], "a,b");
  EXPECT_EQ(json[0]["metrics"]["acc"], 91);
  EXPECT_TRUE(json[0]["metrics"]["nan"].is_null());
  EXPECT_FALSE(json[1]["ok"]);
  const std::string csv = evaluations_to_csv(all);
  EXPECT_NE(csv.find("\"a,b\""), std::string::npos);
  EXPECT_NE(csv.find("\"boom, \"\"quoted\"\"\""), std::string::npos);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "run,seq,space,arch,fingerprint,ok,error,fitness,cost,seconds,device,created_at,acc,nan");
}

}  // namespace
}  // namespace nascent
