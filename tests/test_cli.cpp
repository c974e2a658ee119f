#include <gtest/gtest.h>

#include "core/registry.hpp"
#include "search_spaces/einspace/einspace.hpp"

#include "tests/test_support.hpp"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "search_spaces/nb201/nb201.hpp"

namespace {

namespace fs = std::filesystem;

using Result = nascent::CliOutput;

Result run(const std::string& arguments) { return nascent::run_cli(arguments); }

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> result;
  std::stringstream stream(text);
  for (std::string line; std::getline(stream, line);) result.push_back(line);
  return result;
}

TEST(Cli, SpacesListsBuiltinsAndPlugins) {
  EXPECT_NE(run("spaces").out.find("nb201"), std::string::npos);
  const Result with_plugin = run(std::string("--plugin ") + NASCENT_EXAMPLE_PLUGIN + " spaces");
  EXPECT_EQ(with_plugin.status, 0) << with_plugin.out;
  EXPECT_NE(with_plugin.out.find("chain"), std::string::npos);
}

TEST(Cli, SamplePrintsValidReproducibleArchitectures) {
  const Result a = run("sample nb201 -n 5 --seed 4");
  ASSERT_EQ(a.status, 0) << a.out;
  const auto archs = lines(a.out);
  ASSERT_EQ(archs.size(), 5u);
  nascent::Nb201Space space;
  for (const auto& arch : archs) EXPECT_EQ(space.canonical(arch), arch);
  EXPECT_EQ(run("sample nb201 -n 5 --seed 4").out, a.out);
  EXPECT_NE(run("sample nb201 -n 5 --seed 5").out, a.out);
}

TEST(Cli, DescribeReportsPublishedFigures) {
  const Result r = run("describe nb201 '|avg_pool_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_1x1~2|'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("params       129306"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("flops        19248832"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nor_conv_1x1"), std::string::npos);
}

TEST(Cli, DescribeDrawsTheGraphAsDot) {
  const std::string cell = "'|avg_pool_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_1x1~2|'";
  const Result text = run("describe nb201 " + cell);
  const Result dot = run("describe nb201 " + cell + " --format dot");
  ASSERT_EQ(dot.status, 0) << dot.out;
  EXPECT_EQ(dot.out.rfind("digraph G {", 0), 0u) << dot.out;
  // One DOT vertex per line of the text listing after "graph".
  const std::size_t listed = lines(text.out.substr(text.out.find("graph\n") + 6)).size();
  std::size_t vertices = 0;
  for (const auto& line : lines(dot.out)) vertices += line.find("[label=") != std::string::npos && line.find("->") == std::string::npos;
  EXPECT_EQ(vertices, listed) << dot.out;
  EXPECT_NE(dot.out.find("label=nor_conv_1x1"), std::string::npos) << dot.out;
  EXPECT_EQ(run("describe nb201 " + cell + " --format svg").status, 2);
}

TEST(Cli, ScorePrintsEachRequestedPredictor) {
  const std::string cell = "'|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|'";
  const std::string small = " --option channels=4 --option cells_per_stage=1 --dataset synthetic --input 3x8x8 --batch 8";
  const Result r = run("score nb201 " + cell + " --metric synflow,params,hidden_cov@stem" + small);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto rows = lines(r.out);
  ASSERT_EQ(rows.size(), 4u) << r.out;
  EXPECT_EQ(rows[1].rfind("synflow ", 0), 0u) << r.out;
  EXPECT_EQ(rows[3].rfind("hidden_cov@stem ", 0), 0u) << r.out;
  // Same seed, same scores (the last column is the time taken).
  const auto scores_only = [](const std::string& out) {
    std::string kept;
    for (const auto& row : lines(out)) {
      std::stringstream fields(row);
      std::string name, score;
      fields >> name >> score;
      kept += name + " " + score + "\n";
    }
    return kept;
  };
  EXPECT_EQ(scores_only(run("score nb201 " + cell + " --metric synflow,params,hidden_cov@stem" + small).out),
            scores_only(r.out));

  const Result unknown = run("score nb201 " + cell + " --metric synflw" + small);
  EXPECT_EQ(unknown.status, 1);
  EXPECT_EQ(lines(unknown.out).size(), 1u) << unknown.out;
  EXPECT_NE(unknown.out.find("unknown predictor 'synflw'"), std::string::npos) << unknown.out;
  const Result bad_arch = run("score nb201 '|bogus|' --metric synflow" + small);
  EXPECT_EQ(bad_arch.status, 1);
  EXPECT_NE(bad_arch.out.find("cannot parse"), std::string::npos) << bad_arch.out;
}

// A transformer metric on a benchmark entry, scored on WordNet glosses (the default text batch).
TEST(Cli, ScoresTransformerMetricsOnAGlossBatch) {
  const std::string entry =
      R"('{"hparams": {"model_hparam_overrides": {"hidden_size": 128, "nas_config": {"encoder_layers": [)"
      R"({"operation_type": "SA", "operation_parameter": "SDP", "num_operation_heads": 2, "feed_forward_dimension": 512, "num_feed_forward": 1},)"
      R"({"operation_type": "LT", "operation_parameter": "DFT", "num_operation_heads": 4, "feed_forward_dimension": 1024, "num_feed_forward": 3}]}}}}')";
  const std::string command = "score flexibert " + entry + " --metric head_confidence,jacobian_score --input 16 --batch 8";
  const Result r = run(command);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto rows = lines(r.out);
  ASSERT_EQ(rows.size(), 3u) << r.out;
  EXPECT_EQ(rows[1].rfind("head_confidence ", 0), 0u) << r.out;
  std::stringstream fields(rows[1]);
  std::string name;
  double value = 0;
  fields >> name >> value;
  EXPECT_GT(value, 0) << r.out;
  const Result images = run(command + " --dataset fashion-mnist");
  EXPECT_EQ(images.status, 1);
  EXPECT_EQ(lines(images.out).size(), 1u) << images.out;
  EXPECT_NE(images.out.find("--input"), std::string::npos) << images.out;
}

TEST(Cli, BadInputIsOneLineError) {
  for (const std::string& args :
       {std::string("describe nb201 '|nor_conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|'"),
        std::string("sample nope"), std::string("search /nonexistent.yaml"),
        std::string("describe nb201 '|none~0|' --input 3xfoo")}) {
    const Result r = run(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.out;
    EXPECT_EQ(lines(r.out).size(), 1u) << r.out;
    EXPECT_EQ(r.out.rfind("nascent: ", 0), 0u) << r.out;
  }
}

// docs/options.md is generated from the declarations (`nascent options all --format markdown`);
// regenerate it when an option changes: build/nascent options all --format markdown > docs/options.md
TEST(Cli, TheOptionsPageIsWhatTheDeclarationsSay) {
  const Result generated = run("options all --format markdown");
  ASSERT_EQ(generated.status, 0) << generated.out;
  std::ifstream page(std::string(NASCENT_SOURCE_DIR) + "/docs/options.md");
  std::stringstream text;
  text << page.rdbuf();
  EXPECT_EQ(text.str(), generated.out) << "docs/options.md is stale: regenerate it with "
                                          "build/nascent options all --format markdown > docs/options.md";
  EXPECT_NE(generated.out.find("### `cifar10`"), std::string::npos);
  EXPECT_NE(generated.out.find("| `augment.crop_padding` | integer |"), std::string::npos) << generated.out.substr(0, 2000);
  const Result one = run("options strategy darts --format markdown");
  EXPECT_NE(one.out.find("| `order` | integer | `1` | [1, 2] |"), std::string::npos) << one.out;
}

TEST(Cli, HelpVersionAndMistypedCommands) {
  const Result typo = run("serch config.yaml");
  EXPECT_EQ(typo.status, 2);
  EXPECT_EQ(typo.out, "nascent: unknown command 'serch' (did you mean 'search'?)\n");
  const Result far = run("--plugin x.so frobnicate");
  EXPECT_EQ(far.status, 2);
  EXPECT_NE(far.out.find("unknown command 'frobnicate' (commands: "), std::string::npos) << far.out;
  const Result help = run("help train");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--resume"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--eval"), std::string::npos) << help.out;
  EXPECT_EQ(run("help expotr").out, "nascent: unknown command 'expotr' (did you mean 'export'?)\n");
  const Result version = run("--version");
  EXPECT_EQ(version.status, 0);
  EXPECT_EQ(version.out.rfind("nascent ", 0), 0u) << version.out;
}

}  // namespace

namespace {

class CliSearch : public nascent::ScratchDirTest {
 protected:
  std::string write_config(const std::string& text) {
    std::ofstream((dir_ / "config.yaml").string()) << text;
    return (dir_ / "config.yaml").string();
  }
  std::string db() const { return (dir_ / "results.db").string(); }

  // Starts `nascent search ARGS` in the background and returns its pid once `evaluations` are
  // stored (or after 20 s), so a test can interrupt a run that is surely under way.
  int start_search_after_evaluations(const std::string& args, int evaluations) {
    return nascent::start_search_after(args, db(), path("out.txt"), evaluations);
  }
};

// A config for the example plugin's space, trained on synthetic data: quick but real training.
const char* kPluginConfig = R"(
seed: 5
space: {name: chain}
strategy: {name: evolution, population: 4, sample: 2}
evaluator:
  name: train
  dataset: {name: synthetic, shape: [1, 8, 8], classes: 3, train: 256, val: 128, test: 64}
  steps: 40
  batch_size: 32
  lr: 0.05
budget: {evaluations: 8}
)";

TEST_F(CliSearch, PluginSpaceSearchStoresResultsQueryableFromTheCli) {
  const std::string config = write_config(std::string("plugins: [") + NASCENT_EXAMPLE_PLUGIN + "]\n" + kPluginConfig);
  const Result search = run("search " + config + " --db " + db() + " --quiet");
  ASSERT_EQ(search.status, 0) << search.out;
  EXPECT_NE(search.out.find("run 1 finished: 8 evaluations"), std::string::npos) << search.out;

  const Result json = run("results top -k 3 --db " + db() + " --format json");
  ASSERT_EQ(json.status, 0) << json.out;
  const auto top = nlohmann::json::parse(json.out);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0]["space"], "chain");
  EXPECT_GE(top[0]["metrics"]["val_acc"].get<double>(), top[1]["metrics"]["val_acc"].get<double>());
  EXPECT_GT(top[0]["metrics"]["val_acc"].get<double>(), 50.0);  // chance is 33%

  const Result csv = run("results export --db " + db() + " --format csv");
  EXPECT_EQ(lines(csv.out).size(), 9u) << csv.out;
  const Result runs = run("results runs --db " + db() + " --format json");
  EXPECT_EQ(nlohmann::json::parse(runs.out).at(0)["status"], "finished");
  const Result pareto = run("results pareto --db " + db() + " --objectives val_acc:max,params:min --format json");
  ASSERT_EQ(pareto.status, 0) << pareto.out;
  EXPECT_GE(nlohmann::json::parse(pareto.out).size(), 1u);
  const Result bad = run("results pareto --db " + db() + " --objectives val_acc:max,size:min");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("no stored evaluation has a metric 'size'"), std::string::npos) << bad.out;
}

// With both an evaluations and a seconds budget, the time left follows the one that ends the run
// first: a fast 8-evaluation run never shows the hour of its seconds budget, and ends at 0s.
TEST_F(CliSearch, ProgressCountsDownTheBudgetThatEndsTheRunFirst) {
  const std::string config = write_config(std::string("plugins: [") + NASCENT_EXAMPLE_PLUGIN + "]\n" + kPluginConfig +
                                          "parallel: {workers: 1}\n");
  const Result search = run("search " + config + " --db " + db() + " --set budget.seconds=3600");
  ASSERT_EQ(search.status, 0) << search.out;
  const std::vector<std::string> all = lines(search.out);
  std::vector<std::string> progress;
  for (const auto& line : all)
    if (line.rfind("[", 0) == 0) progress.push_back(line);
  ASSERT_EQ(progress.size(), 8u) << search.out;
  for (const auto& line : progress) EXPECT_EQ(line.find("m left"), std::string::npos) << line;
  EXPECT_NE(progress.back().find("~0s left"), std::string::npos) << progress.back();
}

TEST_F(CliSearch, KilledRunResumesToTheUninterruptedResult) {
  const std::string config = write_config(std::string("plugins: [") + NASCENT_EXAMPLE_PLUGIN + "]\n" + kPluginConfig);
  // The reference: the same run, never interrupted.
  ASSERT_EQ(run("search " + config + " --db " + (dir_ / "reference.db").string() + " --quiet --set budget.evaluations=12 --set evaluator.steps=250").status, 0);

  const int pid = start_search_after_evaluations(
      config + " --db " + db() + " --quiet --set budget.evaluations=12 --set evaluator.steps=250", 3);
  ASSERT_GT(pid, 0);
  // Kill -9 now: no chance to clean up.
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  waitpid(pid, nullptr, 0);
  const auto stored = lines(run("results export --db " + db() + " --format csv").out);
  ASSERT_GE(stored.size(), 4u);
  ASSERT_LT(stored.size(), 13u) << "the run finished before it could be killed";

  const Result resumed = run("search " + config + " --db " + db() + " --quiet --resume --set budget.evaluations=12 --set evaluator.steps=250");
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  // Same candidates and the same metrics, except timing, as the uninterrupted run.
  const auto strip = [](const std::string& json_text) {
    auto array = nlohmann::json::parse(json_text);
    for (auto& e : array) {
      for (const char* key : {"seconds", "cost", "created_at"}) e.erase(key);
      e["metrics"].erase("train_seconds");
      e["metrics"].erase("latency_ms");
    }
    return array;
  };
  const auto reference = strip(run("results export --db " + (dir_ / "reference.db").string() + " --format json").out);
  const auto continued = strip(run("results export --db " + db() + " --format json").out);
  EXPECT_EQ(continued.size(), 12u);
  EXPECT_EQ(continued, reference);
  EXPECT_EQ(nlohmann::json::parse(run("results runs --db " + db() + " --format json").out).size(), 1u);
}

TEST_F(CliSearch, InterruptFinishesInFlightWorkAndMarksTheRun) {
  const std::string config = write_config(std::string("plugins: [") + NASCENT_EXAMPLE_PLUGIN + "]\n" + kPluginConfig);
  const int pid = start_search_after_evaluations(
      config + " --db " + db() + " --quiet --set budget.evaluations=100 --set evaluator.steps=250", 2);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int status = 0;
  waitpid(pid, &status, 0);
  // The shell that started it is gone, so wait for the process itself to disappear.
  for (int i = 0; i < 1000 && kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto runs = nlohmann::json::parse(run("results runs --db " + db() + " --format json").out);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "interrupted");
  EXPECT_LT(runs[0]["evaluations"].get<int>(), 100);
  EXPECT_GE(runs[0]["evaluations"].get<int>(), 2);
}

// A stop that is followed by SIGKILL before the work in flight finishes (mpirun ending a job, a
// Slurm or docker stop) still leaves the run marked interrupted, not running.
TEST_F(CliSearch, TerminateThenKillLeavesTheRunInterrupted) {
  const std::string config = write_config(std::string("plugins: [") + NASCENT_EXAMPLE_PLUGIN + "]\n" + kPluginConfig);
  const int pid = start_search_after_evaluations(
      config + " --db " + db() + " --quiet --set budget.evaluations=100 --set evaluator.steps=3000 --set parallel.workers=1", 1);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(kill(pid, SIGKILL), 0) << "the run ended within 0.3 s of SIGTERM: the test needs a longer evaluation";
  waitpid(pid, nullptr, 0);
  for (int i = 0; i < 1000 && kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto runs = nlohmann::json::parse(run("results runs --db " + db() + " --format json").out);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "interrupted");
}

// The data examples as shipped: CIFAR-10's runs end to end on a small folder in the published
// binary layout (search, final training, export); the image-folder example names its missing folder.
TEST_F(CliSearch, DataExamplesRunOnTheirFormats) {
  const std::string cifar = (dir_ / "cifar").string();
  std::filesystem::create_directories(cifar);
  const auto batch = [&](const std::string& name, int records, int offset) {
    std::ofstream out(cifar + "/" + name, std::ios::binary);
    for (int r = 0; r < records; ++r) {
      const int label = (r + offset) % 10;
      out.put(static_cast<char>(label));
      // Each class a brightness, plus a pattern: learnable, and every byte value in use.
      for (int i = 0; i < 3072; ++i) out.put(static_cast<char>((label * 25 + (i * 7 + r) % 13) & 0xff));
    }
  };
  for (int b = 1; b <= 5; ++b) batch("data_batch_" + std::to_string(b) + ".bin", 20, b);
  batch("test_batch.bin", 20, 0);
  const std::string data = " --set evaluator.dataset.path=" + cifar + " --set final_training.dataset.path=" + cifar;
  const std::string small =
      " --set evaluator.dataset.val_size=20 --set final_training.dataset.val_size=20 --set evaluator.dataset.train_subset=0"
      " --set evaluator.dataset.val_subset=0 --set evaluator.dataset.test_subset=0 --set budget.evaluations=2"
      " --set evaluator.epochs=1 --set final_training.epochs=1 --set parallel.workers=1 --set strategy.population=2 --set strategy.sample=2";
  const Result search = run("search " + std::string(NASCENT_SOURCE_DIR) + "/examples/cifar10-evolution.yaml --quiet --db " + db() + data + small);
  ASSERT_EQ(search.status, 0) << search.out;
  EXPECT_NE(search.out.find("run 1 finished: 3 evaluations"), std::string::npos) << search.out;
  const Result exported = run("export --db " + db() + " --eval 1:2 --out " + (dir_ / "cifar.pt").string());
  EXPECT_EQ(exported.status, 0) << exported.out;

  const std::string shipped = (dir_ / "shipped.db").string();
  const Result train_and_export = run(
      "search " + std::string(NASCENT_SOURCE_DIR) + "/examples/train-and-export.yaml --quiet --db " + shipped +
      " --set budget.evaluations=2 --set parallel.workers=1 --set evaluator.dataset.train_subset=200 --set evaluator.epochs=1"
      " --set final_training.epochs=1 --set final_training.dataset.train_subset=300 --set final_training.dataset.test_subset=100");
  ASSERT_EQ(train_and_export.status, 0) << train_and_export.out;
  EXPECT_TRUE(std::filesystem::exists(shipped + ".models/run-1.weights"));
  EXPECT_EQ(run("export --db " + shipped + " --eval 1:2 --out " + (dir_ / "winner.pt").string()).status, 0);

  const Result images = run("search " + std::string(NASCENT_SOURCE_DIR) + "/examples/image-folder.yaml --quiet --db " + db() +
                            " --set evaluator.dataset.path=" + (dir_ / "no-images").string());
  EXPECT_EQ(images.status, 1);
  EXPECT_NE(images.out.find("no-images"), std::string::npos) << images.out;
  EXPECT_EQ(lines(images.out).size(), 1u) << images.out;
}

TEST_F(CliSearch, ForeignDatabaseIsRefusedAndLeftAlone) {
  { std::ofstream(db()) << "precious notes, not a database......................................................"; }
  const std::string config = write_config(std::string("plugins: [") + NASCENT_EXAMPLE_PLUGIN + "]\n" + kPluginConfig);
  const Result r = run("search " + config + " --db " + db());
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(lines(r.out).size(), 1u) << r.out;
  std::ifstream in(db());
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content.rfind("precious notes", 0), 0u);
}

}  // namespace

namespace {

TEST(CliExamples, TableExamplesRunAndReportTheirBest) {
  const std::string csv = std::string(NASCENT_SOURCE_DIR) + "/../shared/data/nas-bench-201/nb201.csv";
  if (!fs::exists(csv)) GTEST_SKIP() << "no " << csv;
  const fs::path dir = fs::temp_directory_path() / ("nascent-examples-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const std::string example : {"nb201-table-evolution", "nb201-table-random", "nb201-nsga2-table"}) {
    const std::string db = (dir / (example + ".db")).string();
    // From another working directory, so the data path must resolve against the config's folder.
    const Result r = run("search " + std::string(NASCENT_SOURCE_DIR) + "/examples/" + example + ".yaml --db " + db);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("[300/300]"), std::string::npos);  // progress on stderr
    EXPECT_NE(r.out.find("run 1 finished: 300 evaluations"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("cifar10_test_200ep"), std::string::npos);
    const Result quiet = run("search " + std::string(NASCENT_SOURCE_DIR) + "/examples/" + example + ".yaml --quiet --db " +
                             (dir / "quiet.db").string() + " --set budget.evaluations=5");
    EXPECT_EQ(quiet.out.find("[1/5]"), std::string::npos) << quiet.out;
    fs::remove(dir / "quiet.db");
  }
  fs::remove_all(dir);
}

TEST(CliExamples, RobotTableExampleReachesThePublishedAccuracy) {
  const std::string zc = std::string(NASCENT_SOURCE_DIR) + "/../shared/data/nas-bench-201/zc_proxies_cifar10.csv";
  if (!fs::exists(zc)) GTEST_SKIP() << "no " << zc;
  const fs::path dir = fs::temp_directory_path() / ("nascent-robot-example-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string db = (dir / "robot.db").string();
  const Result r = run("search " + std::string(NASCENT_SOURCE_DIR) + "/examples/nb201-robot-table.yaml --quiet --db " + db);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("run 1 finished: 20 evaluations"), std::string::npos) << r.out;
  const auto top = nlohmann::json::parse(run("results top --db " + db + " -k 1 --format json").out);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_GE(top[0]["metrics"]["cifar10_test_200ep"].get<double>(), 94.3) << top.dump();
  fs::remove_all(dir);
}

// The training-free example's config is valid and runs end to end (shrunk to seconds here).
TEST(CliExamples, TrainingFreeExampleScoresThenTrains) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const fs::path dir = fs::temp_directory_path() / ("nascent-tf-example-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string db = (dir / "tf.db").string();
  const Result r = run("search " + std::string(NASCENT_SOURCE_DIR) + "/examples/nb201-training-free.yaml --db " + db +
                       " --set strategy.pool=4 --set strategy.top_k=1 --set budget.evaluations=1"
                       " --set evaluator.epochs=0.05 --set evaluator.dataset.test_subset=64");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("[scored 4/4]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("run 1 finished: 1 evaluations"), std::string::npos) << r.out;
  const auto all = nlohmann::json::parse(run("results show --db " + db + " --format json").out);
  ASSERT_EQ(all["evaluations"].size(), 5u) << all.dump();
  EXPECT_EQ(all["evaluations"][0]["stage"], "score");
  EXPECT_TRUE(all["evaluations"][0]["metrics"].contains("nwot"));
  EXPECT_EQ(all["evaluations"][4]["stage"], "query");
  fs::remove_all(dir);
}

// The einspace example's config is valid: the four seeds are trained first, then children.
TEST(CliExamples, EinspaceEvolutionExampleTrainsTheSeedsThenMutates) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const fs::path dir = fs::temp_directory_path() / ("nascent-einspace-example-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string db = (dir / "e.db").string();
  const Result r = run("search " + std::string(NASCENT_SOURCE_DIR) + "/examples/einspace-evolution.yaml --quiet --db " + db +
                       " --set budget.evaluations=6 --set evaluator.epochs=0.05 --set evaluator.dataset.val_size=128"
                       " --set evaluator.dataset.test_subset=64");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto all = nlohmann::json::parse(run("results show --db " + db + " --format json").out);
  ASSERT_EQ(all["evaluations"].size(), 6u) << all.dump();
  const auto seeds = nascent::einspace_seed_architectures();
  std::set<std::string> first_four;
  for (int i = 0; i < 4; ++i) first_four.insert(all["evaluations"][i]["arch"].get<std::string>());
  for (const auto& [name, arch] : seeds) EXPECT_EQ(first_four.count(nascent::registries().spaces.create("einspace", nascent::Config())->canonical(arch)), 1u) << name;
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(all["evaluations"][i]["ok"].get<bool>()) << all["evaluations"][i].dump();
  fs::remove_all(dir);
}

}  // namespace
