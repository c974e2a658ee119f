#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>
#include <thread>

#include "core/error.hpp"
#include "results/store.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;

constexpr double kInf = std::numeric_limits<double>::infinity();

class ResultStoreTest : public ScratchDirTest {
 protected:
  static StoredEvaluation evaluation(std::int64_t run, std::int64_t seq, const std::string& arch,
                                     std::map<std::string, double> metrics = {}, bool ok = true) {
    StoredEvaluation e;
    e.run = run;
    e.seq = seq;
    e.space = "nb201";
    e.arch = arch;
    e.fingerprint = "fp-" + arch;
    e.result.ok = ok;
    e.result.error = ok ? "" : "shape mismatch: 3x32x32 vs \"1x28x28\"\nsecond line";
    e.result.metrics = std::move(metrics);
    e.result.cost = 12.25;
    e.result.seconds = 3.5;
    e.result.device = "cuda:1";
    e.elapsed = 100.0 + static_cast<double>(seq);
    if (ok) e.fitness = 0.5 + static_cast<double>(seq);
    return e;
  }

  static std::string bytes(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // Runs SQL with the plain sqlite3 API, as another program would.
  static void sql(const std::string& file, const std::string& statements) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    char* message = nullptr;
    const int rc = sqlite3_exec(db, statements.c_str(), nullptr, nullptr, &message);
    const std::string text = message ? message : "";
    sqlite3_free(message);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << text;
  }

  static std::string query_text(const std::string& file, const std::string& query) {
    sqlite3* db = nullptr;
    std::string value = "<error>";
    if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(db, query.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        const auto* text = sqlite3_column_text(stmt, 0);
        value = text ? reinterpret_cast<const char*>(text) : "NULL";
      }
      sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return value;
  }

  // The Error message of opening `file`, or "accepted".
  static std::string refusal(const std::string& file, ResultStore::Mode mode = ResultStore::Mode::ReadWrite) {
    try {
      ResultStore store(file, mode);
    } catch (const Error& e) {
      return e.what();
    }
    return "accepted";
  }

  // Every file in the scratch folder with its contents, to show that a refusal left no trace.
  // SQLite's -shm file is left out: any reader of a WAL database may create it and update its
  // read marks, and it holds no data.
  std::map<std::string, std::string> snapshot() const {
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();
      const bool shm = name.size() > 4 && name.compare(name.size() - 4, 4, "-shm") == 0;
      if (!entry.is_regular_file() || shm) continue;
      const std::string content = bytes(entry.path().string());
      // Size and digest rather than the bytes keep a failure message readable.
      files[name] = std::to_string(content.size()) + " bytes, hash " + std::to_string(std::hash<std::string>{}(content));
    }
    return files;
  }

  void expect_refused_untouched(const std::string& name, const std::string& expected,
                                ResultStore::Mode mode = ResultStore::Mode::ReadWrite) {
    const auto before = snapshot();
    const std::string message = refusal(path(name), mode);
    EXPECT_NE(message.find(expected), std::string::npos) << name << ": " << message;
    EXPECT_NE(message.find(path(name)), std::string::npos) << "the message should name the file: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_EQ(snapshot(), before) << name << " or a file next to it changed";
  }
};

TEST_F(ResultStoreTest, RunsRoundTripIncludingFullRangeSeeds) {
  const std::string config = "seed: 7\nspace: {name: nb201}\nnote: \"naïve, quoted\"\n";
  const std::vector<std::uint64_t> seeds{0, 1, 9223372036854775807ULL, 9223372036854775808ULL,
                                         18446744073709551615ULL};
  std::vector<std::int64_t> ids;
  {
    ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
    for (auto seed : seeds) ids.push_back(store.begin_run(config, seed, "nb201", "evolution", "table"));
    store.finish_run(ids[0], "finished");
    store.finish_run(ids[1], "interrupted");
  }
  ResultStore store(path("r.db"), ResultStore::Mode::ReadOnly);
  const auto runs = store.runs();
  ASSERT_EQ(runs.size(), seeds.size());
  const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    EXPECT_EQ(runs[i].id, ids[i]);
    EXPECT_EQ(runs[i].seed, seeds[i]);
    EXPECT_EQ(runs[i].config, config);
    EXPECT_EQ(runs[i].space, "nb201");
    EXPECT_EQ(runs[i].strategy, "evolution");
    EXPECT_EQ(runs[i].evaluator, "table");
    EXPECT_EQ(runs[i].evaluations, 0);
    EXPECT_TRUE(std::regex_match(runs[i].started_at, iso)) << runs[i].started_at;
  }
  EXPECT_EQ(runs[0].status, "finished");
  EXPECT_TRUE(std::regex_match(runs[0].ended_at, iso)) << runs[0].ended_at;
  EXPECT_EQ(runs[1].status, "interrupted");
  EXPECT_EQ(runs[2].status, "running");
  EXPECT_EQ(runs[2].ended_at, "");
  EXPECT_EQ(store.latest_run()->id, ids.back());
  EXPECT_EQ(store.run(ids[3])->seed, 9223372036854775808ULL);
  EXPECT_FALSE(store.run(ids.back() + 1));

  const std::string versions = runs[0].versions;
  EXPECT_EQ(versions.rfind(std::string("nascent ") + NASCENT_VERSION + ";", 0), 0u) << versions;
  EXPECT_NE(versions.find("; libtorch "), std::string::npos) << versions;
  EXPECT_NE(versions.find(std::string("; sqlite ") + sqlite3_libversion()), std::string::npos) << versions;
}

TEST_F(ResultStoreTest, EvaluationsAndMetricsRoundTripIncludingNanAndInfinities) {
  std::int64_t run = 0;
  const std::map<std::string, double> metrics{{"val_acc", 91.23456789012345},
                                              {"loss", std::nan("")},
                                              {"latency_ms", kInf},
                                              {"margin", -kInf},
                                              {"tiny", 5e-324},
                                              {"huge", 1.7976931348623157e308},
                                              {"params", 1234567},
                                              {"zero", -0.0}};
  {
    ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
    run = store.begin_run("", 3, "nb201", "random", "train");
    store.add_evaluation(evaluation(run, 0, "|a|", metrics));
    store.add_evaluation(evaluation(run, 1, "|b|", {}, false));
    auto nan_cost = evaluation(run, 2, "|c|", {{"val_acc", 1}});
    nan_cost.result.cost = std::nan("");
    nan_cost.fitness = -kInf;
    store.add_evaluation(nan_cost);
  }
  ResultStore store(path("r.db"), ResultStore::Mode::ReadOnly);
  EXPECT_EQ(store.run(run)->evaluations, 3);
  const auto all = store.evaluations(run);
  ASSERT_EQ(all.size(), 3u);

  const auto& a = all[0];
  EXPECT_EQ(a.run, run);
  EXPECT_EQ(a.seq, 0);
  EXPECT_EQ(a.space, "nb201");
  EXPECT_EQ(a.arch, "|a|");
  EXPECT_EQ(a.fingerprint, "fp-|a|");
  EXPECT_TRUE(a.result.ok);
  EXPECT_EQ(a.result.error, "");
  ASSERT_TRUE(a.fitness);
  EXPECT_EQ(*a.fitness, 0.5);
  EXPECT_EQ(a.result.cost, 12.25);
  EXPECT_EQ(a.result.seconds, 3.5);
  EXPECT_EQ(a.result.device, "cuda:1");
  EXPECT_EQ(a.elapsed, 100.0);
  EXPECT_TRUE(std::regex_match(a.created_at, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"))) << a.created_at;
  ASSERT_EQ(a.result.metrics.size(), metrics.size());
  for (const auto& [name, value] : metrics) {
    const double stored = a.result.metrics.at(name);
    if (std::isnan(value)) EXPECT_TRUE(std::isnan(stored)) << name;
    else EXPECT_EQ(stored, value) << name;  // exact, not approximately
  }

  const auto& b = all[1];
  EXPECT_FALSE(b.result.ok);
  EXPECT_FALSE(b.fitness);
  EXPECT_EQ(b.result.error, "shape mismatch: 3x32x32 vs \"1x28x28\"\nsecond line");
  EXPECT_TRUE(b.result.metrics.empty());

  EXPECT_TRUE(std::isnan(all[2].result.cost));
  ASSERT_TRUE(all[2].fitness);
  EXPECT_EQ(*all[2].fitness, -kInf);

  // NaN is NULL in the file, so plain SQL aggregates skip it instead of returning NaN.
  EXPECT_EQ(query_text(path("r.db"), "SELECT value IS NULL FROM metrics WHERE name = 'loss'"), "1");

  const auto one = store.evaluation(run, 1);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->arch, "|b|");
  EXPECT_FALSE(store.evaluation(run, 3));
  EXPECT_FALSE(store.evaluation(run + 1, 0));
}

TEST_F(ResultStoreTest, EvaluationsOfAllRunsComeInRunThenSequenceOrder) {
  ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
  const auto first = store.begin_run("", 1, "nb201", "random", "table");
  const auto second = store.begin_run("", 2, "nb201", "random", "table");
  // Parallel workers finish out of order; seq, not insertion order, is what reads follow.
  store.add_evaluation(evaluation(second, 1, "x", {{"m", 21}}));
  store.add_evaluation(evaluation(first, 1, "y", {{"m", 11}}));
  store.add_evaluation(evaluation(second, 0, "y", {{"m", 20}}));
  store.add_evaluation(evaluation(first, 0, "x", {{"m", 10}}));
  const auto all = store.evaluations();
  ASSERT_EQ(all.size(), 4u);
  std::vector<double> order;
  for (const auto& e : all) order.push_back(e.result.metrics.at("m"));
  EXPECT_EQ(order, (std::vector<double>{10, 11, 20, 21}));
  EXPECT_EQ(store.evaluations(second).size(), 2u);
  EXPECT_EQ(store.evaluations(second)[0].arch, "y");
  // A candidate evaluated in two runs is one candidate row.
  EXPECT_EQ(query_text(path("r.db"), "SELECT count(*) FROM candidates"), "2");
}

TEST_F(ResultStoreTest, FileIsMarkedAsNascentWalDatabase) {
  { ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite); }
  EXPECT_EQ(query_text(path("r.db"), "PRAGMA application_id"), std::to_string(0x6E617363));
  EXPECT_EQ(query_text(path("r.db"), "PRAGMA user_version"), std::to_string(ResultStore::kSchemaVersion));
  EXPECT_EQ(query_text(path("r.db"), "PRAGMA journal_mode"), "wal");
  for (const char* table : {"runs", "candidates", "evaluations", "metrics"})
    EXPECT_EQ(query_text(path("r.db"), std::string("SELECT count(*) FROM sqlite_master WHERE name = '") + table + "'"), "1")
        << table;
}

TEST_F(ResultStoreTest, ReopeningAppendsAndPreservesEarlierData) {
  std::int64_t first = 0;
  {
    ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
    first = store.begin_run("a: 1\n", 11, "nb201", "random", "table");
    store.add_evaluation(evaluation(first, 0, "x", {{"acc", 1}}));
    store.add_evaluation(evaluation(first, 1, "y", {{"acc", 2}}));
    store.finish_run(first, "interrupted");
  }
  {
    // --resume: the same run continues, then a new run follows.
    ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
    store.reopen_run(first);
    EXPECT_EQ(store.run(first)->status, "running");
    EXPECT_EQ(store.run(first)->ended_at, "");
    store.add_evaluation(evaluation(first, 2, "z", {{"acc", 3}}));
    store.finish_run(first, "finished");
    const auto second = store.begin_run("b: 2\n", 22, "nb201", "evolution", "table");
    store.add_evaluation(evaluation(second, 0, "x", {{"acc", 4}}));
  }
  ResultStore store(path("r.db"), ResultStore::Mode::ReadOnly);
  const auto runs = store.runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].config, "a: 1\n");
  EXPECT_EQ(runs[0].status, "finished");
  EXPECT_EQ(runs[0].evaluations, 3);
  EXPECT_EQ(runs[1].seed, 22u);
  EXPECT_EQ(runs[1].evaluations, 1);
  const auto all = store.evaluations();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].arch, "x");
  EXPECT_EQ(all[0].result.metrics.at("acc"), 1);
  EXPECT_EQ(all[2].arch, "z");
  EXPECT_EQ(all[3].run, runs[1].id);
}

TEST_F(ResultStoreTest, FailedWriteLeavesNothingBehind) {
  ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
  const auto run = store.begin_run("", 1, "nb201", "random", "table");
  store.add_evaluation(evaluation(run, 0, "a", {{"acc", 1}}));
  try {
    store.add_evaluation(evaluation(run, 0, "new-candidate", {{"acc", 2}, {"params", 3}}));
    FAIL() << "a second evaluation 0 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already has evaluation 0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(store.add_evaluation(evaluation(run + 5, 0, "b")), Error);  // no such run
  EXPECT_THROW(store.finish_run(run + 5, "finished"), Error);
  EXPECT_THROW(store.reopen_run(run + 5), Error);
  // Neither the candidate nor the metrics of the refused evaluation were kept.
  EXPECT_EQ(query_text(path("r.db"), "SELECT count(*) FROM candidates"), "1");
  EXPECT_EQ(query_text(path("r.db"), "SELECT count(*) FROM metrics"), "1");
  // And the store is still usable.
  store.add_evaluation(evaluation(run, 1, "c", {{"acc", 3}}));
  EXPECT_EQ(store.evaluations(run).size(), 2u);
}

TEST_F(ResultStoreTest, ConcurrentWritersLoseNothing) {
  ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
  const auto run = store.begin_run("", 1, "nb201", "random", "table");
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const int seq = t * kEach + i;
        store.add_evaluation(evaluation(run, seq, "arch" + std::to_string(seq % 10), {{"a", seq}, {"b", -seq}}));
      }
    });
  for (auto& thread : threads) thread.join();
  const auto all = store.evaluations(run);
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kThreads * kEach));
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].seq, static_cast<std::int64_t>(i));
    EXPECT_EQ(all[i].result.metrics.at("a"), static_cast<double>(i));
    EXPECT_EQ(all[i].arch, "arch" + std::to_string(i % 10));
  }
}

TEST_F(ResultStoreTest, ReaderSeesCommittedEvaluationsWhileWriterIsOpen) {
  ResultStore writer(path("r.db"), ResultStore::Mode::ReadWrite);
  const auto run = writer.begin_run("", 1, "nb201", "random", "table");
  writer.add_evaluation(evaluation(run, 0, "a", {{"acc", 1}}));
  ResultStore reader(path("r.db"), ResultStore::Mode::ReadOnly);
  EXPECT_EQ(reader.evaluations(run).size(), 1u);
  writer.add_evaluation(evaluation(run, 1, "b", {{"acc", 2}}));
  EXPECT_EQ(reader.evaluations(run).size(), 2u);
  EXPECT_THROW(reader.begin_run("", 1, "x", "y", "z"), Error);
}

TEST_F(ResultStoreTest, ReadOnlyOpenLeavesTheDatabaseIntact) {
  {
    ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
    store.add_evaluation(evaluation(store.begin_run("", 1, "nb201", "random", "table"), 0, "a", {{"acc", 1}}));
  }
  const std::string before = bytes(path("r.db"));
  {
    ResultStore store(path("r.db"), ResultStore::Mode::ReadOnly);
    EXPECT_EQ(store.evaluations().size(), 1u);
  }
  EXPECT_EQ(bytes(path("r.db")), before);
  // Whatever a reader leaves next to the file must not stand in a writer's way.
  ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
  store.add_evaluation(evaluation(1, 1, "b"));
  EXPECT_EQ(store.evaluations().size(), 2u);
}

TEST_F(ResultStoreTest, NewEmptyAndBlankSqliteFilesBecomeStores) {
  { std::ofstream(path("empty.db")); }
  sql(path("blank.db"), "CREATE TABLE t (x); DROP TABLE t;");  // an SQLite header, but nothing in it
  for (const char* name : {"fresh.db", "empty.db", "blank.db"}) {
    {
      ResultStore store(path(name), ResultStore::Mode::ReadWrite);
      store.begin_run("", 1, "nb201", "random", "table");
    }
    ResultStore store(path(name), ResultStore::Mode::ReadOnly);
    EXPECT_EQ(store.runs().size(), 1u) << name;
  }
}

TEST_F(ResultStoreTest, RefusesForeignNewerAndNonDatabaseFilesWithoutTouchingThem) {
  sql(path("foreign.db"), "CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('x');");
  sql(path("foreign-id.db"), "PRAGMA application_id = 1234;");
  sql(path("foreign-wal.db"), "PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1);");
  sql(path("newer.db"), "PRAGMA application_id = 1851880291; PRAGMA user_version = 99; CREATE TABLE runs (x);");
  { std::ofstream(path("text.db")) << "precious notes, not a database, long enough to fill an SQLite header ........."; }
  { std::ofstream(path("short.db")) << "hi"; }

  for (auto mode : {ResultStore::Mode::ReadWrite, ResultStore::Mode::ReadOnly}) {
    SCOPED_TRACE(mode == ResultStore::Mode::ReadWrite ? "read-write" : "read-only");
    expect_refused_untouched("foreign.db", "is not a nascent results database", mode);
    expect_refused_untouched("foreign-id.db", "is not a nascent results database", mode);
    expect_refused_untouched("foreign-wal.db", "is not a nascent results database", mode);
    expect_refused_untouched("newer.db", "was written by a newer nascent (schema 99, this build reads up to " + std::to_string(ResultStore::kSchemaVersion) + ")", mode);
    expect_refused_untouched("text.db", "file is not a database", mode);
    expect_refused_untouched("short.db", "file is not a database", mode);
  }
  EXPECT_EQ(bytes(path("text.db")).rfind("precious notes", 0), 0u);

  const auto before = snapshot();
  EXPECT_NE(refusal(path("missing.db"), ResultStore::Mode::ReadOnly).find("no such database"), std::string::npos);
  EXPECT_FALSE(fs::exists(path("missing.db")));
  fs::create_directories(path("folder.db"));
  EXPECT_NE(refusal(path("folder.db")).find("is a directory"), std::string::npos);
  EXPECT_NE(refusal(path("folder.db"), ResultStore::Mode::ReadOnly).find("is a directory"), std::string::npos);
  EXPECT_NE(refusal(path("no/such/folder/r.db")).find("no folder"), std::string::npos);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(ResultStoreTest, ReadOnlyRefusesFilesWithoutResults) {
  { std::ofstream(path("empty.db")); }
  sql(path("blank.db"), "CREATE TABLE t (x); DROP TABLE t;");
  expect_refused_untouched("empty.db", "no nascent results", ResultStore::Mode::ReadOnly);
  expect_refused_untouched("blank.db", "no nascent results", ResultStore::Mode::ReadOnly);
}

TEST_F(ResultStoreTest, RefusesDatabaseLockedByAnotherConnection) {
  {
    ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
    store.begin_run("", 1, "nb201", "random", "table");
  }
  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open(path("r.db").c_str(), &holder), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(holder, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; UPDATE runs SET status = 'held';",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  for (auto mode : {ResultStore::Mode::ReadWrite, ResultStore::Mode::ReadOnly})
    expect_refused_untouched("r.db", "is locked by another process", mode);
  ASSERT_EQ(sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(holder);
  ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
  EXPECT_EQ(store.latest_run()->status, "running");
}

TEST_F(ResultStoreTest, WriterHoldingTheWriteLockBlocksWritersButNotReaders) {
  {
    ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
    store.begin_run("", 1, "nb201", "random", "table");
  }
  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open(path("r.db").c_str(), &holder), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  expect_refused_untouched("r.db", "is locked by another process");
  EXPECT_EQ(refusal(path("r.db"), ResultStore::Mode::ReadOnly), "accepted");
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
  EXPECT_EQ(refusal(path("r.db")), "accepted");
}

}  // namespace
}  // namespace nascent

namespace nascent {
namespace {

// A database written before evaluations had stages (schema 1) is read as all queries, and is
// upgraded in place, keeping every result, when opened for writing.
TEST_F(ResultStoreTest, SchemaOneDatabasesAreReadAndUpgraded) {
  {
    ResultStore store(path("old.db"), ResultStore::Mode::ReadWrite);
    const auto run = store.begin_run("seed: 1", 1, "nb201", "random", "table");
    store.add_evaluation(evaluation(run, 0, "a", {{"acc", 1.0}}));
  }
  sql(path("old.db"),
      "ALTER TABLE evaluations DROP COLUMN status; ALTER TABLE evaluations DROP COLUMN parent_seq; ALTER TABLE evaluations DROP COLUMN stage; ALTER TABLE runs DROP COLUMN objective_metric; ALTER TABLE runs DROP "
      "COLUMN objective_mode; ALTER TABLE runs DROP COLUMN final_stage; DROP TABLE curves; PRAGMA user_version = 1;");
  {
    ResultStore store(path("old.db"), ResultStore::Mode::ReadOnly);
    const auto evaluations = store.evaluations();
    ASSERT_EQ(evaluations.size(), 1u);
    EXPECT_EQ(evaluations[0].stage, Stage::Query);
  }
  EXPECT_EQ(query_text(path("old.db"), "PRAGMA user_version"), "1") << "reading must not upgrade";
  {
    ResultStore store(path("old.db"), ResultStore::Mode::ReadWrite);
    auto e = evaluation(1, 1, "b", {{"synflow", 3.0}});
    e.stage = Stage::Score;
    store.add_evaluation(e);
    const auto evaluations = store.evaluations(1);
    ASSERT_EQ(evaluations.size(), 2u);
    EXPECT_EQ(evaluations[0].stage, Stage::Query);
    EXPECT_EQ(evaluations[0].result.metrics.at("acc"), 1.0);
    EXPECT_EQ(evaluations[1].stage, Stage::Score);
  }
  EXPECT_EQ(query_text(path("old.db"), "PRAGMA user_version"), std::to_string(ResultStore::kSchemaVersion));
}

}  // namespace
}  // namespace nascent

namespace nascent {
namespace {

// Out of memory is its own stored status (schema 5), not a failure of the architecture; failures
// stored by schema 4 are classified by their message when the database is upgraded.
TEST_F(ResultStoreTest, OutOfMemoryIsItsOwnStatusAndOlderFailuresAreClassifiedOnUpgrade) {
  {
    ResultStore store(path("m.db"), ResultStore::Mode::ReadWrite);
    const auto run = store.begin_run("seed: 1", 1, "nb201", "random", "train");
    store.add_evaluation(evaluation(run, 0, "a", {{"acc", 1.0}}));
    auto failed = evaluation(run, 1, "b", {}, false);
    auto oom = evaluation(run, 2, "c", {}, false);
    oom.result.out_of_memory = true;
    oom.result.error = "tried to allocate 2 GiB at batch size 256";  // the flag decides, not the text
    store.add_evaluation(failed);
    store.add_evaluation(oom);
    const auto back = store.evaluations(run);
    ASSERT_EQ(back.size(), 3u);
    EXPECT_FALSE(back[0].result.out_of_memory);
    EXPECT_FALSE(back[1].result.out_of_memory);
    EXPECT_TRUE(back[2].result.out_of_memory);
    EXPECT_FALSE(back[2].result.ok);
  }
  EXPECT_EQ(query_text(path("m.db"), "SELECT group_concat(status) FROM (SELECT status FROM evaluations ORDER BY seq)"), "ok,failed,oom");

  // The same file as schema 4 wrote it: no status column; one failure's message says CUDA ran out.
  sql(path("m.db"),
      "ALTER TABLE evaluations DROP COLUMN status; UPDATE evaluations SET error = 'CUDA out of memory. Tried to allocate 20.00 MiB' "
      "WHERE seq = 2; PRAGMA user_version = 4;");
  {
    ResultStore reader(path("m.db"), ResultStore::Mode::ReadOnly);
    const auto old = reader.evaluations();
    ASSERT_EQ(old.size(), 3u);
    EXPECT_FALSE(old[1].result.out_of_memory);
    EXPECT_TRUE(old[2].result.out_of_memory);
  }
  EXPECT_EQ(query_text(path("m.db"), "PRAGMA user_version"), "4") << "reading must not upgrade";
  ResultStore store(path("m.db"), ResultStore::Mode::ReadWrite);
  EXPECT_EQ(query_text(path("m.db"), "PRAGMA user_version"), "5");
  EXPECT_EQ(query_text(path("m.db"), "SELECT group_concat(status) FROM (SELECT status FROM evaluations ORDER BY seq)"), "ok,failed,oom");
  EXPECT_EQ(store.evaluations()[0].result.metrics.at("acc"), 1.0);
}

TEST_F(ResultStoreTest, RunInfoRoundTripsAndTheOldBeginRunMaximisesQueries) {
  ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
  RunInfo info;
  info.config = "objective: {metric: val_loss, mode: min}\n";
  info.seed = 4;
  info.space = "nb201";
  info.strategy = "darts-order1";
  info.evaluator = "train";
  info.objective_metric = "val_loss";
  info.maximize = false;
  info.final_stage = Stage::Final;
  const auto run = store.begin_run(info);
  const auto old = store.begin_run("seed: 1\n", 1, "nb201", "random", "table");
  const auto a = *store.run(run);
  EXPECT_EQ(a.objective_metric, "val_loss");
  EXPECT_FALSE(a.maximize);
  EXPECT_EQ(a.final_stage, Stage::Final);
  EXPECT_EQ(a.strategy, "darts-order1");
  const auto b = *store.run(old);
  EXPECT_EQ(b.objective_metric, "val_acc");
  EXPECT_TRUE(b.maximize);
  EXPECT_EQ(b.final_stage, Stage::Query);
  EXPECT_EQ(query_text(path("r.db"), "SELECT objective_mode || ',' || final_stage FROM runs WHERE id = 1"), "min,final");
}

TEST_F(ResultStoreTest, StagesRoundTripThroughTheirNames) {
  ASSERT_EQ(all_stages().size(), 8u);
  for (Stage stage : all_stages()) EXPECT_EQ(parse_stage(to_string(stage)), stage);
  EXPECT_EQ(to_string(Stage::Final), "final");
  EXPECT_ERROR(parse_stage("epochs"), "unknown stage 'epochs' (valid: query, score, epoch, report, measure, search, final, rung)");
  EXPECT_ERROR(parse_stage(""), "unknown stage ''");
  EXPECT_ERROR(parse_stage("supernet"), "unknown stage 'supernet'");

  ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
  const auto run = store.begin_run("seed: 1\n", 1, "nb201", "random", "table");
  for (std::size_t i = 0; i < all_stages().size(); ++i) {
    auto e = evaluation(run, static_cast<std::int64_t>(i), "a" + std::to_string(i));
    e.stage = all_stages()[i];
    store.add_evaluation(e);
  }
  const auto stored = store.evaluations(run);
  ASSERT_EQ(stored.size(), all_stages().size());
  for (std::size_t i = 0; i < stored.size(); ++i) EXPECT_EQ(stored[i].stage, all_stages()[i]);
  // A stage this build does not know is a one-line error naming the evaluation, not a crash.
  sql(path("r.db"), "UPDATE evaluations SET stage = 'warmup' WHERE seq = 2");
  EXPECT_ERROR(store.evaluations(run), "evaluation 1:2 has an unknown stage 'warmup'");
}

TEST_F(ResultStoreTest, CurvesRoundTripInOneTransaction) {
  constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
  ResultStore store(path("r.db"), ResultStore::Mode::ReadWrite);
  const auto run = store.begin_run("seed: 1\n", 1, "ofa_mbv3", "ofa", "supernet");
  const auto other = store.begin_run("seed: 2\n", 2, "ofa_mbv3", "ofa", "supernet");
  store.add_curve_points(run, {{run, "supernet.train_loss", 2, 1.5, "elastic_kernel"},
                               {run, "supernet.train_loss", 0.5, 2.5, "full"},
                               {run, "supernet.lr", 0.5, kNan, ""},
                               {run, "predictor.rmse_heldout", 0, kInf, ""},
                               {run, "supernet.train_loss", 2, 1.25, "elastic_depth"}});
  store.add_curve_points(other, {{other, "supernet.train_loss", 1, 9, ""}});
  store.add_curve_points(run, {});

  const auto all = store.curves(run);
  ASSERT_EQ(all.size(), 5u);
  // By curve name, then step, then the order added.
  EXPECT_EQ(all[0].curve, "predictor.rmse_heldout");
  EXPECT_EQ(all[0].value, kInf);
  EXPECT_EQ(all[1].curve, "supernet.lr");
  EXPECT_TRUE(std::isnan(all[1].value));
  EXPECT_EQ(all[2].step, 0.5);
  EXPECT_EQ(all[2].label, "full");
  EXPECT_EQ(all[3].label, "elastic_kernel");
  EXPECT_EQ(all[3].value, 1.5);
  EXPECT_EQ(all[4].label, "elastic_depth");
  for (const auto& p : all) EXPECT_EQ(p.run, run);
  EXPECT_EQ(query_text(path("r.db"), "SELECT count(*) FROM curves WHERE value IS NULL"), "1");

  EXPECT_EQ(store.curves(run, "supernet.").size(), 4u);
  EXPECT_EQ(store.curves(run, "supernet.train_loss").size(), 3u);
  EXPECT_TRUE(store.curves(run, "supernet.train_loss.x").empty());
  EXPECT_TRUE(store.curves(run, "%").empty());  // a prefix, not a LIKE pattern
  ASSERT_EQ(store.curves(other).size(), 1u);
  EXPECT_TRUE(store.curves(99).empty());

  EXPECT_ERROR(store.add_curve_points(run, {{run, "a", 1, 1, ""}, {run, "b", kNan, 1, ""}}), "curve b has a point without a step");
  EXPECT_ERROR(store.add_curve_points(99, {{99, "a", 1, 1, ""}}), "has no run 99");
  EXPECT_EQ(store.curves(run).size(), 5u) << "a failed write stores no point";

  ResultStore reader(path("r.db"), ResultStore::Mode::ReadOnly);
  EXPECT_EQ(reader.curves(run).size(), 5u);
}

class SchemaTwoFixture : public ResultStoreTest {
 protected:
  // A private copy of tests/fixtures/schema2.db (see tests/fixtures/README.md for its contents).
  std::string copy(const std::string& name) {
    const std::string file = path(name);
    fs::copy_file(std::string(NASCENT_SOURCE_DIR) + "/tests/fixtures/schema2.db", file);
    return file;
  }
  static std::vector<std::string> archs(const std::vector<StoredEvaluation>& evaluations) {
    std::vector<std::string> names;
    for (const auto& e : evaluations) names.push_back(e.arch);
    return names;
  }
};

void expect_same(const StoredEvaluation& a, const StoredEvaluation& b) {
  SCOPED_TRACE(std::to_string(a.run) + ":" + std::to_string(a.seq));
  EXPECT_EQ(a.run, b.run);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.stage, b.stage);
  EXPECT_EQ(a.fitness, b.fitness);
  EXPECT_EQ(a.result.ok, b.result.ok);
  EXPECT_EQ(a.result.out_of_memory, b.result.out_of_memory);
  EXPECT_EQ(a.result.error, b.result.error);
  EXPECT_EQ(a.result.metrics, b.result.metrics);
  EXPECT_EQ(a.result.cost, b.result.cost);
  EXPECT_EQ(a.elapsed, b.elapsed);
  EXPECT_EQ(a.created_at, b.created_at);
}

TEST_F(SchemaTwoFixture, IsUpgradedInPlaceKeepingEveryResult) {
  const std::string file = copy("old.db");
  ASSERT_EQ(query_text(file, "PRAGMA user_version"), "2");
  std::vector<StoredEvaluation> before;
  std::vector<CurvePoint> curves_before;
  {
    // Read-only: read as if upgraded, without writing.
    const std::string original = bytes(file);
    ResultStore reader(file, ResultStore::Mode::ReadOnly);
    EXPECT_EQ(reader.schema_version(), 2);
    before = reader.evaluations();
    for (std::int64_t run = 1; run <= 3; ++run)
      for (auto& p : reader.curves(run)) curves_before.push_back(p);
    EXPECT_EQ(reader.run(3)->evaluations, 5);
    EXPECT_EQ(bytes(file), original);
  }

  ResultStore store(file, ResultStore::Mode::ReadWrite);
  EXPECT_EQ(store.schema_version(), 5);
  EXPECT_EQ(query_text(file, "PRAGMA user_version"), "5");

  const auto runs = store.runs();
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].objective_metric, "val_loss");
  EXPECT_FALSE(runs[0].maximize);
  EXPECT_EQ(runs[0].final_stage, Stage::Query);
  EXPECT_EQ(runs[1].objective_metric, "val_acc");
  EXPECT_TRUE(runs[1].maximize);
  EXPECT_EQ(runs[1].final_stage, Stage::Final);
  EXPECT_EQ(runs[2].objective_metric, "val_acc");
  EXPECT_TRUE(runs[2].maximize);
  EXPECT_EQ(runs[2].final_stage, Stage::Final);
  EXPECT_EQ(runs[2].evaluations, 5);
  EXPECT_EQ(query_text(file, "SELECT group_concat(objective_mode || '/' || final_stage) FROM runs"), "min/query,max/final,max/final");

  // The minimised run's fitness is the measured loss again, not its negation.
  const auto ask = store.evaluations(1);
  ASSERT_EQ(ask.size(), 4u);
  EXPECT_EQ(ask[0].fitness, 0.9);
  EXPECT_EQ(ask[1].fitness, 0.4);
  EXPECT_FALSE(ask[2].fitness);
  EXPECT_FALSE(ask[2].result.ok);
  EXPECT_EQ(ask[2].result.error, "out of memory");
  EXPECT_TRUE(ask[2].result.out_of_memory) << "classified by its message, as the evaluators classify LibTorch's";
  EXPECT_EQ(query_text(file, "SELECT group_concat(status) FROM (SELECT status FROM evaluations WHERE run_id = 1 ORDER BY seq)"), "ok,ok,oom,ok");
  EXPECT_EQ(ask[3].fitness, 0.6);

  // DARTS: the epochs keep their readable metrics; the architecture weights became curves.
  const auto darts = store.evaluations(2);
  ASSERT_EQ(darts.size(), 3u);
  EXPECT_EQ(darts[0].stage, Stage::Epoch);
  EXPECT_EQ(darts[0].result.metrics, (std::map<std::string, double>{{"epoch", 1}, {"train_loss", 2.0}, {"val_acc", 30}}));
  EXPECT_EQ(darts[2].stage, Stage::Final);
  EXPECT_EQ(darts[2].fitness, 88);
  const auto alphas = store.curves(2, "alpha.");
  ASSERT_EQ(alphas.size(), 4u);
  EXPECT_EQ(alphas[0].curve, "alpha.normal.e0.conv");
  EXPECT_EQ(alphas[0].step, 1);
  EXPECT_EQ(alphas[0].value, 0.6);
  EXPECT_EQ(alphas[1].step, 2);
  EXPECT_EQ(alphas[1].value, 0.7);
  EXPECT_EQ(alphas[3].curve, "alpha.normal.e0.skip");
  EXPECT_EQ(alphas[3].value, 0.3);
  EXPECT_EQ(alphas[3].label, "");
  EXPECT_EQ(query_text(file, "SELECT count(*) FROM metrics WHERE name LIKE 'alpha.%'"), "0");

  // OFA: the stand-in evaluations are gone, their values are curves (step: the epoch, else seq).
  const auto ofa = store.evaluations(3);
  EXPECT_EQ(archs(ofa), (std::vector<std::string>{"r1", "m1", "m2", "f1", "f2"}));
  EXPECT_EQ(query_text(file, "SELECT count(*) FROM evaluations WHERE stage IN ('supernet', 'predictor')"), "0");
  const auto loss = store.curves(3, "supernet.train_loss");
  ASSERT_EQ(loss.size(), 2u);
  EXPECT_EQ(loss[0].step, 0.5);
  EXPECT_EQ(loss[0].value, 2.5);
  EXPECT_EQ(loss[1].step, 1);
  EXPECT_EQ(loss[1].value, 2.1);
  EXPECT_EQ(store.curves(3, "supernet.").size(), 4u) << "train_loss and lr; the epoch is the step";
  const auto spearman = store.curves(3, "predictor.spearman_heldout");
  ASSERT_EQ(spearman.size(), 1u);
  EXPECT_EQ(spearman[0].step, 5);
  EXPECT_EQ(spearman[0].value, 0.8);
  EXPECT_EQ(store.curves(3).size(), 6u);
  EXPECT_TRUE(store.curves(1).empty());

  // Everything else is as it was, and as the read-only view showed it before the upgrade.
  const auto after = store.evaluations();
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) expect_same(after[i], before[i]);
  std::vector<CurvePoint> curves_after;
  for (std::int64_t run = 1; run <= 3; ++run)
    for (auto& p : store.curves(run)) curves_after.push_back(p);
  ASSERT_EQ(curves_after.size(), curves_before.size());
  for (std::size_t i = 0; i < curves_after.size(); ++i) {
    EXPECT_EQ(curves_after[i].curve, curves_before[i].curve);
    EXPECT_EQ(curves_after[i].step, curves_before[i].step);
    EXPECT_EQ(curves_after[i].value, curves_before[i].value);
  }

  // The upgraded file takes new results.
  auto e = evaluation(1, 4, "e", {{"val_loss", 0.2}});
  e.fitness = 0.2;
  store.add_evaluation(e);
  store.add_curve_points(3, {{3, "supernet.train_loss", 2, 1.9, "elastic_width"}});
  EXPECT_EQ(store.curves(3, "supernet.train_loss").size(), 3u);
}

TEST_F(SchemaTwoFixture, DamagedCopyIsRefusedAndLeftByteIdentical) {
  const std::string file = copy("damaged.db");
  const std::string whole = bytes(file);
  // The first half: the header and schema pages survive, the tables' pages do not.
  write("damaged.db", whole.substr(0, whole.size() / 2));
  const std::string original = bytes(file);
  const std::string message = refusal(file);
  EXPECT_NE(message, "accepted");
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find(file), std::string::npos) << message;
  EXPECT_EQ(bytes(file), original);
  EXPECT_FALSE(fs::exists(file + "-journal"));
  EXPECT_FALSE(fs::exists(file + "-wal"));
}

TEST_F(SchemaTwoFixture, FailedUpgradeRollsBackLeavingTheFileUntouched) {
  const std::string file = copy("clash.db");
  // Something the upgrade cannot create over, after it has already added the runs' columns.
  sql(file, "CREATE TABLE curves (x); PRAGMA journal_mode = DELETE;");
  const std::string original = bytes(file);
  const std::string message = refusal(file);
  EXPECT_NE(message.find("already exists"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_EQ(bytes(file), original);
  EXPECT_EQ(query_text(file, "PRAGMA user_version"), "2");
  EXPECT_EQ(query_text(file, "SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'objective_mode'"), "0");
  EXPECT_EQ(query_text(file, "SELECT count(*) FROM evaluations"), "15");
}

}  // namespace
}  // namespace nascent
