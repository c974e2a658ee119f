// Hostile input through the command line: every failure is one line starting "nascent:" with a
// documented exit status (1 error, 2 usage, 130 interrupted), and nothing crashes.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "results/store.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;

std::size_t line_count(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

void expect_one_line(const CliOutput& r, int status, const std::string& fragment) {
  EXPECT_EQ(r.status, status) << r.out;
  EXPECT_EQ(line_count(r.out), 1u) << r.out;
  EXPECT_EQ(r.out.rfind("nascent: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(fragment), std::string::npos) << r.out;
}

class HardeningTest : public ScratchDirTest {};

TEST_F(HardeningTest, DeeplyNestedArchitecturesAreErrorsNotCrashes) {
  const std::string deep = std::string(40000, '(') + std::string(40000, ')');
  expect_one_line(run_cli("describe vit_resnas '" + deep + "'"), 1, "nested deeper than 8 levels");
  expect_one_line(run_cli("describe flexibert \"{'l': 999999999, 'o': [], 'h': []}\""), 1,
                  "'l' is 999999999: a model has between 0 and 64 layers");
}

TEST_F(HardeningTest, ControlCharactersInInputStayOnOneLine) {
  // Real control characters inside the shell's single quotes reach the binary as they are.
  expect_one_line(run_cli("describe nb201 'a\nb\r\x1b[31m'"), 1, "a\\nb\\r\\x1b[31m");
  const CliOutput longer = run_cli("describe nb201 '" + std::string(5000, 'x') + "'");
  EXPECT_EQ(line_count(longer.out), 1u);
  EXPECT_LT(longer.out.size(), 1000u);
}

TEST_F(HardeningTest, UsageErrorsArePrefixedAndExitWithTwo) {
  expect_one_line(run_cli("search config.yaml --seed abc"), 2, "--seed");
  expect_one_line(run_cli("search config.yaml --seed -1"), 2, "--seed");
  expect_one_line(run_cli("describe nb201 '|none~0|' --classes -5"), 2, "--classes");
  expect_one_line(run_cli("export"), 2, "--out");
  // An architecture starting with '-' reads as an option unless `--` comes first.
  expect_one_line(run_cli("describe nb201 '-abc'"), 2, "nascent help for usage");
  expect_one_line(run_cli("describe nb201 -- '-abc'"), 1, "cannot parse '-abc'");
  // Counts say what they want, not CLI11's "not in range 0 to 1.79769e+308".
  expect_one_line(run_cli("sample nb201 -n abc"), 2, "-n: expected a whole number, got 'abc'");
  expect_one_line(run_cli("sample nb201 -n 0"), 2, "-n: must be at least 1, got 0");
  expect_one_line(run_cli("sample nb201 --seed -1"), 2, "--seed: must be at least 0, got -1");
  expect_one_line(run_cli("serve --port 70000"), 2, "--port: must be at most 65535, got 70000");
  EXPECT_EQ(run_cli("sample nb201 -n 1 --seed 18446744073709551615").status, 0);  // the largest unsigned seed
}

TEST_F(HardeningTest, ConfigsThatAreNotFilesOrRepeatAKeyAreRefused) {
  fs::create_directories(path("folder"));
  expect_one_line(run_cli("search " + path("folder") + " --db " + path("x.db")), 1, "is not a file");
  expect_one_line(run_cli("search /dev/null --db " + path("x.db")), 1, "is not a file");
  expect_one_line(run_cli("search " + write("empty.yaml", "\n  \n") + " --db " + path("x.db")), 1, "is empty");
  const std::string repeated = write("repeated.yaml", "seed: 1\nspace: {name: nb201}\nstrategy:\n  name: random\n  name: evolution\n");
  expect_one_line(run_cli("search " + repeated + " --db " + path("x.db")), 1, "duplicate key 'strategy.name' (line 5)");
  EXPECT_FALSE(fs::exists(path("x.db")));
}

const std::string kQuickSearch = std::string("plugins: [") + NASCENT_EXAMPLE_PLUGIN + "]\n" + R"(
seed: 5
space: {name: chain}
strategy: {name: random}
evaluator:
  name: train
  dataset: {name: synthetic, shape: [1, 8, 8], classes: 3, train: 64, val: 32, test: 32}
  steps: 2
  batch_size: 16
budget: {evaluations: 40}
parallel: {workers: 1}
)";

// Values that would lose results or crash: an empty database path (SQLite opens a private
// temporary database for it), thousands of workers, a report written over a folder.
TEST_F(HardeningTest, PathsAndSizesThatWouldLoseResultsAreRefused) {
  const std::string config = write("c.yaml", kQuickSearch);
  expect_one_line(run_cli("search " + config + " --quiet --db ''"), 1, "the results database path is empty");
  expect_one_line(run_cli("search " + config + " --quiet --db " + path("w.db") + " --set parallel.workers=70000"), 1,
                  "parallel.workers 70000 is more than 1024");
  EXPECT_FALSE(fs::exists(path("w.db")));
  const std::string db = path("run.db");
  ASSERT_EQ(run_cli("search " + config + " --quiet --db " + db + " --set budget.evaluations=2").status, 0);
  fs::create_directories(path("folder"));
  expect_one_line(run_cli("report --db " + db + " --out " + path("folder")), 1, "is a folder");
  expect_one_line(run_cli("report --db " + db + " --out ''"), 1, "file name is empty");
  EXPECT_FALSE(fs::exists(path("folder.partial")));
}

// A time budget ends the training in progress at its next step, however long the candidate
// would train: nothing half-trained is stored, and the run says it stopped on its budget.
TEST_F(HardeningTest, ATimeBudgetEndsATrainingInProgress) {
  std::string long_training = kQuickSearch;
  long_training.replace(long_training.find("steps: 2"), 8, "steps: 100000000");
  long_training.replace(long_training.find("{evaluations: 40}"), 17, "{seconds: 1}");
  const std::string db = path("run.db");
  const auto started = std::chrono::steady_clock::now();
  const CliOutput r = run_cli("search " + write("c.yaml", long_training) + " --quiet --db " + db);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("run 1 budget: 0 evaluations"), std::string::npos) << r.out;
  // Generous: the training alone would take hours.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), 60);
  ResultStore store(db, ResultStore::Mode::ReadOnly);
  EXPECT_EQ(store.latest_run()->status, "budget");
  EXPECT_TRUE(store.evaluations().empty());
}

// A run in which every candidate failed (here: 1x1 images through NB201's reduction cells) stores
// the failures but says so and exits 1, rather than end "finished" with an empty top list.
TEST_F(HardeningTest, ARunWhoseEveryCandidateFailedSaysWhyAndExitsWithOne) {
  const std::string config = write("c.yaml", R"(
seed: 1
space: {name: nb201, channels: 4, cells_per_stage: 1}
strategy: {name: random}
evaluator:
  name: train
  dataset: {name: synthetic, shape: [1, 1, 1], classes: 3, train: 32, val: 16, test: 16}
  steps: 1
  batch_size: 16
  latency: false
budget: {evaluations: 2}
parallel: {workers: 1}
)");
  const CliOutput r = run_cli("search " + config + " --quiet --db " + path("run.db"));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("nascent: no candidate of run 1 succeeded; the first failure: "), std::string::npos) << r.out;
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  EXPECT_EQ(store.evaluations().size(), 2u);
}

TEST_F(HardeningTest, ADamagedDatabaseIsRefusedWithoutAWriteAndAnEmptyOneStartsARun) {
  const std::string config = write("c.yaml", kQuickSearch);
  const std::string db = path("run.db");
  ASSERT_EQ(run_cli("search " + config + " --quiet --db " + db).status, 0);
  // Garbage over the middle of the file: the evaluations' pages, not the header.
  std::string damaged = file_bytes(db);
  ASSERT_GT(damaged.size(), 4u * 4096);
  for (std::size_t i = damaged.size() / 2 - 2048; i < damaged.size() / 2 + 2048; ++i) damaged[i] = '\xff';
  { std::ofstream(db, std::ios::binary) << damaged; }
  const CliOutput refused = run_cli("search " + config + " --quiet --db " + db);
  expect_one_line(refused, 1, "is damaged; nothing written (SQLite's check: ");
  EXPECT_EQ(refused.out.find("***"), std::string::npos) << "the check's heading instead of its finding: " << refused.out;
  EXPECT_EQ(file_bytes(db), damaged);

  // A requeued job passes --resume before any run exists: an empty or missing database starts one.
  const std::string empty = write("empty.db", "");
  for (const std::string& db_path : {empty, path("missing.db")}) {
    const CliOutput started = run_cli("search " + config + " --resume --db " + db_path);
    EXPECT_EQ(started.status, 0) << started.out;
    EXPECT_NE(started.out.find("--resume: " + db_path + " holds no run yet; starting one"), std::string::npos) << started.out;
    EXPECT_NE(started.out.find("run 1 finished"), std::string::npos) << started.out;
  }
}

// An objective the evaluator never reports is refused before the run is recorded.
TEST_F(HardeningTest, AnUnreportedObjectiveIsRefusedBeforeAnyWrite) {
  const std::string config = write("c.yaml", kQuickSearch);
  const std::string db = path("run.db");
  ASSERT_EQ(run_cli("search " + config + " --quiet --db " + db + " --set budget.evaluations=2").status, 0);
  const std::string before = file_bytes(db);
  expect_one_line(run_cli("search " + config + " --quiet --db " + db + " --set objective.metric=nope"), 1,
                  "objective.metric 'nope' is not reported by the evaluator (it reports: val_acc, val_loss");
  EXPECT_EQ(file_bytes(db), before);
  ResultStore store(db, ResultStore::Mode::ReadOnly);
  EXPECT_EQ(store.runs().size(), 1u);

  // A table reports its metric and report columns.
  const std::string table = write("table.csv", "arch,acc,size\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1,2\n");
  const std::string lookup = write("t.yaml", "space: {name: nb201}\nstrategy: {name: random}\nbudget: {evaluations: 1}\n"
                                             "evaluator: {name: table, path: " + table + ", metric: acc, report: [size]}\n"
                                             "objective: {metric: cost}\n");
  expect_one_line(run_cli("search " + lookup + " --quiet --db " + path("t.db")), 1,
                  "objective.metric 'cost' is not reported by the evaluator (it reports: acc, size; the space computes params, flops, latency_ms)");
  EXPECT_FALSE(fs::exists(path("t.db")));

  // A proxy evaluator reports its predictors' scores.
  const std::string proxy = write("p.yaml", "space: {name: nb201, channels: 4, cells_per_stage: 1}\nstrategy: {name: random}\n"
                                            "budget: {evaluations: 1}\nevaluator: {name: proxy, metrics: [synflow, jacov], batch_size: 8, "
                                            "dataset: {name: synthetic, shape: [3, 8, 8], classes: 3, train: 16, val: 8, test: 8}}\n"
                                            "objective: {metric: val_acc}\n");
  expect_one_line(run_cli("search " + proxy + " --quiet --db " + path("p.db")), 1,
                  "objective.metric 'val_acc' is not reported by the evaluator (it reports: synflow, jacov; the space computes params, flops, latency_ms)");
  EXPECT_FALSE(fs::exists(path("p.db")));
  EXPECT_EQ(run_cli("search " + proxy + " --quiet --db " + path("p.db") + " --set objective.metric=synflow").status, 0);
}

// One writer per run: while a search writes its run, a --resume of it is refused at once, naming
// the holder; once the holder is gone (kill -9), --resume takes the run over.
TEST_F(HardeningTest, ASecondWriterIsRefusedAndAStaleLockIsTakenOver) {
  const std::string config = write("c.yaml", kQuickSearch);
  const std::string db = path("run.db");
  const std::string args = " search " + config + " --quiet --db " + db + " --set evaluator.steps=400 --set budget.evaluations=30";
  FILE* pipe = popen((std::string(NASCENT_BINARY) + args + " > /dev/null 2>&1 & echo $!").c_str(), "r");
  int pid = 0;
  if (fscanf(pipe, "%d", &pid) != 1) pid = 0;
  pclose(pipe);
  ASSERT_GT(pid, 0);
  for (int i = 0; i < 3000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (fs::exists(db + ".checkpoints/run-1.lock")) break;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto started = std::chrono::steady_clock::now();
  const CliOutput second = run_cli(args.substr(1) + " --resume");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  expect_one_line(second, 1, "run 1 of " + db + " is being written by pid " + std::to_string(pid));
  EXPECT_LT(seconds, 10);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  for (int i = 0; i < 1000 && kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const CliOutput takeover = run_cli(args.substr(1) + " --resume --set evaluator.steps=2");
  // The steps are part of the run's identity, so the takeover keeps them as stored.
  EXPECT_NE(takeover.out.find("the config differs"), std::string::npos) << takeover.out;
  const CliOutput resumed = run_cli(args.substr(1) + " --resume");
  EXPECT_EQ(resumed.status, 0) << resumed.out;
  ResultStore store(db, ResultStore::Mode::ReadOnly);
  EXPECT_EQ(store.latest_run()->status, "finished");
}

// Resuming a finished run with nothing left to do changes nothing in the database (so a kill
// during it cannot leave the run marked running); raising the budget reopens and extends it.
TEST_F(HardeningTest, ResumingAFinishedRunWithNothingToDoWritesNothing) {
  const std::string config = write("c.yaml", kQuickSearch);
  const std::string db = path("run.db");
  const std::string search = "search " + config + " --quiet --db " + db + " --set budget.evaluations=3";
  ASSERT_EQ(run_cli(search).status, 0);
  std::string ended;
  {
    ResultStore store(db, ResultStore::Mode::ReadOnly);
    ended = store.latest_run()->ended_at;
    ASSERT_FALSE(ended.empty());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // ended_at has one-second resolution
  const CliOutput again = run_cli(search + " --resume");
  ASSERT_EQ(again.status, 0) << again.out;
  {
    ResultStore store(db, ResultStore::Mode::ReadOnly);
    EXPECT_EQ(store.latest_run()->status, "finished");
    EXPECT_EQ(store.latest_run()->ended_at, ended);
    EXPECT_EQ(store.evaluations().size(), 3u);
  }
  const CliOutput extended = run_cli("search " + config + " --quiet --db " + db + " --set budget.evaluations=5 --resume");
  ASSERT_EQ(extended.status, 0) << extended.out;
  ResultStore store(db, ResultStore::Mode::ReadOnly);
  EXPECT_EQ(store.latest_run()->status, "finished");
  EXPECT_NE(store.latest_run()->ended_at, ended);
  EXPECT_EQ(store.evaluations().size(), 5u);
}

// Ctrl-C: the training in flight stops at its next step (not stored), the run is marked
// interrupted, and the process says so with 130.
TEST_F(HardeningTest, AnInterruptedSearchExitsWith130) {
  const std::string config = write("c.yaml", std::string("plugins: [") + NASCENT_EXAMPLE_PLUGIN + "]\n" + R"(
seed: 5
space: {name: chain}
strategy: {name: random}
evaluator:
  name: train
  dataset: {name: synthetic, shape: [1, 8, 8], classes: 3, train: 256, val: 128, test: 64}
  steps: 300
  batch_size: 32
budget: {evaluations: 200}
parallel: {workers: 1}
)");
  const std::string db = path("run.db");
  const std::string script = std::string(NASCENT_BINARY) + " search " + config + " --quiet --db " + db + " > " + path("out") +
                             " 2>&1 & echo $! > " + path("pid") + "; wait $!; echo $? > " + path("status");
  ASSERT_EQ(std::system(("sh -c '" + script + "' > /dev/null 2>&1 &").c_str()), 0);
  int pid = 0;
  for (int i = 0; i < 3000 && pid == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::ifstream(path("pid")) >> pid;
  }
  ASSERT_GT(pid, 0);
  // Under way: at least one evaluation stored.
  for (int i = 0; i < 3000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (fs::exists(db)) {
      try {
        ResultStore store(db, ResultStore::Mode::ReadOnly);
        if (!store.evaluations().empty()) break;
      } catch (const Error&) {
      }
    }
  }
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int status = -1;
  for (int i = 0; i < 6000 && status < 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::ifstream(path("status")) >> status;
  }
  EXPECT_EQ(status, 130);
  ResultStore store(db, ResultStore::Mode::ReadOnly);
  EXPECT_EQ(store.latest_run()->status, "interrupted");
}

}  // namespace
}  // namespace nascent
