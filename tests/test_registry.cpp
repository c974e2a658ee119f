// Registries, declared options, plugins and the run driver's method lifecycle: what a user relies
// on when configuring a component, plugging one in, or stopping a run by its budget.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/config.hpp"
#include "core/options.hpp"
#include "core/registry.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"
#include "search_spaces/nb201/nb201.hpp"
#include "search_spaces/ofa/ofa.hpp"
#include "search_spaces/vit_resnas/vit_resnas.hpp"
#include "strategies/method.hpp"
#include "strategies/strategy.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

OptionTable example_table() {
  return OptionTable()
      .integer("population", 50, "individuals kept").at_least(1)
      .number("rate", 0.5, "a share").at_least(0).at_most(1)
      .text("mode", "fast", "how").one_of({"fast", "slow"})
      .texts("seeds", {}, "starting points")
      .section("inner", "nested", OptionTable().integer("depth", 3, "levels").at_least(0));
}

TEST(DeclaredOptions, ReadDefaultsAndGivenValues) {
  const OptionTable table = example_table();
  const Options defaults = table.read(Config::parse("name: x"), "strategy x");
  EXPECT_EQ(defaults.get<int>("population"), 50);
  EXPECT_EQ(defaults.get<double>("rate"), 0.5);
  EXPECT_EQ(defaults.get<std::string>("mode"), "fast");
  EXPECT_FALSE(defaults.given("population"));
  EXPECT_EQ(defaults.nested("inner").get<int>("depth"), 3);
  const Options given = table.read(Config::parse("{population: 7, mode: slow, inner: {depth: 1}}"), "strategy x");
  EXPECT_EQ(given.get<int>("population"), 7);
  EXPECT_EQ(given.get<std::string>("mode"), "slow");
  EXPECT_EQ(given.nested("inner").get<int>("depth"), 1);
}

TEST(DeclaredOptions, BadValuesAreOneLineErrorsNamingTheKey) {
  const OptionTable table = example_table();
  const auto read = [&](const std::string& yaml) { table.read(Config(Config::parse(yaml).node(), "strategy"), "strategy x"); };
  EXPECT_ERROR(read("{populaton: 3}"), "strategy x: unknown key 'strategy.populaton' (valid: name, population, rate, mode, seeds, inner)");
  EXPECT_ERROR(read("{population: 0}"), "strategy.population: 0 is out of range (>= 1)");
  EXPECT_ERROR(read("{population: ten}"), "strategy.population: expected an integer, got 'ten'");
  EXPECT_ERROR(read("{rate: 2}"), "strategy.rate: 2 is out of range ([0, 1])");
  EXPECT_ERROR(read("{mode: medium}"), "strategy.mode: expected one of fast|slow, got 'medium'");
  EXPECT_ERROR(read("{inner: {deep: 1}}"), "unknown key 'strategy.inner.deep' (valid: depth)");
  EXPECT_ERROR(read("{inner: 3}"), "strategy.inner: expected a mapping");
}

TEST(DeclaredOptions, DescribeListsEveryOptionWithDefaultRangeAndDoc) {
  const std::string table = example_table().describe();
  EXPECT_NE(table.find("population"), std::string::npos);
  EXPECT_NE(table.find(">= 1"), std::string::npos);
  EXPECT_NE(table.find("fast|slow"), std::string::npos);
  EXPECT_NE(table.find("inner.depth"), std::string::npos);
  EXPECT_NE(table.find("individuals kept"), std::string::npos);
}

// Every built-in component of every kind rejects an unknown key with one line naming the
// component, the key and the valid keys, so no component reads its keys by hand unchecked.
TEST(Registries, EveryComponentRejectsUnknownKeysWithTheValidOnes) {
  Registries& all = registries();
  const Config bogus = Config::parse("{bogus_key: 1}");
  const auto check = [&](const auto& registry) {
    for (const auto* entry : registry.list()) {
      const std::string message = error_of([&] { entry->options.read(bogus, registry.kind() + " " + entry->name); });
      EXPECT_NE(message.find(registry.kind() + " " + entry->name + ": unknown key 'bogus_key' (valid: "), std::string::npos) << message;
      EXPECT_FALSE(entry->options.describe().empty());
    }
    EXPECT_FALSE(registry.list().empty()) << registry.kind();
  };
  check(all.spaces);
  check(all.strategies);
  check(all.methods);
  check(all.evaluators);
  check(all.predictors);
  check(all.datasets);
  check(all.supernets);
  EXPECT_ERROR(all.strategies.create("nope", Config(), StrategyContext{Nb201Space(), ""}), "unknown strategy 'nope' (registered: ");
}

TEST(Registries, OptionsCommandPrintsTheDeclaredTable) {
  const CliOutput darts = run_cli("options strategy darts");
  ASSERT_EQ(darts.status, 0) << darts.out;
  for (const char* row : {"order", "hessian_radius", "arch_lr", "supernet", "1 (first order) or 2"})
    EXPECT_NE(darts.out.find(row), std::string::npos) << row << "\n" << darts.out;
  const CliOutput evolution = run_cli("options strategy evolution");
  EXPECT_NE(evolution.out.find("population"), std::string::npos) << evolution.out;
  const CliOutput kinds = run_cli("options strategy");
  EXPECT_NE(kinds.out.find("ofa"), std::string::npos);
  EXPECT_NE(kinds.out.find("robot"), std::string::npos);
  EXPECT_NE(run_cli("options evaluator train").out.find("keep_weights"), std::string::npos);
  EXPECT_NE(run_cli("options dataset fashion-mnist").out.find("val_size"), std::string::npos);
  EXPECT_NE(run_cli("options strategy ofa").out.find("supernet_training.schedule"), std::string::npos);
  const CliOutput bad = run_cli("options strategy nope");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("no strategy named 'nope'"), std::string::npos) << bad.out;
  EXPECT_EQ(run_cli("options widget").status, 1);
}

TEST(Plugins, ThePluginAddsASpaceAStrategyAndADataset) {
  const CliOutput strategies = run_cli(std::string("--plugin ") + NASCENT_EXAMPLE_PLUGIN + " options strategy hill_climb");
  EXPECT_EQ(strategies.status, 0) << strategies.out;
  EXPECT_NE(strategies.out.find("patience"), std::string::npos) << strategies.out;
  EXPECT_EQ(run_cli(std::string("--plugin ") + NASCENT_EXAMPLE_PLUGIN + " options dataset stripes").status, 0);
  EXPECT_EQ(run_cli(std::string("--plugin ") + NASCENT_EXAMPLE_PLUGIN + " options space chain").status, 0);
}

TEST(Plugins, APluginBuiltForAnotherAbiIsRefusedWithOneLine) {
  EXPECT_ERROR(load_plugin(NASCENT_OLD_ABI_PLUGIN), "built for plugin ABI " + std::to_string(kPluginAbiVersion - 1));
  const CliOutput cli = run_cli(std::string("--plugin ") + NASCENT_OLD_ABI_PLUGIN + " spaces");
  EXPECT_EQ(cli.status, 1);
  EXPECT_NE(cli.out.find("rebuild the plugin"), std::string::npos) << cli.out;
}

class DriverTest : public ScratchDirTest {
 protected:
  SearchOptions options(const std::string& yaml) const { return search_options(yaml); }
  static constexpr const char* kData = "{name: synthetic, shape: [1, 8, 8], classes: 4, train: 96, val: 32, test: 32, noise: 0.5}";
};

TEST_F(DriverTest, ASearchUsesThePluginsSpaceStrategyAndDataset) {
  const std::string config = write("plugin.yaml", std::string("plugins: [") + NASCENT_EXAMPLE_PLUGIN + "]\n" + R"(
seed: 3
space: {name: chain}
strategy: {name: hill_climb, patience: 2}
evaluator:
  name: train
  dataset: {name: stripes, size: 8, train: 192, val: 96, test: 48}
  steps: 30
  batch_size: 32
  lr: 0.05
  latency: false
budget: {evaluations: 6}
)");
  const CliOutput search = run_cli("search " + config + " --db " + path("run.db") + " --quiet");
  ASSERT_EQ(search.status, 0) << search.out;
  EXPECT_NE(search.out.find("run 1 finished: 6 evaluations"), std::string::npos) << search.out;
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  const auto run = store.latest_run();
  EXPECT_EQ(run->strategy, "hill_climb");
  const auto evaluations = store.evaluations(run->id);
  ASSERT_EQ(evaluations.size(), 6u);
  double best = 0;
  for (const auto& e : evaluations) {
    EXPECT_EQ(e.space, "chain");
    EXPECT_TRUE(e.result.ok) << e.result.error;
    best = std::max(best, e.result.metrics.at("val_acc"));
  }
  EXPECT_GT(best, 50.0);  // three classes: chance is 33%
}

// A space from outside nascent's tree that implements the cell-supernet capability: DARTS searches
// it without knowing it.
class TestCells final : public Nb201Space {
 public:
  TestCells() : Nb201Space(4, 1) {}
  std::string name() const override { return "test_cells"; }
};

TEST_F(DriverTest, DartsSearchesAnySpaceWithTheCellSupernetCapability) {
  registries().spaces.add("test_cells", "NB201 cells under another name (test)", OptionTable(),
                          [](const Options&) -> std::unique_ptr<SearchSpace> { return std::make_unique<TestCells>(); });
  const std::string yaml = std::string("seed: 1\nparallel: {threads_per_worker: 1}\nspace: {name: test_cells}\n") +
                           "strategy: {name: darts, epochs: 1, batch_size: 16, steps_per_epoch: 2, supernet: {channels: 4, cells_per_stage: 1}, dataset: " +
                           kData + "}\n";
  const SearchSummary summary = run_search(options(yaml));
  EXPECT_EQ(summary.status, "finished");
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  const auto evaluations = store.evaluations(summary.run);
  ASSERT_EQ(evaluations.size(), 1u);
  EXPECT_EQ(evaluations[0].space, "test_cells");
  EXPECT_EQ(TestCells().canonical(evaluations[0].arch), evaluations[0].arch);
  std::filesystem::remove(path("run.db"));
  EXPECT_ERROR(run_search(options("space: {name: einspace}\nstrategy: {name: darts, dataset: " + std::string(kData) + "}\n")),
               "space einspace cannot be searched by darts: it builds no cell supernet");
  EXPECT_FALSE(std::filesystem::exists(path("run.db")));
}

TEST_F(DriverTest, BudgetSecondsStopsADartsRunAtTheNextStep) {
  const std::string yaml = std::string("seed: 1\nparallel: {threads_per_worker: 1}\nspace: {name: nb201}\nbudget: {seconds: 0.5}\n") +
                           "strategy: {name: darts, epochs: 50, batch_size: 16, supernet: {channels: 4, cells_per_stage: 1}, dataset: " +
                           "{name: synthetic, shape: [1, 8, 8], classes: 4, train: 4000, val: 32, test: 32}}\n"
                           "final_training: {name: train, steps: 2, batch_size: 16, dataset: " + kData + "}\n";
  // The first epoch alone takes longer than the budget: the run stops inside it, storing nothing.
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(run_search(options(yaml)).status, "budget");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), 20);
  {
    ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
    EXPECT_EQ(store.latest_run()->status, "budget");
    EXPECT_TRUE(store.evaluations(store.latest_run()->id).empty());
  }
  // With an epochs budget the run stops after that epoch and still trains the derived cell.
  std::filesystem::remove(path("run.db"));
  std::string by_epochs = yaml;
  by_epochs.replace(by_epochs.find("{seconds: 0.5}"), 14, "{epochs: 1}");
  by_epochs.replace(by_epochs.find("train: 4000"), 11, "train: 96");
  const SearchSummary summary = run_search(options(by_epochs));
  EXPECT_EQ(summary.status, "budget");
  ResultStore again(path("run.db"), ResultStore::Mode::ReadOnly);
  EXPECT_EQ(again.latest_run()->status, "budget");
  EXPECT_EQ(again.evaluations(summary.run).size(), 2u);
}

TEST_F(DriverTest, BudgetSecondsStopsAnOfaRunAndMarksIt) {
  const std::string yaml = "seed: 3\nparallel: {threads_per_worker: 1}\nspace: {name: ofa_mbv3, width_mult: 0.25, resolutions: [12, 16]}\n"
                           "budget: {seconds: 1}\n"
                           "strategy:\n  name: ofa\n  checkpoint: " + path("ofa.pt") + "\n"
                           "  dataset: {name: synthetic, shape: [1, 16, 16], classes: 4, train: 128, val: 64, test: 64, noise: 0.5}\n"
                           "  supernet_training: {epochs: [50, 1, 1, 1, 1, 1], batch_size: 16}\n"
                           "  predictor: {samples: 12, epochs: 30}\n"
                           "  constraint: {flops: 1e9}\n";
  const SearchSummary summary = run_search(options(yaml));
  EXPECT_EQ(summary.status, "budget");
  EXPECT_LT(summary.elapsed, 30);
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  EXPECT_EQ(store.latest_run()->status, "budget");
  // A stopped training leaves no checkpoint to be mistaken for a trained supernet.
  EXPECT_FALSE(std::filesystem::exists(path("ofa.pt")));
}

// A space that is not one of nascent's classes: it forwards to a built-in space it holds and adds
// only a capability, so the OFA and ViT-ResNAS methods cannot reach the built-in class by a cast.
class ForwardingSpace : public SearchSpace {
 public:
  ForwardingSpace(std::string name, std::unique_ptr<SearchSpace> inner) : name_(std::move(name)), inner_(std::move(inner)) {}
  std::string name() const override { return name_; }
  std::string sample(Rng& rng) const override { return inner_->sample(rng); }
  std::string mutate(const std::string& arch, Rng& rng) const override { return inner_->mutate(arch, rng); }
  std::string canonical(const std::string& text) const override { return inner_->canonical(text); }
  std::vector<double> encode(const std::string& arch) const override { return inner_->encode(arch); }
  ArchGraph graph(const std::string& arch) const override { return inner_->graph(arch); }
  Description describe(const std::string& arch, const Task& task) const override { return inner_->describe(arch, task); }
  std::shared_ptr<Network> build(const std::string& arch, const Task& task) const override { return inner_->build(arch, task); }

 private:
  std::string name_;
  std::unique_ptr<SearchSpace> inner_;
};

class ElasticOnly final : public ForwardingSpace, public ElasticMbv3Space {
 public:
  explicit ElasticOnly(const OfaSpec& spec) : ForwardingSpace("elastic_only", std::make_unique<OfaSpace>(spec)), spec_(spec) {}
  const OfaSpec& elastic_mbv3() const override { return spec_; }

 private:
  OfaSpec spec_;
};

class VitOnly final : public ForwardingSpace, public VitResNasSupernetSpace {
 public:
  explicit VitOnly(const VitSpaceSpec& spec) : ForwardingSpace("vit_only", std::make_unique<VitResNasSpace>(spec)), spec_(spec) {}
  const VitSpaceSpec& vit_resnas() const override { return spec_; }

 private:
  VitSpaceSpec spec_;
};

TEST_F(DriverTest, OfaAndVitResNasSearchAnySpaceWithTheirSupernetCapability) {
  OfaSpec ofa;
  ofa.width_mult = 0.25;
  ofa.resolutions = {12, 16};
  registries().spaces.add("elastic_only", "an elastic MobileNetV3 space outside nascent (test)", OptionTable(),
                          [ofa](const Options&) -> std::unique_ptr<SearchSpace> { return std::make_unique<ElasticOnly>(ofa); });
  const std::string ofa_yaml = "seed: 3\nparallel: {threads_per_worker: 1}\nspace: {name: elastic_only}\n"
                               "strategy:\n  name: ofa\n  checkpoint: " + path("ofa.pt") + "\n"
                               "  dataset: {name: synthetic, shape: [1, 16, 16], classes: 4, train: 64, val: 32, test: 32, noise: 0.5}\n"
                               "  supernet_training: {epochs: [1, 1, 1, 1, 1, 1], steps_per_epoch: 1, batch_size: 16}\n"
                               "  bn_calibration: {images: 32, batch_size: 32}\n"
                               "  predictor: {samples: 10, epochs: 5}\n"
                               "  constraint: {flops: 1e9}\n"
                               "  evolution: {population: 4, generations: 1}\n"
                               "  remeasure: 1\n";
  const SearchSummary elastic = run_search(options(ofa_yaml));
  EXPECT_EQ(elastic.status, "finished");
  EXPECT_EQ(ElasticOnly(ofa).canonical(elastic.best_arch), elastic.best_arch);
  {
    ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
    const auto evaluations = store.evaluations(elastic.run);
    ASSERT_FALSE(evaluations.empty());
    for (const auto& e : evaluations) EXPECT_EQ(e.space, "elastic_only");
  }
  std::filesystem::remove(path("run.db"));

  const VitSpaceSpec vit = VitSpaceSpec::named("tiny", 8, 4);
  registries().spaces.add("vit_only", "a multi-stage ViT space outside nascent (test)", OptionTable(),
                          [vit](const Options&) -> std::unique_ptr<SearchSpace> { return std::make_unique<VitOnly>(vit); });
  const std::string vit_yaml = "seed: 1\nparallel: {threads_per_worker: 1}\nspace: {name: vit_only}\n"
                               "strategy:\n  name: vit_resnas\n  checkpoint: " + path("vit.pt") + "\n"
                               "  dataset: {name: synthetic, shape: [1, 56, 56], classes: 4, train: 32, val: 16, test: 16, noise: 0.5}\n"
                               "  supernet_training: {epochs: 1, warmup_width_epochs: 0, steps_per_epoch: 1, batch_size: 16, examples_per_arch: 4}\n"
                               "  constraint: {macs: " + std::to_string(vit_macs(vit.largest(), 56, 1, 4)) + "}\n"
                               "  evolution: {initial_population: 4, iterations: 1, parents: 2, mutations: 2, crossovers: 2}\n"
                               "  remeasure: 1\n";
  const SearchSummary transformer = run_search(options(vit_yaml));
  EXPECT_EQ(transformer.status, "finished");
  EXPECT_EQ(VitOnly(vit).canonical(transformer.best_arch), transformer.best_arch);
  std::filesystem::remove(path("run.db"));
  EXPECT_ERROR(run_search(options("space: {name: nb201}\nstrategy: {name: vit_resnas, checkpoint: v.pt, constraint: {macs: 1e9}, dataset: " + std::string(kData) + "}\n")),
               "space nb201 cannot be searched by vit_resnas: it is not a ViT-ResNAS space");
}

TEST_F(DriverTest, UnacceptedSectionsAndBudgetKeysAreOneLineErrors) {
  const std::string base = std::string("space: {name: nb201}\nstrategy: {name: darts, epochs: 1, dataset: ") + kData + "}\n";
  EXPECT_ERROR(run_search(options(base + "evaluator: {name: train}\n")), "unknown key 'evaluator' for strategy darts (besides the run's keys it accepts: nothing)");
  EXPECT_ERROR(run_search(options(base + "budget: {evaluations: 3}\n")), "strategy darts: unknown key 'budget.evaluations' (valid: seconds, epochs)");
  EXPECT_ERROR(run_search(options("space: {name: nb201}\nstrategy: {name: evolution}\nevaluator: {name: table, path: x.csv, metric: a}\n")),
               "budget needs at least one of evaluations, seconds or cost");
  EXPECT_ERROR(run_search(options("space: {name: nb201}\nstrategy: {name: nope}\n")), "unknown strategy 'nope' (methods: asha, darts, hyperband, ofa, rarts, successive_halving, vit_resnas; ask/tell strategies: ");
  EXPECT_FALSE(std::filesystem::exists(path("run.db")));
}

}  // namespace
}  // namespace nascent
