// NAS-Bench-NLP recurrent cells: the recipe format round-trips, sampling and mutation stay in the
// space, the language model computes what the recipe says, and hidden covariance is the
// training-free paper's (A.2 of ../shared/specs/trainingfree.md) on the states it captured.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/error.hpp"
#include "core/network.hpp"
#include "core/probe.hpp"
#include "core/registry.hpp"
#include "predictors/predictor.hpp"
#include "search_spaces/nasbench_nlp/nasbench_nlp.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

// An Elman RNN, an LSTM (h_new_1 is the memory) and a GRU written as recipes.
const char* kElman = R"({"h_new_0": {"op": "activation_tanh", "input": ["pre"]}, "pre": {"op": "linear", "input": ["x", "h_prev_0"]}})";
const char* kLstm = R"({
  "i": {"op": "linear", "input": ["x", "h_prev_0"]}, "i_act": {"op": "activation_sigm", "input": ["i"]},
  "f": {"op": "linear", "input": ["x", "h_prev_0"]}, "f_act": {"op": "activation_sigm", "input": ["f"]},
  "o": {"op": "linear", "input": ["x", "h_prev_0"]}, "o_act": {"op": "activation_sigm", "input": ["o"]},
  "g": {"op": "linear", "input": ["x", "h_prev_0"]}, "g_act": {"op": "activation_tanh", "input": ["g"]},
  "keep": {"op": "elementwise_prod", "input": ["f_act", "h_prev_1"]},
  "write": {"op": "elementwise_prod", "input": ["i_act", "g_act"]},
  "h_new_1": {"op": "elementwise_sum", "input": ["keep", "write"]},
  "c_act": {"op": "activation_tanh", "input": ["h_new_1"]},
  "h_new_0": {"op": "elementwise_prod", "input": ["o_act", "c_act"]}})";
const char* kGru = R"({
  "r": {"op": "linear", "input": ["x", "h_prev_0"]}, "r_act": {"op": "activation_sigm", "input": ["r"]},
  "z": {"op": "linear", "input": ["x", "h_prev_0"]}, "z_act": {"op": "activation_sigm", "input": ["z"]},
  "rh": {"op": "elementwise_prod", "input": ["r_act", "h_prev_0"]},
  "n": {"op": "linear", "input": ["x", "rh"]}, "n_act": {"op": "activation_tanh", "input": ["n"]},
  "h_new_0": {"op": "blend", "input": ["z_act", "h_prev_0", "n_act"]}})";

NasBenchNlpSpace small_space() { return NasBenchNlpSpace(NlpModelSize{12, 16, 3}, 3, {7, 14, 21}); }

TEST(NasBenchNlp, RecipesRoundTripInEitherQuoteStyle) {
  const NasBenchNlpSpace space = small_space();
  for (const char* recipe : {kElman, kLstm, kGru}) {
    const std::string canonical = space.canonical(recipe);
    EXPECT_EQ(space.canonical(canonical), canonical);
    EXPECT_EQ(canonical.find(' '), std::string::npos) << canonical;
    std::string python = canonical;
    std::replace(python.begin(), python.end(), '"', '\'');
    EXPECT_EQ(space.canonical(python), canonical);
  }
  EXPECT_EQ(nasbench_nlp_hidden_states(parse_nasbench_nlp(kLstm)), 2);
  EXPECT_EQ(nasbench_nlp_hidden_states(parse_nasbench_nlp(kGru)), 1);
}

TEST(NasBenchNlp, SamplesAndMutationsAreValidDistinctAndSeeded) {
  const NasBenchNlpSpace space = small_space();
  Rng rng(7), again(7);
  std::set<int> states;
  std::set<std::string> fingerprints;
  const std::size_t features = space.encode(kElman).size();
  for (int i = 0; i < 100; ++i) {
    const std::string arch = space.sample(rng);
    EXPECT_EQ(arch, space.sample(again));
    ASSERT_EQ(space.canonical(arch), arch);
    states.insert(nasbench_nlp_hidden_states(parse_nasbench_nlp(arch)));
    fingerprints.insert(space.fingerprint(arch));
    EXPECT_EQ(space.encode(arch).size(), features);
    const std::string child = space.mutate(arch, rng);
    EXPECT_NE(child, arch);
    EXPECT_EQ(space.canonical(child), child);
    space.mutate(arch, again);
  }
  EXPECT_EQ(states, (std::set<int>{1, 2, 3}));
  EXPECT_GT(fingerprints.size(), 90u);
}

// A drawn cell's network reads its input: different tokens, different logits (a cell whose output
// stays at its zero initial state, h_new_0 = h_prev_0 * ..., would give the same).
TEST(NasBenchNlp, SampledAndMutatedCellsCarryTheInputToTheOutput) {
  at::set_num_threads(1);
  const NasBenchNlpSpace space(NlpModelSize{8, 8, 1}, 3, {7, 14, 21});
  const Task task{{6}, 4, 30};
  const torch::Tensor a = torch::randint(1, 30, {4, 6}, torch::kLong), b = torch::randint(1, 30, {4, 6}, torch::kLong);
  Rng rng(11);
  for (int i = 0; i < 40; ++i) {
    const std::string arch = i % 2 ? space.mutate(space.sample(rng), rng) : space.sample(rng);
    auto net = space.build(arch, task);
    auto generator = at::make_generator<at::CPUGeneratorImpl>(i);
    net->reset_parameters(generator);
    const torch::Tensor difference = (net->forward(a) - net->forward(b)).abs().max();
    if (!std::isfinite(difference.item<double>())) continue;  // an unbounded recurrence overflowed
    EXPECT_GT(difference.item<double>(), 0.0) << arch;
  }
  // Parsing still accepts such a cell (the benchmark has them).
  EXPECT_NO_THROW(space.canonical(R"({"a": {"op": "linear", "input": ["x"]}, "h_new_1": {"op": "activation_tanh", "input": ["a"]},
                                     "h_new_0": {"op": "elementwise_prod", "input": ["h_prev_0", "h_prev_1"]}})"));
}

TEST(NasBenchNlp, RenamedNodesShareAFingerprintAndChangedOpsDoNot) {
  const NasBenchNlpSpace space = small_space();
  const std::string renamed = R"({"h_new_0": {"op": "activation_tanh", "input": ["node_0"]}, "node_0": {"op": "linear", "input": ["h_prev_0", "x"]}})";
  const std::string sigmoid = R"({"h_new_0": {"op": "activation_sigm", "input": ["pre"]}, "pre": {"op": "linear", "input": ["x", "h_prev_0"]}})";
  EXPECT_EQ(space.fingerprint(kElman), space.fingerprint(renamed));
  EXPECT_NE(space.fingerprint(kElman), space.fingerprint(sigmoid));
}

TEST(NasBenchNlp, BadRecipesGetOneLineErrorsNamingTheProblem) {
  const NasBenchNlpSpace space = small_space();
  EXPECT_ERROR(space.canonical("{\"h_new_0\": "), "not a NAS-Bench-NLP recipe (JSON)");
  EXPECT_ERROR(space.canonical("[1, 2]"), "a recipe is a JSON object");
  EXPECT_ERROR(space.canonical(R"({"h_new_0": {"op": "conv", "input": ["x"]}})"), "unknown op 'conv'");
  EXPECT_ERROR(space.canonical(R"({"h_new_0": {"op": "blend", "input": ["x", "h_prev_0"]}})"), "blend takes 3 inputs");
  EXPECT_ERROR(space.canonical(R"({"h_new_0": {"op": "linear", "input": ["x", "h_prev_1"]}})"), "reads h_prev_1 but the cell has 1 hidden state");
  EXPECT_ERROR(space.canonical(R"({"h_new_0": {"op": "linear", "input": ["x", "ghost"]}})"), "reads 'ghost'");
  EXPECT_ERROR(space.canonical(R"({"a": {"op": "linear", "input": ["x"]}})"), "no h_new_0");
  EXPECT_ERROR(space.canonical(R"({"h_new_1": {"op": "linear", "input": ["x"]}})"), "has h_new_1 but no h_new_0");
  EXPECT_ERROR(space.canonical(R"({"h_new_0": {"op": "linear", "input": ["h_prev_0"]}})"), "depends on the input x");
  EXPECT_ERROR(space.canonical(R"({"a": {"op": "linear", "input": ["x", "b"]}, "b": {"op": "activation_tanh", "input": ["a"]}, "h_new_0": {"op": "linear", "input": ["b"]}})"), "cycle");
  EXPECT_ERROR(space.canonical(R"({"x": {"op": "linear", "input": ["h_prev_0"]}, "h_new_0": {"op": "linear", "input": ["x"]}})"),
               "'x' is a cell input");
  EXPECT_ERROR(space.canonical(R"({"h_new_0": {"op": "linear", "input": ["x"], "extra": 1}})"), "and nothing else");
  EXPECT_ERROR(space.canonical(R"({"a": {"op": "linear", "input": ["x"]}, "h_new_0": {"op": "elementwise_sum", "input": ["a", "x"]}})"),
               "x feeds linear nodes only");
}

TEST(NasBenchNlp, DescribedParametersAreTheNetworksAndTheLstmFormula) {
  const NasBenchNlpSpace space = small_space();
  for (const Task& task : {Task{{10}, 4, 50}, Task{{10}, 50, 50}}) {  // a classifier head, then the tied decoder
    for (const char* recipe : {kElman, kLstm, kGru}) {
      auto net = space.build(space.canonical(recipe), task);
      std::int64_t numel = 0;
      for (const auto& p : net->parameters()) numel += p.numel();
      EXPECT_EQ(static_cast<std::int64_t>(space.describe(space.canonical(recipe), task).params), numel) << recipe;
    }
  }
  // LSTM: 4 gates of W_x, W_h and one bias per layer; layers 12 -> 16, 16 -> 16, 16 -> 12 (tied).
  const std::int64_t lstm_cells = 4 * (16 * 12 + 16 * 16 + 16) + 4 * (16 * 16 + 16 * 16 + 16) + 4 * (12 * 16 + 12 * 12 + 12);
  EXPECT_EQ(space.describe(space.canonical(kLstm), Task{{10}, 50, 50}).params, 50 * 12 + lstm_cells + 50);
}

// The Elman recipe's network, step by step by hand: h_t = tanh(W_x x_t + b + W_h h_{t-1}) per
// layer, read at each sequence's last real token through the head.
TEST(NasBenchNlp, TheNetworkComputesTheRecipe) {
  const NasBenchNlpSpace space(NlpModelSize{6, 5, 2}, 1, {7});
  const Task task{{4}, 3, 20};
  auto net = space.build(space.canonical(kElman), task);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(5);
  net->reset_parameters(generator);
  const torch::Tensor tokens = torch::tensor({{3, 7, 1, 9}, {4, 2, 0, 0}}, torch::kLong);
  const auto params = net->named_parameters();
  torch::Tensor input = params["encoder.weight"].index_select(0, tokens.flatten()).view({2, 4, 6});
  for (int layer = 0; layer < 2; ++layer) {
    const std::string prefix = "rnn" + std::to_string(layer) + ".";
    torch::Tensor h = torch::zeros({2, layer == 0 ? 5 : 6});
    std::vector<torch::Tensor> outputs;
    for (int t = 0; t < 4; ++t) {
      h = torch::tanh(input.select(1, t).matmul(params[prefix + "linear0_0.weight"].t()) + params[prefix + "linear0_0.bias"] +
                      h.matmul(params[prefix + "linear0_1.weight"].t()));
      outputs.push_back(h);
    }
    input = torch::stack(outputs, 1);
  }
  const torch::Tensor last = torch::stack({input[0][3], input[1][1]});
  const torch::Tensor expected = last.matmul(params["head.weight"].t()) + params["head.bias"];
  EXPECT_TRUE(torch::allclose(net->forward(tokens), expected, 1e-5, 1e-6));
}

class CaptureHidden : public ProbeListener {
 public:
  void hidden_state(const std::string& name, const torch::Tensor& h, std::int64_t unit_dim) override {
    states.push_back({name, h.detach().clone()});
  }
  std::vector<std::pair<std::string, torch::Tensor>> states;
};

// A.2: X = units x (batch * time) of the states entering each step (h_0 = 0 included), R its
// Pearson correlation, score -sum(log(l + 1e-5) + 1/(l + 1e-5)) over R's eigenvalues.
TEST(NasBenchNlp, HiddenCovarianceIsThePapersOnTheIncomingStatesOfTheChosenLayer) {
  at::set_num_threads(1);
  const NasBenchNlpSpace space(NlpModelSize{10, 12, 3}, 3, {7});
  const Task task{{9}, 5, 40};
  const std::string arch = space.canonical(kLstm);
  const torch::Tensor tokens = torch::randint(1, 40, {16, 9}, torch::kLong);
  const torch::Tensor labels = torch::randint(5, {16}, torch::kLong);

  auto net = space.build(arch, task);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(2);
  net->reset_parameters(generator);
  CaptureHidden capture;
  {
    ProbeScope scope(capture);
    net->forward(tokens);
  }
  ASSERT_EQ(capture.states.size(), 3u);
  for (int layer = 0; layer < 3; ++layer) {
    const torch::Tensor& h = capture.states[layer].second;
    EXPECT_EQ(capture.states[layer].first, "layer" + std::to_string(layer));
    EXPECT_EQ(h.sizes(), (std::vector<std::int64_t>{16, layer == 2 ? 10 : 12, 9}));
    EXPECT_EQ(h.select(2, 0).abs().sum().item<double>(), 0.0);  // h_0
    EXPECT_GT(h.select(2, 1).abs().sum().item<double>(), 0.0);
  }
  for (int layer = 0; layer < 3; ++layer) {
    const torch::Tensor x = capture.states[layer].second.permute({1, 0, 2}).reshape({capture.states[layer].second.size(1), -1}).to(torch::kDouble);
    const torch::Tensor centred = x - x.mean(1, true);
    const torch::Tensor covariance = centred.matmul(centred.t());
    const torch::Tensor sd = covariance.diagonal().sqrt();
    const torch::Tensor r = covariance / sd.unsqueeze(1) / sd.unsqueeze(0);
    const torch::Tensor eigen = torch::linalg_eigvalsh(r) + 1e-5;
    const double expected = -(eigen.log() + eigen.reciprocal()).sum().item<double>();

    auto scored = space.build(arch, task);
    auto same = at::make_generator<at::CPUGeneratorImpl>(2);
    scored->reset_parameters(same);
    auto predictor = make_predictor("hidden_cov@" + std::to_string(layer));
    Rng rng(1);
    ScoreInput input(*scored, tokens, labels, rng);
    EXPECT_NEAR(predictor->score(input), expected, 1e-6 * std::abs(expected)) << "layer " << layer;
  }
}

TEST(NasBenchNlp, ScoreCommandRanksABenchmarkRecipe) {
  std::string lstm = NasBenchNlpSpace(NlpModelSize{}, 3, {7}).canonical(kLstm);
  std::replace(lstm.begin(), lstm.end(), '"', '\'');
  const CliOutput out = run_cli("score nasbench_nlp \"" + lstm +
                                "\" --metric hidden_cov@0,nwot,params --batch 8 --input 12 --option embedding=16 --option hidden=24");
  ASSERT_EQ(out.status, 0) << out.out;
  EXPECT_NE(out.out.find("hidden_cov@0"), std::string::npos) << out.out;
  EXPECT_EQ(out.out.find("nan"), std::string::npos) << out.out;
  const CliOutput bad = run_cli("score nasbench_nlp \"{'h_new_0': {'op': 'linear', 'input': ['h_prev_0']}}\" --metric params");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("depends on the input x"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace nascent
