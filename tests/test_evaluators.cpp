#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "core/error.hpp"
#include "core/network.hpp"
#include "datasets/dataset.hpp"
#include "evaluators/table_evaluator.hpp"
#include "evaluators/train_evaluator.hpp"
#include "search_spaces/nb201/nb201.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;

const std::string kCell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|";

// conv 3x3 -> BatchNorm -> ReLU -> flatten -> linear. `head_inputs` lets a test build a head that
// does not fit the features, so that forward() fails the way a bad candidate would.
class TinyNet : public Network {
 public:
  TinyNet(std::int64_t in_channels, std::int64_t width, std::int64_t head_inputs, std::int64_t classes)
      : conv(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, width, 3).padding(1)))),
        bn(register_module("bn", torch::nn::BatchNorm2d(width))),
        fc(register_module("fc", torch::nn::Linear(head_inputs, classes))) {}
  torch::Tensor forward(torch::Tensor x) override {
    // A petabyte: no machine's allocator grants it, so this fails as LibTorch's own out-of-memory.
    if (training_batch_limit > 0 && is_training() && x.size(0) > training_batch_limit) torch::empty({std::int64_t{1} << 48}, torch::kFloat);
    return fc(torch::relu(bn(conv(x))).flatten(1));
  }
  std::int64_t training_batch_limit = 0;  // > 0: training batches larger than this run out of memory

 private:
  torch::nn::Conv2d conv;
  torch::nn::BatchNorm2d bn;
  torch::nn::Linear fc;
};

// Architectures are a width ("8"); "mismatch" builds a net whose head does not fit and
// "unbuildable" throws from build(), standing in for candidates that cannot run; "hungry" runs out
// of memory on training batches larger than 8.
class TinySpace : public SearchSpace {
 public:
  std::string name() const override { return "tiny"; }
  std::string sample(Rng& rng) const override { return std::to_string(4 + uniform_index(rng, 5)); }
  std::string mutate(const std::string& arch, Rng&) const override { return arch == "4" ? "5" : "4"; }
  std::string canonical(const std::string& text) const override { return text; }
  std::vector<double> encode(const std::string& arch) const override { return {static_cast<double>(width(arch))}; }
  ArchGraph graph(const std::string& arch) const override {
    ArchGraph g;
    add_data_edge(g, add_op(g, "input"), add_op(g, "conv" + arch));
    return g;
  }
  Description describe(const std::string& arch, const Task& task) const override {
    const double c = task.input_shape[0], pixels = task.input_shape[1] * task.input_shape[2], w = width(arch);
    Description d;
    d.params = c * w * 9 + w + 2 * w + w * pixels * task.num_classes + task.num_classes;
    d.flops = pixels * c * w * 9 + w * pixels * task.num_classes;
    return d;
  }
  std::shared_ptr<Network> build(const std::string& arch, const Task& task) const override {
    if (arch == "unbuildable") throw Error("tiny: cannot build 'unbuildable'");
    const std::int64_t w = width(arch), pixels = task.input_shape[1] * task.input_shape[2];
    auto net = std::make_shared<TinyNet>(task.input_shape[0], w, w * pixels + (arch == "mismatch" ? 1 : 0), task.num_classes);
    if (arch == "hungry") net->training_batch_limit = 8;
    return net;
  }

 private:
  static std::int64_t width(const std::string& arch) {
    return arch == "mismatch" || arch == "unbuildable" || arch == "hungry" ? 4 : std::stoll(arch);
  }
};

class EvaluatorTest : public ScratchDirTest {
 protected:
  static EvaluatorContext context(const std::string& dir, const std::string& device = "") {
    EvaluatorContext c;
    c.config_dir = dir;
    c.device_override = device;
    return c;
  }
};

DataSplits small_synthetic() {
  SyntheticOptions options;
  options.shape = {1, 8, 8};
  options.classes = 4;
  options.train = 512;
  options.val = 256;
  options.test = 256;
  options.seed = 1;
  return make_synthetic(options);
}

TrainEvaluator::Options quick_training() {
  TrainEvaluator::Options options;
  options.training.steps = 60;
  options.training.batch_size = 32;
  options.training.lr = 0.05;
  return options;
}

std::map<std::string, double> without_timing(std::map<std::string, double> metrics) {
  metrics.erase("train_seconds");
  metrics.erase("latency_ms");
  return metrics;
}

// Running out of memory is its own outcome, not a bad architecture; with oom_retries the candidate
// trains again from scratch at half the batch size, exactly as if configured with that batch.
TEST_F(EvaluatorTest, OutOfMemoryIsItsOwnStatusAndRetriesHalveTheBatch) {
  TinySpace space;
  TrainEvaluator::Options options = quick_training();  // batch 32
  options.latency = false;
  const Evaluation oom = TrainEvaluator(small_synthetic(), options).evaluate(space, "hungry", 3);
  EXPECT_FALSE(oom.ok);
  EXPECT_TRUE(oom.out_of_memory) << oom.error;
  EXPECT_EQ(evaluation_status(oom), "oom");
  EXPECT_NE(oom.error.find("DefaultCPUAllocator"), std::string::npos) << oom.error;
  const Evaluation broken = TrainEvaluator(small_synthetic(), options).evaluate(space, "mismatch", 3);
  EXPECT_FALSE(broken.ok);
  EXPECT_FALSE(broken.out_of_memory) << broken.error;
  EXPECT_EQ(evaluation_status(broken), "failed");

  options.oom_retries = 1;  // 16 is still too large
  EXPECT_TRUE(TrainEvaluator(small_synthetic(), options).evaluate(space, "hungry", 3).out_of_memory);
  options.oom_retries = 5;  // 16, then 8 fits
  const Evaluation retried = TrainEvaluator(small_synthetic(), options).evaluate(space, "hungry", 3);
  ASSERT_TRUE(retried.ok) << retried.error;
  EXPECT_EQ(retried.metrics.at("batch_size"), 8);
  EXPECT_EQ(evaluation_status(retried), "ok");

  options.training.batch_size = 8;
  const Evaluation direct = TrainEvaluator(small_synthetic(), options).evaluate(space, "hungry", 3);
  ASSERT_TRUE(direct.ok) << direct.error;
  EXPECT_EQ(without_timing(retried.metrics), without_timing(direct.metrics));

  options.oom_retries = -1;
  EXPECT_ERROR(TrainEvaluator(small_synthetic(), options), "oom_retries must not be negative");
}

TEST_F(EvaluatorTest, TrainingLearnsAndMeasuresEverything) {
  TinySpace space;
  TrainEvaluator evaluator(small_synthetic(), quick_training());
  const Evaluation e = evaluator.evaluate(space, "8", 3);
  ASSERT_TRUE(e.ok) << e.error;
  EXPECT_GT(e.metrics.at("val_acc"), 80.0);  // chance is 25%
  EXPECT_GT(e.metrics.at("test_acc"), 80.0);
  EXPECT_GT(e.metrics.at("train_acc"), 50.0);
  EXPECT_LT(e.metrics.at("val_loss"), std::log(4.0));
  EXPECT_GT(e.metrics.at("train_loss"), 0);
  EXPECT_GT(e.metrics.at("test_loss"), 0);
  EXPECT_EQ(e.metrics.at("params"), space.describe("8", Task{{1, 8, 8}, 4}).params);
  EXPECT_EQ(e.metrics.at("flops"), space.describe("8", Task{{1, 8, 8}, 4}).flops);
  EXPECT_GT(e.metrics.at("latency_ms"), 0);
  EXPECT_EQ(e.cost, e.metrics.at("train_seconds"));
  EXPECT_GE(e.seconds, e.cost);
  EXPECT_EQ(e.device, "cpu");

  // Without training the same network is at chance: the accuracy above comes from training.
  TrainEvaluator::Options none = quick_training();
  none.training.steps = 0;
  none.training.epochs = 0;
  none.test = false;
  none.latency = false;
  const Evaluation untrained = TrainEvaluator(small_synthetic(), none).evaluate(space, "8", 3);
  ASSERT_TRUE(untrained.ok) << untrained.error;
  EXPECT_LT(untrained.metrics.at("val_acc"), 50.0);
  EXPECT_EQ(untrained.metrics.count("test_acc"), 0u);
  EXPECT_EQ(untrained.metrics.count("latency_ms"), 0u);
}

TEST_F(EvaluatorTest, TrainsAnNb201CellOnSyntheticData) {
  Nb201Space space(4, 1);
  TrainEvaluator::Options options = quick_training();
  options.training.epochs = 3.75;  // fractional: 60 steps of 32 on 512 images
  options.training.steps = 0;
  TrainEvaluator evaluator(small_synthetic(), options);
  const Evaluation e = evaluator.evaluate(space, kCell, 3);
  ASSERT_TRUE(e.ok) << e.error;
  EXPECT_GT(e.metrics.at("val_acc"), 60.0);
  EXPECT_EQ(e.metrics.at("params"), space.describe(kCell, Task{{1, 8, 8}, 4}).params);
  EXPECT_GT(e.metrics.at("flops"), 0);
}

TEST_F(EvaluatorTest, SameSeedSameMetricsSequentialOrConcurrent) {
  TinySpace space;
  TrainEvaluator evaluator(small_synthetic(), quick_training());
  const auto reference = without_timing(evaluator.evaluate(space, "8", 11).metrics);
  ASSERT_FALSE(reference.empty());
  EXPECT_NE(reference, without_timing(evaluator.evaluate(space, "8", 12).metrics));
  std::map<std::string, double> concurrent[2];
  std::thread a([&] { concurrent[0] = without_timing(evaluator.evaluate(space, "8", 11).metrics); });
  std::thread b([&] { concurrent[1] = without_timing(evaluator.evaluate(space, "8", 11).metrics); });
  a.join();
  b.join();
  EXPECT_EQ(concurrent[0], reference);
  EXPECT_EQ(concurrent[1], reference);
}

TEST_F(EvaluatorTest, ACandidateThatCannotRunFailsWithoutThrowing) {
  TinySpace space;
  TrainEvaluator evaluator(small_synthetic(), quick_training());
  const Evaluation unbuildable = evaluator.evaluate(space, "unbuildable", 1);
  EXPECT_FALSE(unbuildable.ok);
  EXPECT_EQ(unbuildable.error, "tiny: cannot build 'unbuildable'");
  const Evaluation mismatch = evaluator.evaluate(space, "mismatch", 1);
  EXPECT_FALSE(mismatch.ok);
  EXPECT_FALSE(mismatch.error.empty());
  EXPECT_EQ(mismatch.error.find('\n'), std::string::npos) << mismatch.error;
  EXPECT_EQ(mismatch.error.find("Exception raised from"), std::string::npos) << mismatch.error;
  EXPECT_EQ(mismatch.device, "cpu");

  Nb201Space nb201(4, 1);
  SyntheticOptions tiny;
  tiny.shape = {1, 1, 1};  // too small for the two stride-2 reductions to line up with their shortcuts
  const Evaluation e = TrainEvaluator(make_synthetic(tiny), quick_training()).evaluate(nb201, kCell, 1);
  EXPECT_FALSE(e.ok);
  EXPECT_FALSE(e.error.empty());
  EXPECT_EQ(e.error.find('\n'), std::string::npos);
}

TEST_F(EvaluatorTest, TrainingOptionsAreChecked) {
  TinySpace space;
  TrainEvaluator::Options plain = quick_training();
  plain.training.momentum = 0;  // with the default nesterov: true, which LibTorch alone would reject
  const Evaluation e = TrainEvaluator(small_synthetic(), plain).evaluate(space, "4", 1);
  EXPECT_TRUE(e.ok) << e.error;

  TrainEvaluator::Options bad = quick_training();
  bad.training.batch_size = 0;
  EXPECT_ERROR(TrainEvaluator(small_synthetic(), bad), "batch_size must be at least 1");
  bad = quick_training();
  bad.training.lr = -1;
  EXPECT_ERROR(TrainEvaluator(small_synthetic(), bad), "must not be negative");
  bad = quick_training();
  bad.training.momentum = 1.5;
  EXPECT_ERROR(TrainEvaluator(small_synthetic(), bad), "momentum must be in [0, 1)");
  SyntheticOptions no_val;
  no_val.val = 0;
  EXPECT_ERROR(TrainEvaluator(make_synthetic(no_val), quick_training()), "the validation split is empty");
}

// Run by scripts/device-check.sh on a machine with a GPU (skipped elsewhere): training on CUDA
// reaches the accuracy training on the CPU does, within what kernel differences allow.
TEST_F(EvaluatorTest, CudaTrainingMatchesCpuTraining) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  TrainEvaluator::Options options = quick_training();
  options.latency = true;
  const Nb201Space nb201(4, 1);
  const Evaluation cpu = TrainEvaluator(small_synthetic(), options).evaluate(nb201, kCell, 1);
  options.device = "cuda";
  const Evaluation cuda = TrainEvaluator(small_synthetic(), options).evaluate(nb201, kCell, 1);
  ASSERT_TRUE(cpu.ok && cuda.ok) << cpu.error << cuda.error;
  EXPECT_EQ(cuda.device, "cuda");
  EXPECT_NEAR(cuda.metrics.at("val_acc"), cpu.metrics.at("val_acc"), 10.0);
  EXPECT_GT(cuda.metrics.at("latency_ms"), 0);
}

TEST_F(EvaluatorTest, UnavailableDevicesAreConfigErrors) {
  EXPECT_ERROR(checked_device("tpu"), "device 'tpu': expected cpu, cuda or cuda:N");
  EXPECT_ERROR(checked_device("cuda:x"), "expected cpu, cuda or cuda:N");
  EXPECT_EQ(checked_device("cpu"), "cpu");
  const std::string config = "evaluator: {name: train, steps: 1, device: cuda:1, dataset: {name: synthetic}}";
  if (torch::cuda::is_available()) {
    EXPECT_ERROR(checked_device("cuda:99"), "requested but LibTorch sees only");
    GTEST_SKIP() << "CUDA present";
  }
  EXPECT_ERROR(checked_device("cuda:1"), "device 'cuda:1' requested but LibTorch sees no CUDA device");
  EXPECT_ERROR(make_evaluator(Config::parse(config).child("evaluator"), context(dir_.string())),
               "device 'cuda:1' requested but LibTorch sees no CUDA device");
  // The command line's --device wins over the config, in both directions.
  EXPECT_EQ(make_evaluator(Config::parse(config).child("evaluator"), context(dir_.string(), "cpu"))->name(), "train");
  const std::string on_cpu = "evaluator: {name: train, steps: 1, dataset: {name: synthetic}}";
  EXPECT_ERROR(make_evaluator(Config::parse(on_cpu).child("evaluator"), context(dir_.string(), "cuda")),
               "device 'cuda' requested but LibTorch sees no CUDA device");
}

TEST_F(EvaluatorTest, FactoryBuildsTheNamedEvaluatorFromItsSection) {
  const auto make = [&](const std::string& yaml) {
    return make_evaluator(Config::parse(yaml).child("evaluator"), context(dir_.string()));
  };
  EXPECT_ERROR(make("evaluator: {name: oracle}"), "unknown evaluator 'oracle' (registered: proxy, table, train)");
  EXPECT_ERROR(make("evaluator: {name: train, epoch: 1, dataset: {name: synthetic}}"), "unknown key 'evaluator.epoch'");
  EXPECT_ERROR(make("evaluator: {name: train, dataset: {name: synthetic, size: 3}}"), "unknown key 'evaluator.dataset.size'");
  EXPECT_ERROR(make("evaluator: {name: train, lr: fast, dataset: {name: synthetic}}"), "evaluator.lr: expected a number");

  auto train = make(
      "evaluator: {name: train, steps: 30, batch_size: 32, lr: 0.05, lr_min: 0.001, momentum: 0.8, nesterov: false,\n"
      "  weight_decay: 0, eval_batch_size: 100, test: false, latency: false, device: cpu,\n"
      "  dataset: {name: synthetic, shape: [1, 6, 6], classes: 3, train: 256, val: 128, test: 10, seed: 2}}");
  EXPECT_EQ(train->name(), "train");
  const Evaluation e = train->evaluate(TinySpace(), "6", 0);
  ASSERT_TRUE(e.ok) << e.error;
  EXPECT_GT(e.metrics.at("val_acc"), 60.0);  // chance is 33%
  EXPECT_EQ(e.metrics.count("test_acc"), 0u);

  // A relative table path is found beside the config file.
  write("scores.csv", "arch,score,seconds\n4,50.5,2\n8,75.25,3\n");
  auto table = make("evaluator: {name: table, path: scores.csv, metric: score, cost: seconds}");
  EXPECT_EQ(table->name(), "table");
  const Evaluation row = table->evaluate(TinySpace(), "8", 0);
  ASSERT_TRUE(row.ok) << row.error;
  EXPECT_EQ(row.metrics, (std::map<std::string, double>{{"score", 75.25}}));
  EXPECT_EQ(row.cost, 3);
  EXPECT_ERROR(make("evaluator: {name: table, path: scores.csv}"), "missing required key 'evaluator.metric'");
  EXPECT_ERROR(make("evaluator: {name: table, path: scores.csv, metric: score, colour: red}"), "unknown key 'evaluator.colour'");
}

TEST_F(EvaluatorTest, TableLooksUpPublishedResults) {
  const std::string csv = std::string(NASCENT_SOURCE_DIR) + "/../shared/data/nas-bench-201/nb201.csv";
  if (!fs::exists(csv)) GTEST_SKIP() << "no " << csv;
  const std::string best = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|";
  Nb201Space space;
  TableEvaluator table({csv, "arch", "cifar10_valid_12ep", {"cifar10_test_200ep", "cifar100_test_200ep"}, "train_seconds_12ep"});
  EXPECT_EQ(table.rows(), 15625u);
  const Evaluation e = table.evaluate(space, best, 0);
  ASSERT_TRUE(e.ok) << e.error;
  EXPECT_DOUBLE_EQ(e.metrics.at("cifar10_test_200ep"), 94.3733);
  EXPECT_DOUBLE_EQ(e.metrics.at("cifar100_test_200ep"), 73.22);
  EXPECT_DOUBLE_EQ(e.metrics.at("cifar10_valid_12ep"), 84.384);
  EXPECT_EQ(e.metrics.size(), 3u);
  EXPECT_DOUBLE_EQ(e.cost, 172.785);
  EXPECT_EQ(e.device, "table");

  // The same row by its index column.
  TableEvaluator by_index({csv, "index", "cifar10_test_200ep", {}, ""});
  const Evaluation row = by_index.evaluate(space, "6111", 0);
  ASSERT_TRUE(row.ok) << row.error;
  EXPECT_NEAR(row.metrics.at("cifar10_test_200ep"), 94.37, 0.005);
  EXPECT_EQ(row.cost, 0);

  // Keys are matched exactly: a non-canonical spelling is not found.
  const Evaluation missing = table.evaluate(space, best.substr(1), 0);
  EXPECT_FALSE(missing.ok);
  EXPECT_NE(missing.error.find("is not in table '" + csv + "' (column 'arch')"), std::string::npos) << missing.error;
}

TEST_F(EvaluatorTest, BadTablesNameFileLineAndColumn) {
  const auto message = [&](const std::string& content, const std::string& metric = "score") {
    const std::string file = write("t.csv", content);
    return error_of([&] { TableEvaluator({file, "arch", metric, {}, ""}); });
  };
  const std::string file = "table '" + path("t.csv") + "'";
  EXPECT_EQ(message("arch,score\na,1\nb,oops\n"), file + " line 3, column 'score': 'oops' is not a number");
  EXPECT_EQ(message("arch,score\na,1\nb,\n"), file + " line 3, column 'score': '' is not a number");
  EXPECT_EQ(message("arch,score\na,1\nb,nan\n"), file + " line 3, column 'score': 'nan' is not a number");
  EXPECT_EQ(message("arch,score\na,1\nb,2\na,2\n"), file + " line 4, column 'arch': duplicate key 'a' (first on line 2; duplicates: mean averages repeated measurements)");
  EXPECT_EQ(message("arch,score\na,1\n", "acc"),
            file + " line 1: no column 'acc' (the metric column; the columns are arch, score)");
  EXPECT_EQ(message("arch,score,score\na,1,2\n"), file + " line 1: column 'score' appears twice");
  EXPECT_EQ(message("arch,score\n\"a,1\n"), file + " line 2: unterminated quote");
  EXPECT_EQ(message("arch,score\n\"a\"x,1\n"),
            file + " line 2: unexpected character 'x' after a closing quote (a quote inside a quoted field is written \"\")");
  EXPECT_EQ(message("arch,score\na,1,2\n"), file + " line 2: 3 cells, the header has 2");
  EXPECT_EQ(message(""), file + ": the file is empty (expected a header line)");
  EXPECT_EQ(message("arch,score\n"), file + ": no data rows after the header");
  EXPECT_EQ(error_of([&] { TableEvaluator({path("missing.csv"), "arch", "x", {}, ""}); }),
            "table '" + path("missing.csv") + "': cannot read the file");
  // Line numbers count physical lines, including those inside quoted fields.
  EXPECT_EQ(message("arch,score\n\"multi\nline\",1\nb,x\n"), file + " line 4, column 'score': 'x' is not a number");
}

TEST_F(EvaluatorTest, CsvQuotingFollowsRfc4180) {
  EXPECT_EQ(split_csv_line("\"x,\"\"y\"\"\",2"), (std::vector<std::string>{"x,\"y\"", "2"}));
  EXPECT_EQ(split_csv_line("a,,\"\""), (std::vector<std::string>{"a", "", ""}));
  EXPECT_EQ(split_csv_line("a b,c\"d"), (std::vector<std::string>{"a b", "c\"d"}));
  EXPECT_EQ(split_csv_line("a,b\r\n"), (std::vector<std::string>{"a", "b"}));

  CsvReader reader("\xEF\xBB\xBFk,v\r\n\r\n\"two\r\nlines\",1\r\nlast,\"2\"", "test");
  std::vector<std::string> cells;
  ASSERT_TRUE(reader.next(cells));
  EXPECT_EQ(cells, (std::vector<std::string>{"k", "v"}));
  ASSERT_TRUE(reader.next(cells));
  EXPECT_EQ(reader.line(), 3u);
  EXPECT_EQ(cells, (std::vector<std::string>{"two\r\nlines", "1"}));
  ASSERT_TRUE(reader.next(cells));
  EXPECT_EQ(reader.line(), 5u);
  EXPECT_EQ(cells, (std::vector<std::string>{"last", "2"}));
  EXPECT_FALSE(reader.next(cells));

  // A quoted key with a comma, CRLF line ends, a byte order mark and padded numbers all load.
  write("q.csv", "\xEF\xBB\xBF\"arch\",score\r\n\"a,b\", 1.5 \r\nc,+2e1\r\n");
  TableEvaluator table({path("q.csv"), "arch", "score", {}, ""});
  EXPECT_EQ(table.rows(), 2u);
  EXPECT_EQ(table.evaluate(TinySpace(), "a,b", 0).metrics.at("score"), 1.5);
  EXPECT_EQ(table.evaluate(TinySpace(), "c", 0).metrics.at("score"), 20.0);
}

}  // namespace
}  // namespace nascent
