// ViT-ResNAS: the network_def format, the reference's MACs formulas against the built module's
// layers, and the supernet's weight sharing (masked runs equal sliced sub-networks).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <tuple>

#include "core/error.hpp"
#include "core/registry.hpp"
#include "search_spaces/vit_resnas/vit_resnas.hpp"
#include "supernets/vit_resnas_supernet.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

const char* kSearchedTiny =
    "((4, 176), (1, (176, 3, 32), (176, 704), 1), (1, (176, 3, 32), (176, 576), 1), (1, (176, 3, 32), (176, 640), 1), "
    "(1, (176, 4, 32), (176, 576), 1), (1, (176, 4, 32), (176, 704), 1), (3, 176, 352), (1, (352, 10, 48), (352, 1408), 1), "
    "(1, (352, 8, 48), (352, 1408), 1), (1, (352, 8, 48), (352, 1280), 1), (1, (352, 8, 48), (352, 1408), 1), "
    "(1, (352, 10, 48), (352, 1280), 1), (1, (352, 10, 48), (352, 1024), 1), (3, 352, 704), (1, (704, 10, 64), (704, 2560), 1), "
    "(1, (704, 10, 64), (704, 1792), 1), (1, (704, 10, 64), (704, 2816), 1), (1, (704, 8, 64), (704, 2816), 1), "
    "(1, (704, 8, 64), (704, 2560), 1), (2, 704, 1000))";

TEST(VitResNas, SearchedTinyLiesInItsMacsWindowAndMatchesItsModule) {
  VitResNasSpace space(VitSpaceSpec::named("tiny"));
  const VitArch arch = space.parse(kSearchedTiny);
  const double macs = vit_macs(arch, 224, 3, 1000);
  // 1,782,630,272 by the reference's ComputationEstimator(distill=False, 224, patch 14).
  EXPECT_DOUBLE_EQ(macs, 1782630272.0);
  EXPECT_GE(macs, 0.975 * 1.7944e9);
  EXPECT_LE(macs, 1.7944e9);
  const Task imagenet{{3, 224, 224}, 1000};
  VitResNet net(arch, imagenet);
  EXPECT_DOUBLE_EQ(net.measured_macs(), macs);
  double params = 0;
  for (const auto& p : net.parameters()) params += static_cast<double>(p.numel());
  EXPECT_DOUBLE_EQ(space.describe(kSearchedTiny, imagenet).params, params);
  // Stages listing only their existing blocks read as the full form with removed positions.
  EXPECT_EQ(space.canonical(space.canonical(kSearchedTiny)), space.canonical(kSearchedTiny));
  EXPECT_EQ(space.parse(space.canonical(kSearchedTiny)), space.spec().normalised(arch));
}

void expect_counted_macs_match(const std::string& preset) {
  VitResNasSpace space(VitSpaceSpec::named(preset, 4, 10));
  const Task task{{1, 56, 56}, 10};
  Rng rng(7);
  for (int i = 0; i < 1000; ++i) {
    const std::string arch = space.sample(rng);
    VitResNet net(space.parse(arch), task);
    ASSERT_DOUBLE_EQ(net.measured_macs(), space.describe(arch, task).flops) << arch;
    if (i % 100 == 0) {
      double params = 0;
      for (const auto& p : net.parameters()) params += static_cast<double>(p.numel());
      ASSERT_DOUBLE_EQ(params, space.describe(arch, task).params) << arch;
    }
  }
}

TEST(VitResNas, CountedMacsEqualTheModulesLayersForTinySubnets) { expect_counted_macs_match("tiny"); }
TEST(VitResNas, CountedMacsEqualTheModulesLayersForSmallSubnets) { expect_counted_macs_match("small"); }

TEST(VitResNas, FullWidthSubnetsAt224MatchTheirModules) {
  for (const std::string preset : {"tiny", "small"}) {
    VitResNasSpace space(VitSpaceSpec::named(preset));
    const Task task{{3, 224, 224}, 1000};
    Rng rng(3);
    for (int i = 0; i < 3; ++i) {
      const std::string arch = space.sample(rng);
      VitResNet net(space.parse(arch), task);
      EXPECT_DOUBLE_EQ(net.measured_macs(), space.describe(arch, task).flops) << arch;
    }
  }
}

TEST(VitResNas, RejectsBadDefsWithOneLine) {
  VitResNasSpace space(VitSpaceSpec::named("tiny"));
  EXPECT_ERROR(space.canonical("((4, 177), (2, 177, 10))"), "");
  EXPECT_ERROR(space.canonical(std::string(kSearchedTiny).replace(5, 3, "999")), "embedding");
  EXPECT_ERROR(space.canonical("((4, 176), (1, (176, 7, 32), (176, 704), 1)"), "missing ')'");
  std::string bad_heads = kSearchedTiny;
  bad_heads.replace(bad_heads.find("(176, 3, 32)"), 12, "(176, 7, 32)");
  EXPECT_ERROR(space.canonical(bad_heads), "heads 7");
  EXPECT_ERROR(VitSpaceSpec::named("huge"), "tiny or small");
  EXPECT_ERROR(VitSpaceSpec::named("small", 8), "does not divide");
  EXPECT_ERROR(vit_tokens_per_side(60, 3), "divisible by 56");
}

TEST(VitResNas, SampleAndMutateStayInTheSpace) {
  VitResNasSpace space(VitSpaceSpec::named("small"));
  Rng rng(1);
  for (int i = 0; i < 200; ++i) {
    const std::string a = space.sample(rng);
    EXPECT_EQ(space.canonical(a), a);
    const std::string b = space.mutate(a, rng);
    EXPECT_NE(a, b);
    EXPECT_EQ(space.canonical(b), b);
    EXPECT_EQ(space.encode(a).size(), space.encode(b).size());
  }
}

// The supernet's claim: running sub-network A through the supernet with A's masks computes what
// the standalone network holding the supernet's leading slices computes.
TEST(VitResNas, MaskedSupernetEqualsTheSlicedSubnet) {
  const VitSpaceSpec spec = VitSpaceSpec::named("tiny", 8, 10);
  VitResNasSpace space(spec);
  const Task task{{1, 56, 56}, 10};
  auto supernet_ptr = std::make_shared<VitResNet>(spec.largest(), task);
  VitResNet& supernet = *supernet_ptr;
  at::Generator generator = at::detail::createCPUGenerator(5);
  supernet.reset_parameters(generator);
  // Sorting heads and units must not change the full network's function.
  supernet.eval();
  const torch::Tensor x = torch::randn({4, 1, 56, 56}, generator);
  const torch::Tensor before = supernet.forward(x);
  rewire_vit(supernet, nullptr);
  EXPECT_TRUE(torch::allclose(before, supernet.forward(x), 1e-4, 1e-5));
  Rng rng(11);
  for (int i = 0; i < 5; ++i) {
    const VitArch arch = space.parse(space.sample(rng));
    const VitMasks masks = uniform_vit_masks(spec, arch, x.size(0));
    const torch::Tensor through_supernet = supernet.forward_masked(x, &masks, nullptr);
    const torch::Tensor sliced = slice_vit(supernet, arch, task)->forward(x);
    EXPECT_TRUE(torch::allclose(through_supernet, sliced, 1e-4, 1e-4)) << print_vit_arch(arch);
  }
}

// A tiny supernet training: 64 learnable 56x56 images (the label added to noise), batches of 16
// (4 steps per epoch), two epochs of width warm-up, and a fresh supernet initialised from seed 4.
struct TinyVitTraining {
  VitSpaceSpec spec = VitSpaceSpec::named("tiny", 8, 4);
  Task task{{1, 56, 56}, 4};
  ImageSet train;
  VitSupernetOptions options;
  TinyVitTraining() {
    at::Generator generator = at::detail::createCPUGenerator(2);
    train = {torch::randn({64, 1, 56, 56}, generator), torch::randint(0, 4, {64}, generator)};
    train.images += train.labels.view({64, 1, 1, 1}).to(torch::kFloat32);
    options.epochs = 4;
    options.warmup_width_epochs = 2;
    options.batch_size = 16;
    options.examples_per_arch = 4;
    options.lr = 0.02;
    options.warmup_epochs = 0;
  }
  std::shared_ptr<VitResNet> fresh() const {
    auto supernet = std::make_shared<VitResNet>(spec.largest(), task, 0.1);
    at::Generator init = at::detail::createCPUGenerator(4);
    supernet->reset_parameters(init);
    return supernet;
  }
};

TEST(VitResNas, SupernetTrainingLowersTheLossAndIsReproducible) {
  const TinyVitTraining tiny;
  const auto& [spec, task, train, options] = std::tie(tiny.spec, tiny.task, tiny.train, tiny.options);
  const auto train_once = [&] {
    auto supernet = tiny.fresh();
    auto records = train_vit_supernet(*supernet, spec, train, options, 9, nullptr);
    return std::make_pair(records, supernet->forward(train.images.slice(0, 0, 8)));
  };
  const auto [records, out] = train_once();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].widths_in_use, 1);
  EXPECT_EQ(records[2].widths_in_use, 5);
  EXPECT_LT(records.back().train_loss, records.front().train_loss);
  EXPECT_TRUE(torch::equal(out, train_once().second));
}

// A stop inside an epoch (Ctrl-C, the time budget) checkpoints the steps done; resuming continues
// with the next step, without rewiring a width-warm-up epoch again, to the uninterrupted result.
TEST(VitResNas, SupernetTrainingStoppedInsideAnEpochResumesToTheSameResult) {
  struct Stop {};
  TinyVitTraining tiny;
  tiny.options.epochs = 3;
  tiny.options.warmup_epochs = 1;
  const auto& [spec, train, options] = std::tie(tiny.spec, tiny.train, tiny.options);
  const auto fresh = [&] { return tiny.fresh(); };
  auto reference = fresh();
  const auto expected = train_vit_supernet(*reference, spec, train, options, 9, nullptr);
  const int total = 3 * 4;
  for (const int stop_after : {1, 6, 8}) {  // inside epoch 1, inside the rewired epoch 2, at epoch 2's last step
    SCOPED_TRACE("stopped after step " + std::to_string(stop_after));
    auto stopped = fresh();
    std::string saved;
    int calls = 0;
    EXPECT_THROW(train_vit_supernet(*stopped, spec, train, options, 9, [&](int, std::int64_t, std::int64_t, double) {
      if (++calls == stop_after) throw Stop{};
    }, TrainingCheckpoints{[&](const std::string& state) { saved = state; }, std::nullopt}),
                 Stop);
    ASSERT_FALSE(saved.empty());
    auto resumed = fresh();
    int resumed_calls = 0;
    const auto records = train_vit_supernet(*resumed, spec, train, options, 9, [&](int, std::int64_t, std::int64_t, double) { ++resumed_calls; },
                                            TrainingCheckpoints{nullptr, saved});
    EXPECT_EQ(resumed_calls, total - stop_after);
    ASSERT_EQ(records.size(), expected.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      EXPECT_EQ(records[i].epoch, expected[i].epoch);
      EXPECT_EQ(records[i].train_loss, expected[i].train_loss);
      EXPECT_EQ(records[i].lr, expected[i].lr);
      EXPECT_EQ(records[i].widths_in_use, expected[i].widths_in_use);
    }
    const auto p = resumed->named_parameters();
    for (const auto& item : reference->named_parameters()) EXPECT_TRUE(torch::equal(item.value(), p[item.key()])) << item.key();
  }
}

}  // namespace
}  // namespace nascent
