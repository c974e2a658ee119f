// Once-for-All: the elastic MobileNetV3 space, its FLOPs formula against the built module, and the
// supernet's weight sharing (an active sub-network equals its extracted standalone network).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "search_spaces/ofa/ofa.hpp"
#include "supernets/ofa_mbv3.hpp"
#include "supernets/progressive_shrinking.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

OfaSpec small_spec() {
  OfaSpec spec;
  spec.width_mult = 0.5;
  spec.resolutions = {24, 28, 32};
  return spec;
}

TEST(Ofa, WidthsFollowMakeDivisible) {
  OfaSpec spec;
  EXPECT_EQ(spec.widths(), (std::vector<std::int64_t>{16, 16, 24, 40, 80, 112, 160, 960, 1280}));
  spec.width_mult = 1.2;
  EXPECT_EQ(spec.widths(), (std::vector<std::int64_t>{24, 24, 32, 48, 96, 136, 192, 1152, 1536}));
}

TEST(Ofa, FlopsAndParamsEqualTheBuiltModules) {
  OfaSpec full;
  full.resolutions = {32, 64};  // the full-width space at sizes cheap to run
  for (const OfaSpec& spec : {full, small_spec()}) {
    OfaSpace space(spec);
    const Task task{{spec.width_mult == 1.0 ? 3 : 1, 32, 32}, 10};
    Rng rng(5);
    for (int i = 0; i < 40; ++i) {
      const std::string arch = space.sample(rng);
      auto net = std::make_shared<OfaMbv3>(OfaNetShape::subnet(spec, space.parse(arch)), task);
      ASSERT_DOUBLE_EQ(net->measured_macs(), space.describe(arch, task).flops) << arch;
      double params = 0;
      for (const auto& p : net->parameters()) params += static_cast<double>(p.numel());
      ASSERT_DOUBLE_EQ(params, ofa_params(spec, space.parse(arch), task.input_shape[0], 10)) << arch;
    }
  }
}

TEST(Ofa, SupernetMacsFollowTheActiveSubnet) {
  const OfaSpec spec = small_spec();
  OfaSpace space(spec);
  auto supernet = std::make_shared<OfaMbv3>(OfaNetShape::supernet(spec), Task{{1, 32, 32}, 10});
  Rng rng(2);
  for (int i = 0; i < 20; ++i) {
    const OfaArch arch = spec.sample(rng);
    supernet->set_active(spec, arch);
    EXPECT_DOUBLE_EQ(supernet->measured_macs(), ofa_flops(spec, arch, 1, 10));
  }
}

TEST(Ofa, ActiveSubnetEqualsItsExtractedNetwork) {
  const OfaSpec spec = small_spec();
  OfaSpace space(spec);
  const Task task{{1, 32, 32}, 10};
  auto supernet = std::make_shared<OfaMbv3>(OfaNetShape::supernet(spec), task);
  at::Generator generator = at::detail::createCPUGenerator(3);
  supernet->reset_parameters(generator);
  // Non-identity kernel transforms and non-trivial BN statistics, so that the test can fail.
  {
    torch::NoGradGuard no_grad;
    for (auto& stage : supernet->blocks)
      for (auto& block : stage)
        for (auto& t : block->transforms) t.add_(torch::randn(t.sizes(), generator) * 0.1);
    for (auto& module : supernet->modules(false))
      if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
        bn->running_mean.normal_(0, 0.1, generator);
        bn->running_var.uniform_(0.5, 1.5, generator);
      }
  }
  supernet->eval();
  const torch::Tensor x = torch::randn({3, 1, 32, 32}, generator);
  Rng rng(9);
  for (int i = 0; i < 10; ++i) {
    const OfaArch arch = spec.sample(rng);
    supernet->set_active(spec, arch);
    auto subnet = extract_ofa_subnet(*supernet, spec, arch, task);
    subnet->eval();
    EXPECT_TRUE(torch::allclose(supernet->forward(x), subnet->forward(x), 1e-4, 1e-4)) << print_ofa_arch(arch);
  }
  // Sorting middle channels reorders weights without changing the largest network's function.
  supernet->set_active(spec, spec.largest());
  const torch::Tensor before = supernet->forward(x);
  ofa_sort_channels(*supernet, spec.expands, 1);
  EXPECT_TRUE(torch::allclose(before, supernet->forward(x), 1e-4, 1e-4));
}

TEST(Ofa, BnRecalibrationStoresTheDataStatistics) {
  const OfaSpec spec = small_spec();
  OfaSpace space(spec);
  const Task task{{1, 32, 32}, 10};
  auto net = std::make_shared<OfaMbv3>(OfaNetShape::subnet(spec, spec.smallest()), task);
  at::Generator init = at::detail::createCPUGenerator(8);
  net->reset_parameters(init);
  at::Generator generator = at::detail::createCPUGenerator(1);
  const torch::Tensor images = torch::randn({40, 1, 32, 32}, generator) * 2 + 1;
  net->recalibrate_bn(images, 40);
  const torch::Tensor stem_mean = net->stem_bn->running_mean.clone();
  // With every image in one batch, eval mode (running statistics) now equals train mode (batch statistics).
  net->eval();
  const torch::Tensor eval_out = net->forward(images);
  net->train();
  torch::NoGradGuard no_grad;
  const torch::Tensor train_out = net->forward(images);
  EXPECT_TRUE(torch::allclose(eval_out, train_out, 1e-3, 1e-3));
  // Two batches average to the same statistics of the first BN as one.
  auto again = std::make_shared<OfaMbv3>(OfaNetShape::subnet(spec, spec.smallest()), task);
  init = at::detail::createCPUGenerator(8);
  again->reset_parameters(init);
  again->recalibrate_bn(images, 20);
  EXPECT_TRUE(torch::allclose(again->stem_bn->running_mean, stem_mean, 1e-4, 1e-5));
}

TEST(Ofa, TextAndDictFormsAgreeAndBadArchsAreOneLine) {
  OfaSpace space(OfaSpec{});
  const std::string dict =
      "{'ks': [3, 5, 7, 3, 5, 7, 3, 5, 7, 3, 5, 7, 3, 5, 7, 3, 5, 7, 3, 5], 'e': [3, 4, 6, 3, 4, 6, 3, 4, 6, 3, 4, 6, 3, 4, 6, 3, 4, 6, 3, 4], "
      "'d': [2, 3, 4, 2, 3], 'r': [160]}";
  EXPECT_EQ(space.canonical(dict), "r160/k3e3,k5e4/k5e4,k7e6,k3e3/k7e6,k3e3,k5e4,k7e6/k3e3,k5e4/k5e4,k7e6,k3e3");
  EXPECT_EQ(space.canonical(space.canonical(dict)), space.canonical(dict));
  EXPECT_EQ(space.encode(dict).size(), 4u + 120u);
  EXPECT_ERROR(space.canonical("r100/k3e3,k3e3/k3e3,k3e3/k3e3,k3e3/k3e3,k3e3/k3e3,k3e3"), "resolution 100");
  EXPECT_ERROR(space.canonical("r160/k3e3,k3e3/k3e3,k3e3/k3e3,k3e3/k3e3,k3e3/k3e3,k9e3"), "kernel 9");
  EXPECT_ERROR(space.canonical("r160/k3e3/k3e3/k3e3/k3e3"), "5 stages");
  EXPECT_ERROR(space.canonical("r160/k3e3/k3x3/k3e3/k3e3/k3e3"), "k<kernel>e<expand>");
  EXPECT_ERROR(space.canonical("{'ks': [3], 'e': [3], 'd': [2], 'r': 160}"), "20 entries");
  Rng rng(4);
  for (int i = 0; i < 200; ++i) {
    const std::string a = space.sample(rng), b = space.mutate(a, rng);
    EXPECT_EQ(space.canonical(a), a);
    EXPECT_NE(a, b);
    EXPECT_EQ(space.canonical(b), b);
  }
}

// Progressive shrinking stopped inside an epoch (Ctrl-C, the time budget) resumes at the next step
// to the uninterrupted result: mid-phase, at an epoch's last step, and at the last step of a phase
// that ends inside an epoch (half an epoch of elastic kernels).
TEST(Ofa, ProgressiveShrinkingStoppedInsideAnEpochResumesToTheSameResult) {
  struct Stop {};
  OfaSpec spec;
  spec.width_mult = 0.25;
  spec.resolutions = {12, 16};
  const Task task{{1, 16, 16}, 4};
  at::Generator generator = at::detail::createCPUGenerator(3);
  ImageSet train{torch::randn({32, 1, 16, 16}, generator), torch::randint(0, 4, {32}, generator)};
  OfaTrainingOptions options;
  options.batch_size = 8;  // 4 steps per epoch
  options.phases = progressive_shrinking_phases(spec, {1, 0.5, 1, 0.5, 0.5, 0.5}, 1.0, 0.05);
  std::int64_t total = 0;
  for (const auto& phase : options.phases) total += static_cast<std::int64_t>(std::ceil(phase.epochs * 4));
  const auto fresh = [&] {
    auto supernet = std::make_shared<OfaMbv3>(OfaNetShape::supernet(spec), task);
    at::Generator init = at::detail::createCPUGenerator(5);
    supernet->reset_parameters(init);
    return supernet;
  };
  auto reference = fresh();
  const auto expected = train_ofa_supernet(*reference, spec, train, options, 11, nullptr);
  // 2: mid-phase; 4: an epoch's last step; 6: the last step of a phase ending inside an epoch; 9: after
  // elastic kernels defined gradients that later sub-networks leave alone; 13: after expand1 sorted channels.
  for (const std::int64_t stop_after : {2, 4, 6, 9, 13}) {
    SCOPED_TRACE("stopped after step " + std::to_string(stop_after));
    auto stopped = fresh();
    std::string saved;
    std::int64_t calls = 0;
    EXPECT_THROW(train_ofa_supernet(*stopped, spec, train, options, 11, [&](const OfaEpochRecord&, std::int64_t, std::int64_t, double) {
      if (++calls == stop_after) throw Stop{};
    }, TrainingCheckpoints{[&](const std::string& state) { saved = state; }, std::nullopt}),
                 Stop);
    ASSERT_FALSE(saved.empty());
    auto resumed = fresh();
    std::int64_t resumed_calls = 0;
    const auto records = train_ofa_supernet(*resumed, spec, train, options, 11,
                                            [&](const OfaEpochRecord&, std::int64_t, std::int64_t, double) { ++resumed_calls; },
                                            TrainingCheckpoints{nullptr, saved});
    EXPECT_EQ(resumed_calls, total - stop_after);
    ASSERT_EQ(records.size(), expected.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      EXPECT_EQ(records[i].phase, expected[i].phase);
      EXPECT_EQ(records[i].epoch, expected[i].epoch);
      EXPECT_EQ(records[i].train_loss, expected[i].train_loss);
      EXPECT_EQ(records[i].lr, expected[i].lr);
    }
    const auto p = resumed->named_parameters();
    for (const auto& item : reference->named_parameters()) EXPECT_TRUE(torch::equal(item.value(), p[item.key()])) << item.key();
  }
}

}  // namespace
}  // namespace nascent
