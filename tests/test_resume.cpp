// Resuming supernet runs after kill -9: the continued run stores exactly what an uninterrupted
// run stores, and bad checkpoints are refused without touching the database.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "core/export.hpp"
#include "core/network.hpp"
#include "core/registry.hpp"
#include "results/store.hpp"
#include "search_spaces/vit_resnas/vit_resnas.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

int count_rows(const std::string& db, const std::string& table) {
  sqlite3* handle = nullptr;
  int count = 0;
  if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(handle, ("SELECT count(*) FROM " + table).c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
      count = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
  }
  sqlite3_close(handle);
  return count;
}

class ResumeTest : public ScratchDirTest {
 protected:
  // What a run stored, without timings: evaluations (stage, arch, metrics, value) and curves.
  std::vector<std::string> stored(const std::string& db) {
    ResultStore store(db, ResultStore::Mode::ReadOnly);
    const auto run = store.latest_run();
    std::vector<std::string> rows;
    for (const auto& e : store.evaluations(run->id)) {
      std::string row = std::to_string(e.seq) + " " + to_string(e.stage) + " " + e.arch + " ok=" + std::to_string(e.result.ok);
      for (const auto& [name, value] : e.result.metrics)
        if (name.find("seconds") == std::string::npos && name.find("latency") == std::string::npos) row += " " + name + "=" + std::to_string(value);
      if (e.fitness) row += " fitness=" + std::to_string(*e.fitness);
      rows.push_back(row);
    }
    for (const auto& p : store.curves(run->id)) rows.push_back(p.curve + "@" + std::to_string(p.step) + "=" + std::to_string(p.value));
    return rows;
  }

  // Runs the config uninterrupted, then again killed with SIGKILL once `ready` says the run is
  // under way, and resumed; both must store the same. `extra` differs between the two runs (e.g.
  // a supernet file), and is given again on resume.
  void check_kill_and_resume(const std::string& yaml, const std::function<bool(const std::string& db)>& ready,
                             const std::string& reference_extra = "", const std::string& killed_extra = "",
                             const std::string& subcommand = "search") {
    const std::string config = write("config.yaml", yaml);
    const CliOutput reference = run_cli(subcommand + " " + config + " --db " + path("reference.db") + " --quiet " + reference_extra);
    ASSERT_EQ(reference.status, 0) << reference.out;

    const std::string db = path("killed.db");
    const std::string args = config + " --db " + db + " --quiet " + killed_extra;
    const std::string command = std::string(NASCENT_BINARY) + " " + subcommand + " " + args + " > /dev/null 2>&1 & echo $!";
    FILE* pipe = popen(command.c_str(), "r");
    int pid = 0;
    if (fscanf(pipe, "%d", &pid) != 1) pid = 0;
    pclose(pipe);
    ASSERT_GT(pid, 0);
    for (int i = 0; i < 6000 && !ready(db); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    for (int i = 0; i < 1000 && kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(ready(db)) << "the run never got under way";
    {
      ResultStore store(db, ResultStore::Mode::ReadOnly);
      ASSERT_EQ(store.latest_run()->status, "running") << "the run finished before it could be killed";
    }

    const CliOutput resumed = run_cli(subcommand + " " + args + " --resume");
    ASSERT_EQ(resumed.status, 0) << resumed.out;
    EXPECT_EQ(stored(db), stored(path("reference.db")));
    ResultStore store(db, ResultStore::Mode::ReadOnly);
    EXPECT_EQ(store.runs().size(), 1u);
    EXPECT_EQ(store.latest_run()->status, "finished");
  }

  static std::function<bool(const std::string&)> evaluations_stored(int count) {
    return [count](const std::string& db) { return count_rows(db, "evaluations") >= count; };
  }
  static std::function<bool(const std::string&)> checkpoint_written() {
    return [](const std::string& db) { return std::filesystem::exists(db + ".checkpoints/run-1.ckpt"); };
  }

  static constexpr const char* kData = "{name: synthetic, shape: [1, 8, 8], classes: 4, train: 640, val: 32, test: 32, noise: 0.5}";
  static constexpr const char* kFinal = "final_training: {name: train, steps: 3, batch_size: 16, dataset: "
                                        "{name: synthetic, shape: [1, 8, 8], classes: 4, train: 96, val: 32, test: 32}}\n";
};

TEST_F(ResumeTest, KilledDartsRunResumesToTheUninterruptedResult) {
  check_kill_and_resume(std::string("seed: 4\nparallel: {threads_per_worker: 1}\nspace: {name: nb201}\n") +
                            "strategy: {name: darts, order: 2, epochs: 6, batch_size: 16, supernet: {channels: 4, cells_per_stage: 1}, dataset: " +
                            kData + "}\n" + kFinal,
                        evaluations_stored(2));
}

TEST_F(ResumeTest, KilledRartsRunResumesToTheUninterruptedResult) {
  check_kill_and_resume(std::string("seed: 5\nparallel: {threads_per_worker: 1}\nspace: {name: nb201}\n") +
                            "strategy: {name: rarts, epochs: 6, batch_size: 16, supernet: {channels: 4, cells_per_stage: 1}, dataset: " +
                            kData + "}\n" + kFinal,
                        evaluations_stored(2));
}

TEST_F(ResumeTest, KilledOfaRunResumesToTheUninterruptedResult) {
  check_kill_and_resume("seed: 3\nparallel: {threads_per_worker: 1}\nspace: {name: ofa_mbv3, width_mult: 0.25, resolutions: [12, 16]}\n"
                        "strategy:\n  name: ofa\n  checkpoint: unused.pt\n"
                        "  dataset: {name: synthetic, shape: [1, 16, 16], classes: 4, train: 256, val: 64, test: 64, noise: 0.5}\n"
                        "  supernet_training: {epochs: [2, 1, 1, 1, 1, 1], steps_per_epoch: 6, batch_size: 16}\n"
                        "  bn_calibration: {images: 64, batch_size: 32}\n"
                        "  predictor: {samples: 12, epochs: 30}\n"
                        "  constraint: {flops: 1e9}\n"
                        "  evolution: {population: 10, generations: 3}\n"
                        "  remeasure: 2\n",
                        checkpoint_written(), "--set strategy.checkpoint=" + path("reference.pt"), "--set strategy.checkpoint=" + path("killed.pt"));
}

TEST_F(ResumeTest, KilledVitResNasRunResumesToTheUninterruptedResult) {
  const VitSpaceSpec spec = VitSpaceSpec::named("tiny", 8, 4);
  const double macs = (vit_macs(spec.smallest(), 56, 1, 4) + vit_macs(spec.largest(), 56, 1, 4)) / 2;
  check_kill_and_resume("seed: 1\nparallel: {threads_per_worker: 1}\nspace: {name: vit_resnas, preset: tiny, width_divisor: 8, classes: 4}\n"
                        "strategy:\n  name: vit_resnas\n  checkpoint: unused.pt\n"
                        "  dataset: {name: synthetic, shape: [1, 56, 56], classes: 4, train: 64, val: 32, test: 32, noise: 0.5}\n"
                        "  supernet_training: {epochs: 4, warmup_width_epochs: 1, steps_per_epoch: 2, batch_size: 16, examples_per_arch: 4}\n"
                        "  constraint: {macs: " + std::to_string(macs) + "}\n"
                        "  evolution: {initial_population: 6, iterations: 2, parents: 3, mutations: 3, crossovers: 3}\n"
                        "  remeasure: 2\n",
                        checkpoint_written(), "--set strategy.checkpoint=" + path("reference.pt"), "--set strategy.checkpoint=" + path("killed.pt"));
}

// `nascent train` killed after an epoch continues from that epoch's checkpoint: the same curves,
// final metrics and weights as the uninterrupted training.
TEST_F(ResumeTest, KilledFinalTrainingResumesToTheUninterruptedResult) {
  const std::string arch = "'|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|'";
  check_kill_and_resume(
      "seed: 6\nspace: {name: nb201, channels: 8, cells_per_stage: 1}\n"
      "final_training: {epochs: 6, batch_size: 16, loader_threads: 1, threads: 1, dataset: "
      "{name: synthetic, shape: [1, 8, 8], classes: 4, train: 3000, val: 32, test: 32, noise: 0.5}}\n",
      [](const std::string& db) { return std::filesystem::exists(db + ".checkpoints/run-1.ckpt.final0"); }, "--arch " + arch,
      "--arch " + arch, "train");
  ResultStore killed(path("killed.db"), ResultStore::Mode::ReadOnly);
  EXPECT_EQ(killed.curves(1, "final.val_acc").size(), 6u);
  // The same weights: identical logits from networks loaded from either file.
  auto space = registries().spaces.create("nb201", Config::parse("{channels: 8, cells_per_stage: 1}"));
  const std::string canonical = space->canonical(arch.substr(1, arch.size() - 2));
  auto resumed_net = space->build(canonical, Task{{1, 8, 8}, 4});
  auto reference_net = space->build(canonical, Task{{1, 8, 8}, 4});
  load_weights(*resumed_net, "nb201", canonical, path("killed.db") + ".models/run-1.weights");
  load_weights(*reference_net, "nb201", canonical, path("reference.db") + ".models/run-1.weights");
  resumed_net->eval();
  reference_net->eval();
  const torch::Tensor input = torch::randn({4, 1, 8, 8});
  EXPECT_TRUE(torch::equal(resumed_net->forward(input), reference_net->forward(input)));
  EXPECT_FALSE(std::filesystem::exists(path("killed.db") + ".checkpoints/run-1.ckpt.final0"));
}

// A budget that ends inside an epoch (budget.epochs: 1.5) stops DARTS after that step, marked as
// stopped by its budget, with the steps done checkpointed; --resume with the whole budget continues
// from the next step and stores what an uninterrupted run stores.
TEST_F(ResumeTest, AnEpochBudgetEndingInsideAnEpochResumesFromTheNextStep) {
  const std::string yaml = std::string("seed: 6\nparallel: {threads_per_worker: 1}\nspace: {name: nb201}\n") +
                           "strategy: {name: darts, epochs: 2, batch_size: 16, steps_per_epoch: 6, supernet: {channels: 4, cells_per_stage: 1}, dataset: " +
                           kData + "}\n";
  const std::string config = write("config.yaml", yaml);
  ASSERT_EQ(run_cli("search " + config + " --db " + path("reference.db") + " --quiet").status, 0);
  const std::string db = path("stopped.db");
  const CliOutput stopped = run_cli("search " + config + " --db " + db + " --set budget.epochs=1.5");
  ASSERT_EQ(stopped.status, 0) << stopped.out;
  EXPECT_NE(stopped.out.find("stopped in epoch 2"), std::string::npos) << stopped.out;
  {
    ResultStore store(db, ResultStore::Mode::ReadOnly);
    EXPECT_EQ(store.latest_run()->status, "budget");
    EXPECT_EQ(store.curves(1, "supernet.train_loss").size(), 1u) << "epoch 2 is not finished";
  }
  ASSERT_TRUE(std::filesystem::exists(db + ".checkpoints/run-1.ckpt"));
  const CliOutput resumed = run_cli("search " + config + " --db " + db + " --resume --set budget.epochs=2");
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  // The resumed run trains epoch 2 from its fourth step: steps 1 to 3 are not done again.
  EXPECT_NE(resumed.out.find("continuing epoch 2 at step 4/6"), std::string::npos) << resumed.out;
  EXPECT_EQ(stored(db), stored(path("reference.db")));
  ResultStore store(db, ResultStore::Mode::ReadOnly);
  EXPECT_EQ(store.latest_run()->status, "finished");
}

TEST_F(ResumeTest, DamagedCheckpointsAndChangedOptionsAreRefusedWithoutTouchingTheDatabase) {
  const std::string yaml = std::string("seed: 4\nparallel: {threads_per_worker: 1}\nspace: {name: nb201}\n") +
                           "strategy: {name: darts, epochs: 2, batch_size: 16, steps_per_epoch: 2, supernet: {channels: 4, cells_per_stage: 1}, dataset: " +
                           kData + "}\n";
  const std::string config = write("config.yaml", yaml);
  const std::string db = path("run.db");
  ASSERT_EQ(run_cli("search " + config + " --db " + db + " --quiet").status, 0);
  const std::string checkpoint = db + ".checkpoints/run-1.ckpt";
  ASSERT_TRUE(std::filesystem::exists(checkpoint));
  const std::string good = file_bytes(checkpoint);
  const std::string before = file_bytes(db);

  const auto refused = [&](const std::string& args, const std::string& fragment) {
    const CliOutput r = run_cli("search " + config + " --db " + db + " --quiet --resume " + args);
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find(fragment), std::string::npos) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    EXPECT_EQ(file_bytes(db), before);
  };
  std::ofstream(checkpoint, std::ios::binary) << good.substr(0, good.size() / 2);
  refused("", "is truncated");
  std::string flipped = good;
  flipped[flipped.size() - 10] ^= 0x55;
  std::ofstream(checkpoint, std::ios::binary) << flipped;
  refused("", "is damaged (checksum mismatch)");
  std::ofstream(checkpoint, std::ios::binary) << "something else";
  refused("", "is not a nascent checkpoint");
  std::ofstream(checkpoint, std::ios::binary) << good;
  refused("--set strategy.arch_lr=0.01", "the config differs from run 1");
}

}  // namespace
}  // namespace nascent
