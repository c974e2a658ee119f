// Every predictor on every built-in space: Once-for-All, ViT-ResNAS and FlexiBERT expose the
// probes that fisher (weighted-layer outputs), nwot (nonlinearity inputs), hidden_cov (hidden
// states) and zen (features before pooling, or from an embedding in place of token ids) need.
#include <gtest/gtest.h>

#include <cmath>

#include "core/registry.hpp"
#include "predictors/predictor.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

struct SpaceCase {
  const char* space;
  const char* options;
  Task task;
};

class EveryPredictorOnEverySpace : public ::testing::TestWithParam<SpaceCase> {};

TEST_P(EveryPredictorOnEverySpace, GivesFiniteScores) {
  at::set_num_threads(1);
  const SpaceCase& c = GetParam();
  auto space = registries().spaces.create(c.space, Config::parse(c.options));
  Rng rng(3);
  const std::string arch = space->sample(rng);
  auto net = space->build(arch, c.task);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(1);
  net->reset_parameters(generator);
  const std::int64_t batch = 8;
  std::vector<std::int64_t> shape{batch};
  shape.insert(shape.end(), c.task.input_shape.begin(), c.task.input_shape.end());
  const torch::Tensor inputs = c.task.vocabulary_size > 0 ? torch::randint(1, c.task.vocabulary_size, shape, generator, torch::kLong)
                                                          : torch::randn(shape, generator);
  const torch::Tensor labels = torch::randint(c.task.num_classes, {batch}, generator, torch::kLong);
  std::vector<std::unique_ptr<Predictor>> owned;
  std::vector<const Predictor*> list;
  std::vector<std::string> names{"fisher", "nwot", "hidden_cov", "zen", "grad_norm", "snip", "grasp", "plain", "l2_norm"};
  // synflow feeds an all-ones input, which token ids are not (docs/limitations.md).
  if (c.task.vocabulary_size == 0) names.push_back("synflow");
  for (const std::string& name : names) {
    owned.push_back(make_predictor(name));
    list.push_back(owned.back().get());
  }
  Rng score_rng(4);
  ScoreInput input(*net, inputs, labels, score_rng);
  const PredictorScores scores = score_predictors(list, input);
  for (const auto& [name, value] : scores.scores) {
    const auto error = scores.errors.find(name);
    EXPECT_TRUE(std::isfinite(value)) << c.space << " " << name << ": " << (error == scores.errors.end() ? "" : error->second) << "\n" << arch;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Spaces, EveryPredictorOnEverySpace,
    ::testing::Values(SpaceCase{"ofa_mbv3", "width_mult: 0.25\nresolutions: [16]", Task{{3, 16, 16}, 4, 0}},
                      SpaceCase{"vit_resnas", "preset: tiny\nwidth_divisor: 8\nclasses: 4", Task{{3, 56, 56}, 4, 0}},
                      SpaceCase{"flexibert", "", Task{{12}, 4, 60}}),
    [](const ::testing::TestParamInfo<SpaceCase>& info) { return std::string(info.param.space); });

}  // namespace
}  // namespace nascent
