#include <gtest/gtest.h>

#include "tests/scratch_dir.hpp"

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/error.hpp"
#include "datasets/dataset.hpp"
#include "evaluators/table_evaluator.hpp"
#include "evaluators/train_evaluator.hpp"
#include "search_spaces/nb201/nb201.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;

const std::string kFashion = "/usr/share/datasets/fashion-mnist";
const std::string kCell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|";

class EvaluatorTest : public ScratchDirTest {
 protected:
  std::string write(const std::string& name, const std::string& content) {
    std::ofstream((dir_ / name).string(), std::ios::binary) << content;
    return (dir_ / name).string();
  }
  static std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "accepted";
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
  options.steps = 60;
  options.batch_size = 32;
  options.lr = 0.05;
  return options;
}

std::map<std::string, double> without_timing(std::map<std::string, double> metrics) {
  metrics.erase("train_seconds");
  metrics.erase("latency_ms");
  return metrics;
}

TEST_F(EvaluatorTest, ReadsFashionMnistWithADeterministicSplit) {
  if (!fs::exists(kFashion)) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  FashionMnistOptions options;
  options.val_size = 5000;
  const DataSplits a = load_fashion_mnist(options);
  EXPECT_EQ(a.train.size(), 55000);
  EXPECT_EQ(a.val.size(), 5000);
  EXPECT_EQ(a.test.size(), 10000);
  EXPECT_EQ(a.input_shape, (std::vector<std::int64_t>{1, 28, 28}));
  EXPECT_EQ(a.train.labels.min().item<int>(), 0);
  EXPECT_EQ(a.train.labels.max().item<int>(), 9);
  const DataSplits b = load_fashion_mnist(options);
  EXPECT_TRUE(torch::equal(a.val.labels, b.val.labels));
  EXPECT_TRUE(torch::equal(a.val.images, b.val.images));
  options.resize = 32;
  options.channels = 3;
  options.train_subset = 100;
  const DataSplits c = load_fashion_mnist(options);
  EXPECT_EQ(c.train.images.sizes(), (std::vector<std::int64_t>{100, 3, 32, 32}));
  EXPECT_TRUE(torch::equal(c.train.images.select(1, 0), c.train.images.select(1, 2)));
}

TEST_F(EvaluatorTest, BadDataFilesAreOneLineErrors) {
  const std::string truncated = write("truncated", std::string("\0\0\x08\x03\0\0\0\x02\0\0\0\x1c\0\0\0\x1c", 16) + "abc");
  const std::string bad_magic = write("bad_magic", "PK\x03\x04 zip file");
  const std::string corrupt_gz = write("corrupt.gz", std::string("\x1f\x8b\x08\x00garbage-after-gzip-header", 30));
  for (const auto& [file, expected] : std::vector<std::pair<std::string, std::string>>{
           {truncated, "truncated"}, {bad_magic, "bad magic"}, {corrupt_gz, "corrupt"}, {(dir_ / "nope").string(), "cannot open"}}) {
    const std::string message = error_of([&] { read_idx(file); });
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_NE(message.find(file), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
  FashionMnistOptions options;
  options.folder = dir_.string();
  EXPECT_NE(error_of([&] { load_fashion_mnist(options); }).find("train-images-idx3-ubyte"), std::string::npos);
}

TEST_F(EvaluatorTest, TrainingLearnsAndMeasuresEverything) {
  Nb201Space space(4, 1);
  TrainEvaluator evaluator(small_synthetic(), quick_training());
  const Evaluation e = evaluator.evaluate(space, kCell, 3);
  ASSERT_TRUE(e.ok) << e.error;
  EXPECT_GT(e.metrics.at("val_acc"), 60.0);  // chance is 25%
  EXPECT_GT(e.metrics.at("test_acc"), 60.0);
  EXPECT_EQ(e.metrics.at("params"), space.describe(kCell, Task{{1, 8, 8}, 4}).params);
  EXPECT_GT(e.metrics.at("flops"), 0);
  EXPECT_GT(e.metrics.at("latency_ms"), 0);
  EXPECT_EQ(e.cost, e.metrics.at("train_seconds"));
  EXPECT_EQ(e.device, "cpu");
}

TEST_F(EvaluatorTest, SameSeedSameMetricsSequentialOrConcurrent) {
  Nb201Space space(4, 1);
  TrainEvaluator evaluator(small_synthetic(), quick_training());
  const auto reference = without_timing(evaluator.evaluate(space, kCell, 11).metrics);
  EXPECT_NE(reference, without_timing(evaluator.evaluate(space, kCell, 12).metrics));
  std::map<std::string, double> concurrent[2];
  std::thread a([&] { concurrent[0] = without_timing(evaluator.evaluate(space, kCell, 11).metrics); });
  std::thread b([&] { concurrent[1] = without_timing(evaluator.evaluate(space, kCell, 11).metrics); });
  a.join();
  b.join();
  EXPECT_EQ(concurrent[0], reference);
  EXPECT_EQ(concurrent[1], reference);
}

TEST_F(EvaluatorTest, ACandidateThatCannotRunFailsWithoutThrowing) {
  Nb201Space space(4, 1);
  SyntheticOptions tiny;
  tiny.shape = {1, 1, 1};  // too small for the two stride-2 reductions to line up with their shortcuts
  TrainEvaluator evaluator(make_synthetic(tiny), quick_training());
  const Evaluation e = evaluator.evaluate(space, kCell, 1);
  EXPECT_FALSE(e.ok);
  EXPECT_FALSE(e.error.empty());
  EXPECT_EQ(e.error.find('\n'), std::string::npos);
}

TEST_F(EvaluatorTest, UnavailableDevicesAreConfigErrors) {
  EXPECT_NE(error_of([] { checked_device("tpu"); }).find("expected cpu, cuda or cuda:N"), std::string::npos);
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA present";
  EXPECT_NE(error_of([] { checked_device("cuda:1"); }).find("LibTorch sees no CUDA device"), std::string::npos);
}

TEST_F(EvaluatorTest, TableLooksUpPublishedResults) {
  const std::string csv = std::string(NASCENT_SOURCE_DIR) + "/../shared/data/nas-bench-201/nb201.csv";
  if (!fs::exists(csv)) GTEST_SKIP() << "no " << csv;
  TableEvaluator table({csv, "arch", "cifar10_valid_12ep", {"cifar10_test_200ep"}, "train_seconds_12ep"});
  EXPECT_EQ(table.rows(), 15625u);
  Nb201Space space;
  const Evaluation best = table.evaluate(
      space, "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|", 0);
  ASSERT_TRUE(best.ok) << best.error;
  EXPECT_DOUBLE_EQ(best.metrics.at("cifar10_test_200ep"), 94.3733);
  EXPECT_GT(best.cost, 0);
  EXPECT_FALSE(table.evaluate(space, "not-a-cell", 0).ok);
}

TEST_F(EvaluatorTest, BadTablesNameFileLineAndColumn) {
  const auto message = [&](const std::string& content, const std::string& metric = "score") {
    const std::string file = write("t.csv", content);
    return error_of([&] { TableEvaluator({file, "arch", metric, {}, ""}); });
  };
  EXPECT_NE(message("arch,score\na,1\nb,oops\n").find("line 3, column 'score': 'oops' is not a number"), std::string::npos);
  EXPECT_NE(message("arch,score\na,1\na,2\n").find("duplicate key 'a'"), std::string::npos);
  EXPECT_NE(message("arch,score\na,1\n", "acc").find("no column 'acc'"), std::string::npos);
  EXPECT_NE(message("arch,score\n\"a,1\n").find("unterminated quote"), std::string::npos);
  EXPECT_NE(message("arch,score\na,1,2\n").find("3 cells"), std::string::npos);
  EXPECT_NE(error_of([&] { TableEvaluator({(dir_ / "missing.csv").string(), "arch", "x", {}, ""}); }).find("cannot read"),
            std::string::npos);
  EXPECT_EQ(split_csv_line("\"x,\"\"y\"\"\",2"), (std::vector<std::string>{"x,\"y\"", "2"}));
}

}  // namespace
}  // namespace nascent
