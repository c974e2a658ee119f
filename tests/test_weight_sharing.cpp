// `nascent search` with the weight-sharing strategies: supernet training or reuse from its
// checkpoint, the constrained searches, the winners re-measured, and bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/config.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"
#include "search_spaces/ofa/ofa.hpp"
#include "search_spaces/vit_resnas/vit_resnas.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

class WeightSharingRunTest : public ScratchDirTest {
 protected:
  SearchOptions options(const std::string& yaml) const { return search_options(yaml); }
  std::vector<StoredEvaluation> stage(const std::vector<StoredEvaluation>& all, const std::string& name) {
    std::vector<StoredEvaluation> kept;
    for (const auto& e : all)
      if (to_string(e.stage) == name) kept.push_back(e);
    return kept;
  }
  std::string ofa_yaml(double flops, const std::string& extra = "") {
    // One thread: CTest runs tests side by side, and oversubscribed OpenMP threads crawl.
    return "seed: 3\nparallel: {threads_per_worker: 1}\nspace: {name: ofa_mbv3, width_mult: 0.25, resolutions: [12, 16]}\n"
           "strategy:\n  name: ofa\n  checkpoint: " + path("ofa.pt") + "\n"
           "  dataset: {name: synthetic, shape: [1, 16, 16], classes: 4, train: 128, val: 64, test: 64, noise: 0.5}\n"
           "  supernet_training: {epochs: [1, 1, 1, 1, 1, 1], steps_per_epoch: 2, batch_size: 16}\n"
           "  bn_calibration: {images: 64, batch_size: 32}\n"
           "  predictor: {samples: 12, epochs: 30}\n"
           "  constraint: {flops: " + std::to_string(flops) + "}\n"
           "  evolution: {population: 10, generations: 3}\n"
           "  remeasure: 2\n" + extra;
  }
};

TEST_F(WeightSharingRunTest, OfaTrainsSavesReusesAndMeetsTheFlopsConstraint) {
  OfaSpec spec;
  spec.width_mult = 0.25;
  spec.resolutions = {12, 16};
  OfaSpace space(spec);
  const double constraint = (ofa_flops(spec, spec.smallest(), 1, 4) + ofa_flops(spec, spec.largest(), 1, 4)) / 2;
  const SearchSummary first = run_search(options(ofa_yaml(constraint)));
  EXPECT_EQ(first.status, "finished");
  EXPECT_TRUE(std::filesystem::exists(path("ofa.pt")));
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  const auto all = store.evaluations(first.run);
  // Training and the predictor's quality are curves, not evaluations of a stand-in architecture.
  EXPECT_EQ(store.curves(first.run, "supernet.train_loss").size(), 6u);  // one point per phase epoch
  EXPECT_EQ(stage(all, "measure").size(), 12u);
  EXPECT_EQ(store.curves(first.run, "predictor.spearman_heldout").size(), 1u);
  const auto finals = stage(all, "final");
  // The two winners, and the best feasible sub-network measured for the predictor unless it is one.
  ASSERT_GE(finals.size(), 2u);
  ASSERT_LE(finals.size(), 3u);
  EXPECT_EQ(all.size(), 12u + finals.size());
  double best_final = 0, best_measured = 0;
  for (const auto& e : finals) best_final = std::max(best_final, e.result.metrics.at("val_acc"));
  for (const auto& e : stage(all, "measure"))
    if (e.result.metrics.at("flops") <= constraint) best_measured = std::max(best_measured, e.result.metrics.at("val_acc"));
  EXPECT_GE(best_final, best_measured);
  EXPECT_DOUBLE_EQ(first.best_fitness, best_final);
  for (const auto& e : finals) {
    EXPECT_LE(e.result.metrics.at("flops"), constraint);
    EXPECT_EQ(e.result.metrics.at("satisfies_constraint"), 1);
    EXPECT_DOUBLE_EQ(e.result.metrics.at("flops"), ofa_flops(spec, space.parse(e.arch), 1, 4));
    EXPECT_GT(e.result.metrics.at("latency_ms"), 0);
  }
  // The second run loads the checkpoint instead of training, and finds the same winners; it gives
  // the bound as the run's `constraints`, the spelling every method shares.
  std::string moved = ofa_yaml(constraint, "constraints: {flops: {max: " + std::to_string(constraint) + "}}\n");
  const std::string own = "  constraint: {flops: " + std::to_string(constraint) + "}\n";
  moved.erase(moved.find(own), own.size());
  const SearchSummary second = run_search(options(moved));
  const auto again = store.evaluations(second.run);
  EXPECT_TRUE(store.curves(second.run, "supernet.").empty());
  ASSERT_EQ(stage(again, "final").size(), finals.size());
  EXPECT_EQ(stage(again, "final")[0].arch, finals[0].arch);
  EXPECT_DOUBLE_EQ(stage(again, "final")[0].result.metrics.at("val_acc"), finals[0].result.metrics.at("val_acc"));
}

TEST_F(WeightSharingRunTest, OfaLatencyConstraintBuildsAndReusesTheTable) {
  std::string yaml = ofa_yaml(0);
  yaml.replace(yaml.find("constraint: {flops: "), std::string("constraint: {flops: 0.000000}").size(), "constraint: {latency_ms: 1000}");
  yaml += "  latency_table: " + path("table.yaml") + "\n  latency_repeats: 2\n";
  run_search(options(yaml));
  ASSERT_TRUE(std::filesystem::exists(path("table.yaml")));
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  const auto finals = stage(store.evaluations(store.latest_run()->id), "final");
  ASSERT_FALSE(finals.empty());
  EXPECT_GT(finals[0].result.metrics.at("latency_predicted_ms"), 0);
  std::ofstream(path("table.yaml")) << "device: cpu\n";
  EXPECT_ERROR(run_search(options(yaml)), "not a latency table");
}

TEST_F(WeightSharingRunTest, VitResNasSearchesInsideItsMacsWindow) {
  const VitSpaceSpec spec = VitSpaceSpec::named("tiny", 8, 4);
  const double macs = (vit_macs(spec.smallest(), 56, 1, 4) + vit_macs(spec.largest(), 56, 1, 4)) / 2;
  const std::string yaml =
      "seed: 1\nparallel: {threads_per_worker: 1}\nspace: {name: vit_resnas, preset: tiny, width_divisor: 8, classes: 4}\n"
      "strategy:\n  name: vit_resnas\n  checkpoint: " + path("vit.pt") + "\n"
      "  dataset: {name: synthetic, shape: [1, 56, 56], classes: 4, train: 64, val: 32, test: 32, noise: 0.5}\n"
      "  supernet_training: {epochs: 2, warmup_width_epochs: 1, steps_per_epoch: 2, batch_size: 16, examples_per_arch: 4}\n"
      "  constraint: {macs: " + std::to_string(macs) + "}\n"
      "  evolution: {initial_population: 6, iterations: 2, parents: 3, mutations: 3, crossovers: 3}\n"
      "  remeasure: 2\n";
  const SearchSummary summary = run_search(options(yaml));
  EXPECT_EQ(summary.status, "finished");
  EXPECT_TRUE(std::filesystem::exists(path("vit.pt")));
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  const auto all = store.evaluations(summary.run);
  EXPECT_EQ(store.curves(summary.run, "supernet.train_loss").size(), 2u);
  EXPECT_GE(stage(all, "search").size(), 6u);
  const auto finals = stage(all, "final");
  ASSERT_EQ(finals.size(), 2u);
  for (const auto& e : finals) {
    EXPECT_LE(e.result.metrics.at("macs"), macs);
    EXPECT_GE(e.result.metrics.at("macs"), 0.975 * macs);
    EXPECT_DOUBLE_EQ(e.result.metrics.at("macs"), e.result.metrics.at("macs_formula"));
  }
  std::string moved = yaml + "constraints: {macs: {max: " + std::to_string(macs) + "}}\n";
  const std::string own = "  constraint: {macs: " + std::to_string(macs) + "}\n";
  moved.erase(moved.find(own), own.size());
  const SearchSummary second = run_search(options(moved));
  EXPECT_TRUE(store.curves(second.run, "supernet.").empty());
  EXPECT_EQ(second.best_arch, summary.best_arch);
}

TEST_F(WeightSharingRunTest, BadConfigsAndCheckpointsAreOneLineErrors) {
  OfaSpec spec;
  const std::string good = ofa_yaml(1e9);
  const auto without = [&](const std::string& line) {
    std::string yaml = good;
    yaml.erase(yaml.find(line), line.size());
    return yaml;
  };
  EXPECT_ERROR(run_search(options(without("  checkpoint: " + path("ofa.pt") + "\n"))), "strategy.checkpoint");
  EXPECT_ERROR(run_search(options(good + "evaluator: {name: train}\n")), "unknown key 'evaluator' for strategy ofa");
  EXPECT_ERROR(run_search(options(without("  constraint: {flops: 1000000000.000000}\n"))), "exactly one upper bound, on flops or latency_ms");
  EXPECT_ERROR(run_search(options(good + "constraints: {flops: {max: 1e9}}\n")), "give constraints or strategy.constraint, not both");
  const std::string bare = without("  constraint: {flops: 1000000000.000000}\n");
  EXPECT_ERROR(run_search(options(bare + "constraints: {flops: {min: 1e6, max: 1e9}}\n")), "ofa searches under one upper bound, on flops or latency_ms");
  EXPECT_ERROR(run_search(options(bare + "constraints: {params: {max: 1e6}}\n")), "ofa searches under one upper bound");
  EXPECT_ERROR(run_search(options(good + "objective: {metric: flops, mode: min}\n")), "ofa ranks sub-networks by val_acc (max), not flops (min)");
  EXPECT_ERROR(run_search(options(good + "objectives: [val_acc:max, flops:min]\n")), "unknown key 'objectives' for strategy ofa");
  EXPECT_ERROR(run_search(options(good + "  typo: 1\n")), "unknown key 'strategy.typo'");
  std::string other_space = good;
  const std::string ofa_space = "{name: ofa_mbv3, width_mult: 0.25, resolutions: [12, 16]}";
  other_space.replace(other_space.find(ofa_space), ofa_space.size(), "{name: nb201}");
  EXPECT_ERROR(run_search(options(other_space)), "space nb201 cannot be searched by ofa: it is not an elastic MobileNetV3 space");
  EXPECT_ERROR(run_search(options("space: {name: vit_resnas, preset: tiny, width_divisor: 8}\nstrategy: {name: vit_resnas, checkpoint: v.pt, "
                                  "dataset: {name: synthetic, shape: [1, 56, 56]}, constraint: {macs: 10}}\n")),
               "leaves no network in the window");
  SearchOptions resume = options(good + "  typo: 1\n");
  resume.resume = true;
  EXPECT_ERROR(run_search(resume), "unknown key 'strategy.typo'");
  EXPECT_FALSE(std::filesystem::exists(path("run.db")));
  write("ofa.pt", "not a checkpoint");
  EXPECT_ERROR(run_search(options(good)), "not a nascent supernet checkpoint");
  std::filesystem::remove(path("ofa.pt"));
  run_search(options(good));
  std::string reseeded = good;
  reseeded.replace(0, 7, "seed: 4");
  EXPECT_ERROR(run_search(options(reseeded)), "trained with another space, dataset, supernet_training or seed");
}

}  // namespace
}  // namespace nascent
