// Final training after any search, and `nascent train`: curves per epoch, a final evaluation,
// weights that load into the architecture, and config errors before anything is written.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/export.hpp"
#include "core/network.hpp"
#include "core/registry.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;

class FinalTrainingTest : public ScratchDirTest {
 protected:
  SearchOptions options(const std::string& yaml) const { return search_options(yaml); }
  static constexpr const char* kData = "{name: synthetic, shape: [1, 8, 8], classes: 4, train: 128, val: 32, test: 32, noise: 0.5}";
  std::string search_yaml(const std::string& final_training) const {
    return std::string("seed: 3\nspace: {name: nb201, channels: 4, cells_per_stage: 1}\nstrategy: {name: random}\n") +
           "evaluator: {name: train, steps: 2, batch_size: 16, latency: false, dataset: " + kData + "}\n" +
           "budget: {evaluations: 3}\nparallel: {workers: 1}\n" + final_training;
  }
};

TEST_F(FinalTrainingTest, AnAskTellSearchTrainsItsBestWithCurvesMetricsAndWeights) {
  const SearchSummary summary = run_search(options(search_yaml("final_training: {epochs: 3, batch_size: 32, loader_threads: 0}\n")));
  EXPECT_EQ(summary.status, "finished");
  EXPECT_EQ(summary.evaluations, 4);
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  const auto evaluations = store.evaluations(summary.run);
  ASSERT_EQ(evaluations.size(), 4u);
  const auto& final = evaluations.back();
  EXPECT_EQ(final.stage, Stage::Final);
  EXPECT_EQ(final.arch, summary.best_arch);
  // The best of the search by its objective is what was trained.
  double best = -1;
  std::string best_arch;
  for (std::size_t i = 0; i < 3; ++i)
    if (evaluations[i].fitness && *evaluations[i].fitness > best) best = *evaluations[i].fitness, best_arch = evaluations[i].arch;
  EXPECT_EQ(final.arch, best_arch);
  for (const char* metric : {"val_acc", "val_loss", "test_acc", "train_loss", "params", "epochs"})
    EXPECT_TRUE(final.result.metrics.count(metric)) << metric;
  EXPECT_EQ(final.result.metrics.at("epochs"), 3);
  for (const char* curve : {"final.train_loss", "final.train_acc", "final.val_loss", "final.val_acc"}) {
    const auto points = store.curves(summary.run, curve);
    ASSERT_EQ(points.size(), 3u) << curve;
    EXPECT_EQ(points.back().step, 3);
  }
  // The last epoch's validation accuracy is the final metric: the curve and the evaluation agree.
  EXPECT_DOUBLE_EQ(store.curves(summary.run, "final.val_acc").back().value, final.result.metrics.at("val_acc"));
  ASSERT_EQ(summary.weights.size(), 1u);
  EXPECT_EQ(summary.weights[0], path("run.db") + ".models/run-1.weights");
  auto space = registries().spaces.create("nb201", Config::parse("{channels: 4, cells_per_stage: 1}"));
  auto net = space->build(final.arch, Task{{1, 8, 8}, 4});
  load_weights(*net, "nb201", final.arch, summary.weights[0]);
  EXPECT_FALSE(fs::exists(path("run.db") + ".checkpoints/run-1.ckpt.final0"));
}

TEST_F(FinalTrainingTest, TheSameSeedTrainsTheSameWeightsWhateverTheLoaderThreads) {
  auto o = options(search_yaml("final_training: {epochs: 2, batch_size: 32, loader_threads: 0, weights: " + path("a.weights") + "}\n"));
  const SearchSummary first = run_search(o);
  o = options(search_yaml("final_training: {epochs: 2, batch_size: 32, loader_threads: 3, weights: " + path("b.weights") + "}\n"));
  o.db_path = path("other.db");
  const SearchSummary second = run_search(o);
  ASSERT_EQ(first.best_arch, second.best_arch);
  EXPECT_EQ(first.final_metrics.at("val_loss"), second.final_metrics.at("val_loss"));
  auto space = registries().spaces.create("nb201", Config::parse("{channels: 4, cells_per_stage: 1}"));
  auto a = space->build(first.best_arch, Task{{1, 8, 8}, 4});
  auto b = space->build(first.best_arch, Task{{1, 8, 8}, 4});
  load_weights(*a, "nb201", first.best_arch, path("a.weights"));
  load_weights(*b, "nb201", first.best_arch, path("b.weights"));
  for (const auto& item : a->named_parameters())
    EXPECT_TRUE(torch::equal(item.value(), b->named_parameters()[item.key()])) << item.key();
}

TEST_F(FinalTrainingTest, StepsAfterTheFirstMeasureTheArchitectureWithOtherEvaluators) {
  const SearchSummary summary = run_search(options(search_yaml(
      std::string("final_training:\n  - {epochs: 1, batch_size: 32}\n  - {name: proxy, metrics: [synflow], batch_size: 8, dataset: ") +
      kData + "}\n")));
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  const auto evaluations = store.evaluations(summary.run);
  ASSERT_EQ(evaluations.size(), 5u);
  EXPECT_EQ(evaluations[4].stage, Stage::Final);
  EXPECT_TRUE(evaluations[4].result.metrics.count("synflow"));
  EXPECT_EQ(evaluations[4].arch, evaluations[3].arch);
}

TEST_F(FinalTrainingTest, BadSectionsAreOneLineErrorsBeforeAnythingIsWritten) {
  EXPECT_ERROR(run_search(options(search_yaml("final_training: {epochs: 0}\n"))), "final_training.epochs");
  EXPECT_ERROR(run_search(options(search_yaml("final_training: {epoch: 2}\n"))), "unknown key 'final_training.epoch'");
  EXPECT_ERROR(run_search(options(search_yaml("final_training: {arch: x}\n"))), "only `nascent train` takes an architecture");
  EXPECT_ERROR(run_search(options(search_yaml("final_training: {dataset: {name: nope}}\n"))), "unknown dataset 'nope'");
  EXPECT_ERROR(run_search(options(search_yaml("final_training: [3]\n"))), "final_training[0]: expected a step mapping");
  const std::string table = write("table.csv", "arch,a\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1\n");
  EXPECT_ERROR(run_search(options("seed: 1\nspace: {name: nb201}\nstrategy: {name: random}\nevaluator: {name: table, path: " +
                                  table + ", metric: a}\nbudget: {evaluations: 1}\nfinal_training: {epochs: 1}\n")),
               "needs data");
  // A device the machine lacks, before the search runs rather than after it.
  EXPECT_ERROR(run_search(options(search_yaml("final_training: {epochs: 1, device: 'cuda:99'}\n"))), "cuda:99");
  EXPECT_FALSE(fs::exists(path("run.db")));
}

// A final training's checkpoint is read only after the search; a damaged one is refused when the
// run is resumed, before anything in the database changes.
TEST_F(FinalTrainingTest, ADamagedFinalTrainingCheckpointIsRefusedBeforeTheRunIsReopened) {
  const std::string yaml = search_yaml("final_training: {epochs: 1, batch_size: 16}\n");
  ASSERT_EQ(run_search(options(yaml)).status, "finished");
  write("run.db.checkpoints/run-1.ckpt.final0", "not a checkpoint");
  const auto database = [&] { return file_bytes(path("run.db")); };
  const std::string before = database();
  SearchOptions resumed = options(yaml);
  resumed.resume = true;
  resumed.config.set("budget.evaluations=4");
  EXPECT_ERROR(run_search(resumed), "run-1.ckpt.final0' is not a nascent checkpoint");
  EXPECT_EQ(database(), before);
}

TEST_F(FinalTrainingTest, TheTrainCommandTrainsAStoredCandidateAndRefusesBadReferences) {
  ASSERT_EQ(run_search(options(search_yaml(""))).status, "finished");
  const CliOutput trained = run_cli("train --quiet --db " + path("run.db") + " --eval 1:1 --set final_training.epochs=1");
  ASSERT_EQ(trained.status, 0) << trained.out;
  EXPECT_NE(trained.out.find("weights " + path("run.db") + ".models/run-2.weights"), std::string::npos) << trained.out;
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  const auto run = store.run(2);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->strategy, "train");
  EXPECT_EQ(run->status, "finished");
  const auto evaluations = store.evaluations(2);
  ASSERT_EQ(evaluations.size(), 1u);
  EXPECT_EQ(evaluations[0].arch, store.evaluation(1, 1)->arch);
  EXPECT_EQ(evaluations[0].stage, Stage::Final);

  for (const auto& [args, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"--eval 1:9", "has no evaluation 1:9"},
           {"--eval one", "--eval: expected RUN:SEQ"},
           {"--eval 7:0", "has no run 7"},
           {"", "give either --arch ARCH (with a config) or --eval RUN:SEQ"}}) {
    const CliOutput bad = run_cli("train --quiet --db " + path("run.db") + " " + args);
    EXPECT_EQ(bad.status, 1) << bad.out;
    EXPECT_NE(bad.out.find(fragment), std::string::npos) << bad.out;
    EXPECT_EQ(std::count(bad.out.begin(), bad.out.end(), '\n'), 1) << bad.out;
  }
  const std::string config = write("c.yaml", "space: {name: nb201}\nfinal_training: {epochs: 1, dataset: " + std::string(kData) + "}\n");
  const CliOutput bad_arch = run_cli("train " + config + " --quiet --db " + path("new.db") + " --arch '|conv_9x9~0|'");
  EXPECT_EQ(bad_arch.status, 1) << bad_arch.out;
  EXPECT_FALSE(fs::exists(path("new.db")));
}

}  // namespace
}  // namespace nascent
