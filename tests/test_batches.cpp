#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "core/network.hpp"
#include "core/options.hpp"
#include "core/search_space.hpp"
#include "core/training_state.hpp"
#include "datasets/batches.hpp"
#include "datasets/dataset.hpp"
#include "evaluators/train_evaluator.hpp"
#include "evaluators/training_loop.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

// B copies of one C x H x W image whose pixels are 1, 2, 3, ... (all distinct and non-zero, so
// every output pixel tells where it came from, and 0 can only be padding or cutout).
torch::Tensor numbered_images(std::int64_t copies, std::int64_t channels, std::int64_t height, std::int64_t width) {
  const torch::Tensor one = torch::arange(1, channels * height * width + 1, torch::kFloat32).view({1, channels, height, width});
  return one.repeat({copies, 1, 1, 1}).contiguous();
}

// out(c, y, x) == in(c, y + dy, x + dx), and 0 where that is outside the image.
torch::Tensor shifted(const torch::Tensor& image, std::int64_t dy, std::int64_t dx) {
  const std::int64_t height = image.size(1), width = image.size(2);
  torch::Tensor out = torch::zeros_like(image);
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x)
      if (y + dy >= 0 && y + dy < height && x + dx >= 0 && x + dx < width)
        out.index_put_({torch::indexing::Slice(), y, x}, image.index({torch::indexing::Slice(), y + dy, x + dx}));
  return out;
}

TEST(BatchAugmentation, CropWithPaddingShiftsContentAndFillsZeros) {
  const std::int64_t padding = 2;
  Augmentation augmentation;
  augmentation.crop_padding = padding;
  const torch::Tensor original = numbered_images(1, 2, 5, 6)[0];
  std::set<std::pair<std::int64_t, std::int64_t>> seen;
  for (std::uint64_t seed = 0; seed < 4; ++seed) {
    torch::Tensor batch = numbered_images(64, 2, 5, 6);
    augment_batch(batch, augmentation, seed);
    for (std::int64_t i = 0; i < batch.size(0); ++i) {
      bool matched = false;
      for (std::int64_t dy = -padding; dy <= padding && !matched; ++dy)
        for (std::int64_t dx = -padding; dx <= padding && !matched; ++dx)
          if (torch::equal(batch[i], shifted(original, dy, dx))) {
            matched = true;
            seen.insert({dy, dx});
          }
      EXPECT_TRUE(matched) << "sample " << i << " of seed " << seed << " is not a zero-padded shift:\n" << batch[i];
    }
  }
  // Every offset in [-padding, padding]^2 occurs (256 draws over 25 offsets).
  EXPECT_EQ(seen.size(), 25u);
}

TEST(BatchAugmentation, FlipMirrorsAboutHalfTheImages) {
  Augmentation augmentation;
  augmentation.flip = true;
  const torch::Tensor original = numbered_images(1, 3, 4, 5)[0];
  const torch::Tensor mirrored = original.flip({2});
  torch::Tensor batch = numbered_images(400, 3, 4, 5);
  augment_batch(batch, augmentation, 7);
  int flipped = 0;
  for (std::int64_t i = 0; i < batch.size(0); ++i) {
    if (torch::equal(batch[i], mirrored)) {
      ++flipped;
    } else {
      EXPECT_TRUE(torch::equal(batch[i], original)) << "sample " << i;
    }
  }
  EXPECT_GT(flipped, 140);  // Binomial(400, 1/2): far outside these bounds only by a bug
  EXPECT_LT(flipped, 260);
}

TEST(BatchAugmentation, CutoutZeroesOneSquareClippedAtTheBorders) {
  const std::int64_t size = 4, height = 10, width = 9, channels = 2;
  Augmentation augmentation;
  augmentation.cutout = size;
  torch::Tensor batch = numbered_images(500, channels, height, width);
  const torch::Tensor original = batch[0].clone();
  augment_batch(batch, augmentation, 3);
  int whole = 0, clipped = 0;
  for (std::int64_t i = 0; i < batch.size(0); ++i) {
    const torch::Tensor zero = batch[i].eq(0);
    // Every channel loses the same pixels, and the others keep their values.
    for (std::int64_t c = 1; c < channels; ++c) ASSERT_TRUE(torch::equal(zero[c], zero[0])) << "sample " << i;
    ASSERT_TRUE(torch::equal(batch[i].masked_fill(zero, 0), original.masked_fill(zero, 0)));
    const torch::Tensor rows = zero[0].any(1).nonzero().flatten(), columns = zero[0].any(0).nonzero().flatten();
    ASSERT_GT(rows.size(0), 0) << "sample " << i << " has no cutout";
    const std::int64_t y0 = rows.min().item<std::int64_t>(), y1 = rows.max().item<std::int64_t>() + 1;
    const std::int64_t x0 = columns.min().item<std::int64_t>(), x1 = columns.max().item<std::int64_t>() + 1;
    // A filled rectangle...
    EXPECT_EQ(zero[0].sum().item<std::int64_t>(), (y1 - y0) * (x1 - x0)) << "sample " << i;
    // ... of size x size, cut only where it meets a border (its centre lies in the image, so at
    // least half of it remains).
    for (const auto& [begin, end, extent] : {std::tuple{y0, y1, height}, std::tuple{x0, x1, width}}) {
      if (begin > 0 && end < extent) {
        EXPECT_EQ(end - begin, size) << "sample " << i;
      } else {
        EXPECT_LE(end - begin, size) << "sample " << i;
        EXPECT_GE(end - begin, size - size / 2) << "sample " << i;
      }
    }
    const bool inside = y0 > 0 && y1 < height && x0 > 0 && x1 < width;
    (inside ? whole : clipped) += 1;
  }
  EXPECT_GT(whole, 0);
  EXPECT_GT(clipped, 0);
}

TEST(BatchAugmentation, TheSeedAloneDecides) {
  Augmentation augmentation;
  augmentation.crop_padding = 2;
  augmentation.flip = true;
  augmentation.cutout = 3;
  torch::Tensor a = numbered_images(16, 3, 8, 8), b = a.clone(), c = a.clone();
  augment_batch(a, augmentation, 5);
  augment_batch(b, augmentation, 5);
  augment_batch(c, augmentation, 6);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
}

ImageSet numbered_set(std::int64_t n, std::vector<std::int64_t> shape) {
  std::vector<std::int64_t> full{n};
  full.insert(full.end(), shape.begin(), shape.end());
  std::int64_t per_row = 1;
  for (std::int64_t d : shape) per_row *= d;
  ImageSet set;
  set.images = torch::arange(n * per_row, torch::kFloat32).view(full).contiguous();
  set.labels = torch::arange(n, torch::kInt64).remainder(3).contiguous();
  return set;
}

std::vector<Batch> all_batches(const ImageSet& set, const torch::Tensor& order, std::int64_t batch_size,
                               const Augmentation& augmentation, std::int64_t threads, std::int64_t epoch = 0) {
  const std::int64_t batches = (order.size(0) + batch_size - 1) / batch_size;
  EpochBatches loader(set, order, batch_size, batches, augmentation, 42, epoch, threads);
  std::vector<Batch> out;
  Batch batch;
  while (loader.next(batch)) out.push_back(batch);
  return out;
}

TEST(BatchLoader, DeliversThePermutationInOrderWithoutAugmentation) {
  const ImageSet set = numbered_set(23, {2, 3, 3});
  const torch::Tensor order = torch::randperm(23, torch::kInt64);
  for (std::int64_t threads : {0, 1, 3}) {
    const std::vector<Batch> batches = all_batches(set, order, 5, Augmentation(), threads);
    ASSERT_EQ(batches.size(), 5u);
    for (std::size_t b = 0; b < batches.size(); ++b) {
      const torch::Tensor rows = order.slice(0, 5 * b, std::min<std::int64_t>(23, 5 * b + 5));
      EXPECT_EQ(batches[b].index, static_cast<std::int64_t>(b));
      EXPECT_TRUE(torch::equal(batches[b].inputs, set.images.index_select(0, rows))) << "threads " << threads;
      EXPECT_TRUE(torch::equal(batches[b].labels, set.labels.index_select(0, rows))) << "threads " << threads;
    }
  }
}

TEST(BatchLoader, TokenSetsPassThroughUnaugmented) {
  ImageSet tokens;
  tokens.images = torch::randint(2, 50, {11, 7}, torch::kInt64);
  tokens.labels = torch::randint(0, 4, {11}, torch::kInt64);
  const torch::Tensor order = torch::randperm(11, torch::kInt64);
  const std::vector<Batch> batches = all_batches(tokens, order, 4, Augmentation(), 2);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_TRUE(torch::equal(torch::cat({batches[0].inputs, batches[1].inputs, batches[2].inputs}),
                           tokens.images.index_select(0, order)));
  Augmentation flip;
  flip.flip = true;
  EXPECT_ERROR(all_batches(tokens, order, 4, flip, 0), "token sets cannot be augmented");
}

TEST(BatchLoader, AugmentedBatchesDoNotDependOnTheNumberOfThreads) {
  const ImageSet set = numbered_set(70, {3, 8, 8});
  const torch::Tensor order = torch::randperm(70, torch::kInt64);
  Augmentation augmentation;
  augmentation.crop_padding = 2;
  augmentation.flip = true;
  augmentation.cutout = 3;
  const std::vector<Batch> inline_batches = all_batches(set, order, 8, augmentation, 0);
  ASSERT_EQ(inline_batches.size(), 9u);
  // Augmentation happened, and differs between epochs.
  EXPECT_FALSE(torch::equal(inline_batches[0].inputs, set.images.index_select(0, order.slice(0, 0, 8))));
  EXPECT_FALSE(torch::equal(all_batches(set, order, 8, augmentation, 0, /*epoch=*/1)[0].inputs, inline_batches[0].inputs));
  for (std::int64_t threads : {1, 4}) {
    const std::vector<Batch> threaded = all_batches(set, order, 8, augmentation, threads);
    ASSERT_EQ(threaded.size(), inline_batches.size());
    for (std::size_t b = 0; b < threaded.size(); ++b) {
      EXPECT_TRUE(torch::equal(threaded[b].inputs, inline_batches[b].inputs)) << "threads " << threads << " batch " << b;
      EXPECT_TRUE(torch::equal(threaded[b].labels, inline_batches[b].labels)) << "threads " << threads << " batch " << b;
    }
  }
}

TEST(BatchLoader, StoppingEarlyJoinsTheThreads) {
  const ImageSet set = numbered_set(200, {1, 4, 4});
  Augmentation augmentation;
  augmentation.flip = true;
  EpochBatches loader(set, torch::randperm(200, torch::kInt64), 2, 100, augmentation, 1, 0, 4);
  Batch batch;
  ASSERT_TRUE(loader.next(batch));
  EXPECT_EQ(batch.index, 0);
  // The destructor must return although the workers still have batches to prepare.
}

// conv -> BatchNorm -> ReLU -> global average pool -> linear.
class SmallNet : public Network {
 public:
  SmallNet(std::int64_t channels, std::int64_t classes)
      : conv(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 6, 3).padding(1)))),
        bn(register_module("bn", torch::nn::BatchNorm2d(6))),
        fc(register_module("fc", torch::nn::Linear(6, classes))) {}
  torch::Tensor forward(torch::Tensor x) override {
    return fc(torch::relu(bn(conv(x))).mean({2, 3}));
  }

 private:
  torch::nn::Conv2d conv;
  torch::nn::BatchNorm2d bn;
  torch::nn::Linear fc;
};

DataSplits synthetic_images(std::int64_t train) {
  SyntheticOptions options;
  options.shape = {3, 8, 8};
  options.classes = 3;
  options.train = train;
  options.val = 40;
  options.test = 40;
  options.seed = 2;
  return make_synthetic(options);
}

std::shared_ptr<SmallNet> initialised_net(std::uint64_t seed) {
  auto net = std::make_shared<SmallNet>(3, 3);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  net->reset_parameters(generator);
  return net;
}

void expect_same_weights(Network& a, Network& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& item : pa) EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
  const auto ba = a.named_buffers(), bb = b.named_buffers();
  for (const auto& item : ba) EXPECT_TRUE(torch::equal(item.value(), bb[item.key()])) << item.key();
}

TrainingSettings small_training(std::int64_t threads) {
  TrainingSettings settings;
  settings.epochs = 2;
  settings.batch_size = 16;
  settings.lr = 0.05;
  settings.loader_threads = threads;
  return settings;
}

TEST(TrainingLoop, CountsStepsAndEpochs) {
  const DataSplits data = synthetic_images(100);  // 7 batches of 16, the last of 4
  auto net = initialised_net(0);
  TrainingSettings settings = small_training(1);
  settings.epochs = 1.5;
  TrainingLoop loop(*net, data, settings, 9, torch::kCPU);
  EXPECT_EQ(loop.steps_per_epoch(), 7);
  EXPECT_EQ(loop.total_steps(), 11);  // ceil(1.5 * 7)
  const EpochStats first = loop.run_epoch();
  EXPECT_EQ(first.epoch, 0);
  EXPECT_EQ(first.samples, 100);
  EXPECT_EQ(loop.step(), 7);
  EXPECT_EQ(loop.epochs_done(), 1);
  EXPECT_FALSE(loop.done());
  const EpochStats second = loop.run_epoch();  // partial: 4 of 7 batches
  EXPECT_EQ(second.epoch, 1);
  EXPECT_EQ(second.samples, 64);
  EXPECT_TRUE(loop.done());
  EXPECT_GT(second.train_loss, 0);
  EXPECT_EQ(loop.run_epoch().samples, 0);
}

// The loop without augmentation is the evaluator's former inline loop: randperm per epoch from the
// caller's generator, cosine steps, single-sample batches skipped but counted. Candidates keep
// their metrics for a seed across this refactoring only while this holds.
TEST(TrainingLoop, WithoutAugmentationTrainsAsThePlainShuffledLoop) {
  const DataSplits data = synthetic_images(65);  // batches 32, 32 and a skipped 1
  TrainingSettings settings = small_training(2);
  settings.batch_size = 32;
  settings.epochs = 2;
  settings.lr_min = 0.01;

  auto looped = initialised_net(4);
  auto loop_generator = at::make_generator<at::CPUGeneratorImpl>(4);
  TrainingLoop loop(*looped, data, settings, loop_generator, torch::kCPU);
  EpochStats last;
  while (!loop.done()) last = loop.run_epoch();

  auto plain = initialised_net(4);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(4);
  torch::optim::SGD optimizer(plain->parameters(),
                              torch::optim::SGDOptions(settings.lr).momentum(0.9).nesterov(true).weight_decay(5e-4));
  plain->train();
  const std::int64_t total = 6;
  double loss_sum = 0, seen = 0;
  torch::Tensor order;
  for (std::int64_t step = 0; step < total; ++step) {
    if (step % 3 == 0) {
      order = torch::randperm(65, generator, torch::kInt64);
      loss_sum = seen = 0;
    }
    const torch::Tensor index = order.slice(0, (step % 3) * 32, std::min<std::int64_t>(65, (step % 3) * 32 + 32));
    if (index.size(0) < 2) continue;
    const double lr = 0.01 + 0.5 * (settings.lr - 0.01) * (1 + std::cos(M_PI * step / total));
    for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
    optimizer.zero_grad();
    const torch::Tensor loss = torch::nn::functional::cross_entropy(plain->forward(data.train.images.index_select(0, index)),
                                                                    data.train.labels.index_select(0, index));
    loss.backward();
    optimizer.step();
    loss_sum += loss.item<double>() * index.size(0);
    seen += index.size(0);
  }
  expect_same_weights(*looped, *plain);
  EXPECT_EQ(last.samples, 64);
  EXPECT_DOUBLE_EQ(last.train_loss, loss_sum / seen);
}

DataSplits augmented_images(std::int64_t train) {
  DataSplits data = synthetic_images(train);
  data.augmentation.crop_padding = 2;
  data.augmentation.flip = true;
  data.augmentation.cutout = 3;
  return data;
}

TEST(TrainingLoop, TrainedWeightsDoNotDependOnLoaderThreads) {
  const DataSplits data = augmented_images(96);
  auto reference = initialised_net(1);
  TrainingLoop(*reference, data, small_training(0), 5, torch::kCPU).run_epoch();
  for (std::int64_t threads : {1, 4}) {
    auto net = initialised_net(1);
    TrainingLoop loop(*net, data, small_training(threads), 5, torch::kCPU);
    loop.run_epoch();
    expect_same_weights(*net, *reference);
  }
  // The augmentation is part of what was trained: without it the weights differ.
  DataSplits plain = data;
  plain.augmentation = Augmentation();
  auto unaugmented = initialised_net(1);
  TrainingLoop(*unaugmented, plain, small_training(0), 5, torch::kCPU).run_epoch();
  EXPECT_FALSE(torch::equal(unaugmented->named_parameters()["conv.weight"], reference->named_parameters()["conv.weight"]));
}

class TrainingLoopResume : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainingLoopResume, FromAnEpochEndEqualsTheUninterruptedTraining) {
  const DataSplits data = augmented_images(90);
  TrainingSettings settings = small_training(2);
  settings.optimizer = GetParam();
  settings.lr = GetParam() == "adamw" ? 0.01 : 0.05;

  auto uninterrupted = initialised_net(3);
  TrainingLoop whole(*uninterrupted, data, settings, 8, torch::kCPU);
  whole.run_epoch();
  const EpochStats whole_last = whole.run_epoch();
  ASSERT_TRUE(whole.done());

  std::string bytes;
  {
    auto first = initialised_net(3);
    TrainingLoop loop(*first, data, settings, 8, torch::kCPU);
    loop.run_epoch();
    StateWriter out;
    out.module("net", *first);
    loop.save(out);
    bytes = out.bytes();
  }
  auto resumed = initialised_net(99);  // weights and state come from the checkpoint only
  StateReader in(bytes);
  in.module("net", *resumed, torch::kCPU);
  TrainingLoop loop(*resumed, data, settings, 8, torch::kCPU);
  loop.load(in);
  EXPECT_EQ(loop.step(), loop.steps_per_epoch());
  EXPECT_EQ(loop.epochs_done(), 1);
  const EpochStats resumed_last = loop.run_epoch();
  EXPECT_TRUE(loop.done());
  expect_same_weights(*resumed, *uninterrupted);
  EXPECT_EQ(resumed_last.epoch, 1);
  EXPECT_DOUBLE_EQ(resumed_last.train_loss, whole_last.train_loss);
  EXPECT_DOUBLE_EQ(resumed_last.train_acc, whole_last.train_acc);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, TrainingLoopResume, ::testing::Values("sgd", "adamw"));

TEST(TrainingLoop, RefusesAStateOfAnotherTraining) {
  const DataSplits data = synthetic_images(64);
  auto net = initialised_net(0);
  TrainingLoop loop(*net, data, small_training(0), 1, torch::kCPU);
  StateWriter out;
  loop.save(out);
  TrainingSettings longer = small_training(0);
  longer.epochs = 3;
  TrainingLoop other(*net, data, longer, 1, torch::kCPU);
  StateReader in(out.bytes());
  EXPECT_ERROR(other.load(in), "training state: saved for 8 steps of 4 per epoch");
}

// Records what the network sees in evaluation mode and in training mode.
struct Seen {
  std::vector<torch::Tensor> training, evaluation;
};

class RecordingNet : public Network {
 public:
  RecordingNet(std::shared_ptr<Seen> seen, std::int64_t inputs, std::int64_t classes)
      : seen_(std::move(seen)), fc(register_module("fc", torch::nn::Linear(inputs, classes))) {}
  torch::Tensor forward(torch::Tensor x) override {
    (is_training() ? seen_->training : seen_->evaluation).push_back(x.clone());
    return fc(x.flatten(1));
  }

 private:
  std::shared_ptr<Seen> seen_;
  torch::nn::Linear fc;
};

class RecordingSpace : public SearchSpace {
 public:
  explicit RecordingSpace(std::shared_ptr<Seen> seen) : seen_(std::move(seen)) {}
  std::string name() const override { return "recording"; }
  std::string sample(Rng&) const override { return "a"; }
  std::string mutate(const std::string& arch, Rng&) const override { return arch; }
  std::string canonical(const std::string& text) const override { return text; }
  std::vector<double> encode(const std::string&) const override { return {0}; }
  ArchGraph graph(const std::string&) const override { return ArchGraph(); }
  Description describe(const std::string&, const Task&) const override { return Description(); }
  std::shared_ptr<Network> build(const std::string&, const Task& task) const override {
    std::int64_t inputs = 1;
    for (std::int64_t d : task.input_shape) inputs *= d;
    return std::make_shared<RecordingNet>(seen_, inputs, task.num_classes);
  }

 private:
  std::shared_ptr<Seen> seen_;
};

TEST(TrainEvaluatorAugmentation, AugmentsTrainingBatchesOnlyNeverEvaluation) {
  DataSplits data = augmented_images(64);
  data.augmentation.cutout = 2;
  auto seen = std::make_shared<Seen>();
  RecordingSpace space(seen);
  TrainEvaluator::Options options;
  options.training.steps = 4;
  options.training.batch_size = 16;
  options.eval_batch_size = 25;
  options.latency = false;
  TrainEvaluator evaluator(data, options);
  const Evaluation e = evaluator.evaluate(space, "a", 0);
  ASSERT_TRUE(e.ok) << e.error;
  // Training: every image carries a cutout (synthetic pixels are never exactly 0 otherwise).
  ASSERT_EQ(seen->training.size(), 4u);
  for (const torch::Tensor& batch : seen->training)
    for (std::int64_t i = 0; i < batch.size(0); ++i)
      EXPECT_GE(batch[i].eq(0).sum().item<std::int64_t>(), 3) << "a training image without cutout";
  // Evaluation: the validation then the test images, untouched.
  EXPECT_TRUE(torch::equal(torch::cat(seen->evaluation), torch::cat({data.val.images, data.test.images})));
}

// Images in [0, 1] with different per-channel ranges, so normalisation has something to do.
DataSplits unit_images() {
  DataSplits splits;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(0);
  const torch::Tensor scale = torch::tensor({1.0f, 0.5f, 0.2f}).view({1, 3, 1, 1});
  const auto make = [&](std::int64_t n) {
    return ImageSet{(at::rand({n, 3, 6, 6}, generator) * scale).contiguous(), torch::zeros({n}, torch::kInt64)};
  };
  splits.train = make(200);
  splits.val = make(50);
  splits.test = make(50);
  splits.input_shape = {3, 6, 6};
  splits.num_classes = 2;
  return splits;
}

struct ImageOptionsCase {
  OptionTable table = image_options(OptionTable());
  Options read(const std::string& yaml) { return table.read(Config(YAML::Load(yaml), "dataset"), "dataset test"); }
};

TEST(ImageOptions, NormalizeTrainGivesZeroMeanUnitStdOnTheTrainingSplit) {
  ImageOptionsCase options;
  DataSplits splits = unit_images();
  const DataSplits raw = unit_images();
  apply_image_options(splits, options.read("{augment: {crop_padding: 4, flip: true, cutout: 8}}"));
  const torch::Tensor per_channel = splits.train.images.transpose(0, 1).reshape({3, -1}).to(torch::kFloat64);
  for (std::int64_t c = 0; c < 3; ++c) {
    EXPECT_NEAR(per_channel[c].mean().item<double>(), 0.0, 1e-5);
    EXPECT_NEAR(per_channel[c].std(/*unbiased=*/false).item<double>(), 1.0, 1e-5);
  }
  ASSERT_EQ(splits.mean.size(), 3u);
  ASSERT_EQ(splits.std.size(), 3u);
  // The other splits use the training split's statistics.
  const torch::Tensor m = torch::tensor(splits.mean, torch::kFloat32).view({1, 3, 1, 1});
  const torch::Tensor s = torch::tensor(splits.std, torch::kFloat32).view({1, 3, 1, 1});
  EXPECT_TRUE(torch::allclose(splits.val.images, (raw.val.images - m) / s, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(splits.test.images, (raw.test.images - m) / s, 1e-5, 1e-6));
  EXPECT_EQ(splits.augmentation.crop_padding, 4);
  EXPECT_TRUE(splits.augmentation.flip);
  EXPECT_EQ(splits.augmentation.cutout, 8);
}

TEST(ImageOptions, NormalizeGivenUsesTheListsAndNoneLeavesImages) {
  ImageOptionsCase options;
  DataSplits splits = unit_images();
  const DataSplits raw = unit_images();
  apply_image_options(splits, options.read("{normalize: given, mean: [0.5, 0.25, 0.1], std: [0.5, 0.2, 0.05]}"));
  const torch::Tensor m = torch::tensor({0.5f, 0.25f, 0.1f}).view({1, 3, 1, 1});
  const torch::Tensor s = torch::tensor({0.5f, 0.2f, 0.05f}).view({1, 3, 1, 1});
  EXPECT_TRUE(torch::allclose(splits.train.images, (raw.train.images - m) / s));
  EXPECT_TRUE(torch::allclose(splits.val.images, (raw.val.images - m) / s));
  EXPECT_EQ(splits.mean, (std::vector<double>{0.5, 0.25, 0.1}));
  EXPECT_EQ(splits.std, (std::vector<double>{0.5, 0.2, 0.05}));
  EXPECT_FALSE(splits.augmentation.any());

  DataSplits untouched = unit_images();
  apply_image_options(untouched, options.read("{normalize: none}"));
  EXPECT_TRUE(torch::equal(untouched.train.images, raw.train.images));
  EXPECT_TRUE(untouched.mean.empty());
}

TEST(ImageOptions, AListOfTheWrongLengthIsAnErrorNamingTheKey) {
  ImageOptionsCase options;
  DataSplits splits = unit_images();
  EXPECT_ERROR(apply_image_options(splits, options.read("{normalize: given, mean: [0.5, 0.5], std: [1, 1, 1]}")),
               "dataset.mean: normalize: given needs 3 values");
  EXPECT_ERROR(apply_image_options(splits, options.read("{normalize: given, mean: [0.5, 0.5, 0.5], std: [1]}")),
               "dataset.std: normalize: given needs 3 values");
  EXPECT_ERROR(apply_image_options(splits, options.read("{normalize: given, mean: [0, 0, 0], std: [1, 0, 1]}")),
               "dataset.std");
  // The images are untouched by a refused configuration.
  EXPECT_TRUE(torch::equal(splits.train.images, unit_images().train.images));
}

}  // namespace
}  // namespace nascent
