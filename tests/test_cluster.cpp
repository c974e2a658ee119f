// One search over several processes: mpirun -n 3 nascent search gives the stored results of a
// single-process run with the same parallel.batch, a worker's failure is a failed evaluation, and a
// killed worker leaves a database that --resume completes.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/cluster.hpp"
#include "results/store.hpp"
#include "search_spaces/nb201/nb201.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

const std::string kMpirun = "mpirun --oversubscribe --allow-run-as-root -n ";

class ClusterSearch : public ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    if (!cluster::available()) GTEST_SKIP() << "built without MPI (NASCENT_MPI=OFF)";
    if (shell("command -v mpirun").status != 0) GTEST_SKIP() << "mpirun not installed";
  }
  // A table of every NB201 cell but one in `skip`, with a score from the cell's position.
  std::string table(int skip = 0) {
    std::ofstream csv(dir_ / "table.csv");
    csv << "arch,score\n";
    int i = 0;
    for (const auto& arch : Nb201Space().enumerate())
      if (skip == 0 || ++i % skip != 0) csv << arch << "," << (static_cast<double>((i * 7919) % 10000) / 100.0) << "\n";
    return path("table.csv");
  }
  CliOutput search(const std::string& config, const std::string& db, int processes, const std::string& extra = "") {
    const std::string launcher = processes > 1 ? kMpirun + std::to_string(processes) + " " : "";
    return shell(launcher + NASCENT_BINARY + " search " + config + " --db " + path(db) + " --quiet " + extra);
  }
  static nlohmann::json stored(const std::string& db) {
    auto all = nlohmann::json::parse(run_cli("results export --stage all --format json --db " + db).out);
    for (auto& e : all) {
      for (const char* key : {"seconds", "cost", "created_at"}) e.erase(key);
      e["metrics"].erase("train_seconds");
      e["metrics"].erase("latency_ms");
    }
    // Parallel evaluations are stored as they finish: compare in the order they were asked.
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a["seq"] < b["seq"]; });
    return all;
  }
};

TEST_F(ClusterSearch, TableSearchOnThreeProcessesEqualsOneProcess) {
  // Every seventh cell is missing from the table: its evaluation fails on whichever process has it.
  const std::string config = write("config.yaml", "seed: 2\nspace: {name: nb201}\nstrategy: {name: evolution, population: 8, sample: 3}\n"
                                                   "evaluator: {name: table, key: arch, metric: score, path: " + table(7) + "}\n"
                                                   "budget: {evaluations: 60}\nparallel: {workers: 2, batch: 4}\n");
  const CliOutput one = search(config, "one.db", 1);
  ASSERT_EQ(one.status, 0) << one.out;
  const CliOutput three = search(config, "three.db", 3);
  ASSERT_EQ(three.status, 0) << three.out;
  const nlohmann::json reference = stored(path("one.db"));
  ASSERT_EQ(reference.size(), 60u);
  EXPECT_EQ(stored(path("three.db")), reference);
  int failed = 0;
  for (const auto& e : reference) failed += e["ok"] ? 0 : 1;
  EXPECT_GT(failed, 0) << "no candidate missing from the table was drawn: the test checks nothing about failures";
  EXPECT_EQ(nlohmann::json::parse(run_cli("results runs --format json --db " + path("three.db")).out).at(0)["status"], "finished");
}

const char* kTrainConfig = R"(
seed: 4
space: {name: nb201, channels: 4, cells_per_stage: 1}
strategy: {name: evolution, population: 4, sample: 2}
evaluator:
  name: train
  dataset: {name: synthetic, shape: [1, 8, 8], classes: 3, train: 128, val: 64, test: 32}
  batch_size: 32
  lr: 0.05
  loader_threads: 0
budget: {evaluations: 10}
parallel: {workers: 2, batch: 2}
)";

TEST_F(ClusterSearch, TrainingSearchAndAshaOnThreeProcessesEqualOneProcess) {
  const std::string config = write("train.yaml", kTrainConfig);
  ASSERT_EQ(search(config, "one.db", 1).status, 0);
  const CliOutput three = search(config, "three.db", 3);
  ASSERT_EQ(three.status, 0) << three.out;
  EXPECT_EQ(stored(path("three.db")), stored(path("one.db")));

  // ASHA's promotions continue training states that travel between the processes.
  std::string text = kTrainConfig;
  text.replace(text.find("strategy: {name: evolution, population: 4, sample: 2}"), std::string("strategy: {name: evolution, population: 4, sample: 2}").size(),
               "strategy: {name: asha, max_epochs: 4, reduction: 2}");
  text.replace(text.find("budget: {evaluations: 10}"), std::string("budget: {evaluations: 10}").size(), "budget: {epochs: 24}");
  const std::string asha_config = write("asha.yaml", text);
  ASSERT_EQ(search(asha_config, "asha-one.db", 1).status, 0);
  const CliOutput asha_three = search(asha_config, "asha-three.db", 3);
  ASSERT_EQ(asha_three.status, 0) << asha_three.out;
  const nlohmann::json reference = stored(path("asha-one.db"));
  EXPECT_EQ(stored(path("asha-three.db")), reference);
  int promoted = 0;
  for (const auto& e : reference) promoted += e["metrics"]["rung"].get<double>() > 0 ? 1 : 0;
  EXPECT_GT(promoted, 0);
}

// Whether `pid` runs (a zombie, which nobody may reap in a container, does not).
bool alive(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto state = line.find(") ");
  return state != std::string::npos && line[state + 2] != 'Z';
}

// The pid of the process of rank `rank` whose command line mentions `marker`.
int pid_of_rank(const std::string& marker, int rank) {
  const CliOutput pids = shell("pgrep -f -- '" + marker + "' || true");
  std::stringstream list(pids.out);
  for (int pid; list >> pid;) {
    std::ifstream environ("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    std::string variables((std::istreambuf_iterator<char>(environ)), std::istreambuf_iterator<char>());
    if (variables.find(std::string("OMPI_COMM_WORLD_RANK=") + std::to_string(rank) + '\0') != std::string::npos &&
        shell("cat /proc/" + std::to_string(pid) + "/comm").out.rfind("nascent", 0) == 0)
      return pid;
  }
  return 0;
}

TEST_F(ClusterSearch, AKilledWorkerLeavesADatabaseThatResumeCompletes) {
  const std::string config = write("train.yaml", kTrainConfig);
  const std::string budget = " --set budget.evaluations=12 --set evaluator.steps=300";
  ASSERT_EQ(search(config, "reference.db", 1, budget).status, 0);

  const std::string command = kMpirun + "3 " + NASCENT_BINARY + " search " + config + " --db " + path("run.db") + " --quiet" + budget;
  FILE* pipe = popen((command + " > " + path("out.txt") + " 2>&1 & echo $!").c_str(), "r");
  int launcher = 0;
  ASSERT_EQ(fscanf(pipe, "%d", &launcher), 1);
  pclose(pipe);
  for (int i = 0; i < 2000 && stored_evaluations(path("run.db")) < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const int worker = pid_of_rank(path("run.db"), 1);
  ASSERT_GT(worker, 0) << "no process of rank 1 found";
  ASSERT_EQ(kill(worker, SIGKILL), 0);
  // mpirun ends the whole job when a process dies.
  for (int i = 0; i < 3000 && alive(launcher); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(alive(launcher)) << "mpirun outlived its killed process by 30 s";
  for (int i = 0; i < 3000 && pid_of_rank(path("run.db"), 0) != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const nlohmann::json before = stored(path("run.db"));
  ASSERT_GE(before.size(), 3u);
  ASSERT_LT(before.size(), 12u) << "the run finished before a worker could be killed";
  // mpirun's SIGTERM reached process 0 before its SIGKILL: the run says it was interrupted.
  EXPECT_EQ(nlohmann::json::parse(run_cli("results runs --db " + path("run.db") + " --format json").out).at(0)["status"], "interrupted");
  const nlohmann::json reference = stored(path("reference.db"));
  // Nothing stored is wrong: each stored evaluation is the uninterrupted run's at the same seq.
  for (const auto& e : before) EXPECT_EQ(e, reference.at(e["seq"].get<std::size_t>())) << e["seq"];

  // --resume continues it with another number of processes.
  const CliOutput resumed = search(config, "run.db", 2, budget + " --resume");
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  EXPECT_EQ(stored(path("run.db")), reference);
}

// Data-parallel DARTS: two processes split every batch, and the stored epochs and alphas are those
// of one process on the whole batch, within floating-point rounding. A run stopped inside an epoch
// on two processes resumes on one.
TEST_F(ClusterSearch, DartsOnTwoProcessesEqualsOneProcess) {
  const std::string data = "{name: synthetic, shape: [1, 8, 8], classes: 4, train: 96, val: 32, test: 32, noise: 0.5}";
  const std::string config =
      write("darts.yaml", "seed: 3\nparallel: {threads_per_worker: 1}\nspace: {name: nb201}\n"
                          "strategy: {name: darts, epochs: 2, batch_size: 16, steps_per_epoch: 4, arch_lr: 0.01, "
                          "supernet: {channels: 4, cells_per_stage: 1}, dataset: " + data + "}\n");
  ASSERT_EQ(search(config, "one.db", 1).status, 0);
  const CliOutput two = shell(kMpirun + "2 " + NASCENT_BINARY + " search " + config + " --db " + path("two.db"));
  ASSERT_EQ(two.status, 0) << two.out;
  EXPECT_NE(two.out.find("trains data-parallel over 2 processes"), std::string::npos) << two.out;
  const auto close_to_one_process = [&](const std::string& db) {
    const nlohmann::json one = stored(path("one.db")), other = stored(path(db));
    ASSERT_EQ(other.size(), 2u);
    ASSERT_EQ(one.size(), other.size());
    for (std::size_t i = 0; i < one.size(); ++i) {
      EXPECT_EQ(other[i]["arch"], one[i]["arch"]);
      for (const char* metric : {"train_loss", "train_acc", "val_loss", "val_acc", "skip_weight"})
        EXPECT_NEAR(other[i]["metrics"][metric].get<double>(), one[i]["metrics"][metric].get<double>(), 1e-4) << db << " " << metric;
    }
    ResultStore a(path("one.db"), ResultStore::Mode::ReadOnly), b(path(db), ResultStore::Mode::ReadOnly);
    const auto alphas_one = a.curves(1, "alpha."), alphas_other = b.curves(1, "alpha.");
    ASSERT_EQ(alphas_other.size(), alphas_one.size());
    ASSERT_FALSE(alphas_one.empty());
    for (std::size_t i = 0; i < alphas_one.size(); ++i) EXPECT_NEAR(alphas_other[i].value, alphas_one[i].value, 1e-5) << alphas_one[i].curve;
  };
  close_to_one_process("two.db");

  const CliOutput stopped =
      shell(kMpirun + "2 " + NASCENT_BINARY + " search " + config + " --db " + path("resumed.db") + " --set budget.epochs=1.5");
  ASSERT_EQ(stopped.status, 0) << stopped.out;
  EXPECT_NE(stopped.out.find("stopped in epoch 2"), std::string::npos) << stopped.out;
  const CliOutput resumed = search(config, "resumed.db", 1, "--resume --set budget.epochs=2");
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  close_to_one_process("resumed.db");
}

// A batch that cannot be split over the processes is a one-line config error before any run is
// recorded.
TEST_F(ClusterSearch, ABatchSmallerThanTheProcessesIsOneLine) {
  const std::string darts = "seed: 3\nparallel: {threads_per_worker: 1}\nspace: {name: nb201}\n"
                            "strategy: {name: darts, epochs: 1, batch_size: 2, steps_per_epoch: 1, supernet: {channels: 4, cells_per_stage: 1}, "
                            "dataset: {name: synthetic, shape: [1, 8, 8], classes: 4, train: 96, val: 32, test: 32}}\n";
  const std::string ofa = "seed: 3\nparallel: {threads_per_worker: 1}\nspace: {name: ofa_mbv3, width_mult: 0.25, resolutions: [12, 16]}\n"
                          "strategy: {name: ofa, checkpoint: " + path("ofa.pt") + ", "
                          "dataset: {name: synthetic, shape: [1, 16, 16], classes: 4, train: 64, val: 32, test: 32}, "
                          "supernet_training: {batch_size: 2, steps_per_epoch: 1}}\n";
  const std::string vit = "seed: 1\nparallel: {threads_per_worker: 1}\nspace: {name: vit_resnas, preset: tiny, width_divisor: 8, classes: 4}\n"
                          "strategy: {name: vit_resnas, checkpoint: " + path("vit.pt") + ", "
                          "dataset: {name: synthetic, shape: [1, 56, 56], classes: 4, train: 32, val: 16, test: 16}, "
                          "supernet_training: {batch_size: 2, steps_per_epoch: 1}}\n";
  for (const auto& [name, yaml] : {std::pair{std::string("darts"), darts}, std::pair{std::string("ofa"), ofa}, std::pair{std::string("vit"), vit}}) {
    SCOPED_TRACE(name);
    const std::string db = path(name + ".db");
    const CliOutput three = shell(kMpirun + "3 " + NASCENT_BINARY + " search " + write(name + ".yaml", yaml) + " --db " + db);
    EXPECT_NE(three.status, 0);
    EXPECT_NE(three.out.find("batch_size: 2 cannot be split over 3 processes"), std::string::npos) << three.out;
    EXPECT_TRUE(!std::filesystem::exists(db) || !ResultStore(db, ResultStore::Mode::ReadOnly).latest_run()) << "no run is recorded";
  }
}

// OFA and ViT-ResNAS train their supernets on both processes (their one-step equality with one
// process is in test_data_parallel.cpp; over many steps rounding grows in these tiny networks), then
// process 0 measures and searches alone: the run finishes with every stage stored.
TEST_F(ClusterSearch, OfaAndVitResNasTrainOnTwoProcessesAndFinish) {
  const std::string ofa = "seed: 3\nparallel: {threads_per_worker: 1}\nspace: {name: ofa_mbv3, width_mult: 0.25, resolutions: [12, 16]}\n"
                          "strategy:\n  name: ofa\n  checkpoint: CHECKPOINT\n"
                          "  dataset: {name: synthetic, shape: [1, 16, 16], classes: 4, train: 256, val: 64, test: 64, noise: 0.5}\n"
                          "  supernet_training: {epochs: [1, 1, 1, 1, 1, 1], steps_per_epoch: 3, batch_size: 16}\n"
                          "  bn_calibration: {images: 64, batch_size: 32}\n  predictor: {samples: 12, epochs: 30}\n"
                          "  constraint: {flops: 1e9}\n  evolution: {population: 10, generations: 3}\n  remeasure: 2\n";
  const std::string vit = "seed: 1\nparallel: {threads_per_worker: 1}\nspace: {name: vit_resnas, preset: tiny, width_divisor: 8, classes: 4}\n"
                          "strategy:\n  name: vit_resnas\n  checkpoint: CHECKPOINT\n"
                          "  dataset: {name: synthetic, shape: [1, 56, 56], classes: 4, train: 64, val: 32, test: 32, noise: 0.5}\n"
                          "  supernet_training: {epochs: 2, warmup_width_epochs: 1, steps_per_epoch: 2, batch_size: 16, examples_per_arch: 4}\n"
                          "  constraint: {macs: 1.13e7}\n"
                          "  evolution: {initial_population: 6, iterations: 2, parents: 3, mutations: 3, crossovers: 3}\n  remeasure: 2\n";
  for (const auto& [name, yaml] : {std::pair{std::string("ofa"), ofa}, std::pair{std::string("vit"), vit}}) {
    SCOPED_TRACE(name);
    std::string text = yaml;
    text.replace(text.find("CHECKPOINT"), 10, path(name + ".pt"));
    const std::string config = write(name + ".yaml", text);
    const CliOutput two = shell(kMpirun + "2 " + NASCENT_BINARY + " search " + config + " --db " + path(name + "-two.db"));
    ASSERT_EQ(two.status, 0) << two.out;
    EXPECT_NE(two.out.find("trains data-parallel over 2 processes"), std::string::npos) << two.out;
    EXPECT_TRUE(std::filesystem::exists(path(name + ".pt"))) << "process 0 saves the trained supernet";
    std::filesystem::remove(path(name + ".pt"));
    ASSERT_EQ(search(config, name + "-one.db", 1).status, 0);
    ResultStore one(path(name + "-one.db"), ResultStore::Mode::ReadOnly), other(path(name + "-two.db"), ResultStore::Mode::ReadOnly);
    EXPECT_EQ(other.latest_run()->status, "finished");
    EXPECT_EQ(other.evaluations(1).size(), one.evaluations(1).size());
    const auto loss_one = one.curves(1, "supernet.train_loss"), loss_two = other.curves(1, "supernet.train_loss");
    ASSERT_EQ(loss_two.size(), loss_one.size());
    ASSERT_FALSE(loss_one.empty());
    EXPECT_NEAR(loss_two[0].value, loss_one[0].value, 1e-2 * loss_one[0].value);
  }
}

TEST(ResumeWithoutRun, StartsTheRunAndSaysSo) {
  const std::string dir = std::filesystem::temp_directory_path() / ("nascent-resume-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/c.yaml") << "space: {name: nb201, channels: 4, cells_per_stage: 1}\nstrategy: {name: random}\n"
                                    "evaluator: {name: train, steps: 2, dataset: {name: synthetic, train: 32, val: 16, test: 16}}\n"
                                    "budget: {evaluations: 3}\n";
  const CliOutput r = run_cli("search " + dir + "/c.yaml --db " + dir + "/new.db --resume");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("--resume: " + dir + "/new.db holds no run yet; starting one"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("run 1 finished: 3 evaluations"), std::string::npos) << r.out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nascent
