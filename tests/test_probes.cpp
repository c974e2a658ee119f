// Every predictor on every built-in space: Once-for-All, ViT-ResNAS, FlexiBERT and NAS-Bench-NLP expose the
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
  const char* arch = "";  // a sample when empty
};

// NAS-Bench-NLP's LSTM. A sampled recurrent cell may have no squashing on its recurrence: zen's
// N(0, 1) weights then overflow it (infinite, ranked last), as its training would diverge.
const char* kRecipeLstm =
    "{'i': {'op': 'linear', 'input': ['x', 'h_prev_0']}, 'i_act': {'op': 'activation_sigm', 'input': ['i']},"
    " 'f': {'op': 'linear', 'input': ['x', 'h_prev_0']}, 'f_act': {'op': 'activation_sigm', 'input': ['f']},"
    " 'o': {'op': 'linear', 'input': ['x', 'h_prev_0']}, 'o_act': {'op': 'activation_sigm', 'input': ['o']},"
    " 'g': {'op': 'linear', 'input': ['x', 'h_prev_0']}, 'g_act': {'op': 'activation_tanh', 'input': ['g']},"
    " 'keep': {'op': 'elementwise_prod', 'input': ['f_act', 'h_prev_1']}, 'write': {'op': 'elementwise_prod', 'input': ['i_act', 'g_act']},"
    " 'h_new_1': {'op': 'elementwise_sum', 'input': ['keep', 'write']}, 'c_act': {'op': 'activation_tanh', 'input': ['h_new_1']},"
    " 'h_new_0': {'op': 'elementwise_prod', 'input': ['o_act', 'c_act']}}";

class EveryPredictorOnEverySpace : public ::testing::TestWithParam<SpaceCase> {};

TEST_P(EveryPredictorOnEverySpace, GivesFiniteScores) {
  at::set_num_threads(1);
  const SpaceCase& c = GetParam();
  auto space = registries().spaces.create(c.space, Config::parse(c.options));
  Rng rng(3);
  const std::string arch = *c.arch ? space->canonical(c.arch) : space->sample(rng);
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
                      SpaceCase{"flexibert", "", Task{{12}, 4, 60}},
                      SpaceCase{"nasbench_nlp", "embedding: 12\nhidden: 16", Task{{10}, 4, 60}, kRecipeLstm}),
    [](const ::testing::TestParamInfo<SpaceCase>& info) { return std::string(info.param.space); });

}  // namespace
}  // namespace nascent
