#include <gtest/gtest.h>

#include <cmath>

#include "core/probe.hpp"
#include "core/stats.hpp"
#include "datasets/dataset.hpp"
#include "predictors/gaussian_process.hpp"
#include "predictors/predictor.hpp"
#include "search_spaces/nb201/nb201.hpp"
#include "tests/test_support.hpp"

namespace nascent {

double label_gradient_alignment(const torch::Tensor& ntk, const torch::Tensor& labels);

namespace {

const char* kCell = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|";

// A small NB201 network and a learnable synthetic batch: every predictor runs in well under a second.
class PredictorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    at::set_num_threads(1);
    SyntheticOptions options;
    options.shape = {3, 8, 8};
    options.classes = 4;
    options.train = 16;
    data_ = make_synthetic(options);
  }
  std::shared_ptr<Network> build(const std::string& arch = kCell, std::uint64_t seed = 0) {
    auto net = space_.build(arch, task_);
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    net->reset_parameters(generator);
    return net;
  }
  std::map<std::string, double> score(Network& net, const std::vector<std::string>& names, std::uint64_t seed = 0,
                                      PredictorScores* full = nullptr) {
    std::vector<std::unique_ptr<Predictor>> owned;
    std::vector<const Predictor*> list;
    for (const auto& name : names) {
      owned.push_back(make_predictor(name));
      list.push_back(owned.back().get());
    }
    Rng rng(seed);
    ScoreInput input(net, data_.train.images, data_.train.labels, rng);
    input.flops = space_.describe(kCell, task_).flops;
    PredictorScores scores = score_predictors(list, input);
    if (full) *full = scores;
    return scores.scores;
  }
  Nb201Space space_{4, 1};
  Task task_{{3, 8, 8}, 4};
  DataSplits data_;
};

// Per-layer sums that the gradient proxies must equal, computed here from plain autograd.
struct ReferenceGradients {
  double grad_norm = 0, snip = 0, plain = 0, l2 = 0;
};
ReferenceGradients reference(Network& net, const torch::Tensor& x, const torch::Tensor& y) {
  net.train();
  net.zero_grad();
  torch::nn::functional::cross_entropy(net.forward(x), y).backward();
  ReferenceGradients r;
  for (auto& module : net.modules()) {
    torch::Tensor w;
    if (auto* conv = module->as<torch::nn::Conv2d>()) w = conv->weight;
    if (auto* linear = module->as<torch::nn::Linear>()) w = linear->weight;
    if (!w.defined()) continue;
    torch::Tensor g = w.grad().defined() ? w.grad() : torch::zeros_like(w);
    r.grad_norm += g.norm().item<double>();
    r.snip += (w * g).abs().sum().item<double>();
    r.plain += (w * g).sum().item<double>();
    r.l2 += w.norm().item<double>();
  }
  net.zero_grad();
  return r;
}

TEST_F(PredictorTest, EveryPredictorScoresFiniteAndLeavesTheWeightsAlone) {
  auto net = build();
  std::vector<torch::Tensor> before;
  for (const auto& p : net->parameters()) before.push_back(p.detach().clone());
  PredictorScores full;
  const auto scores = score(*net, predictor_names(), 0, &full);
  ASSERT_EQ(scores.size(), predictor_names().size());
  for (const auto& [name, value] : scores) EXPECT_TRUE(std::isfinite(value)) << name << ": " << full.errors[name];
  EXPECT_TRUE(full.errors.empty());
  auto params = net->parameters();
  for (std::size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(params[i].scalar_type(), torch::kFloat);
    EXPECT_TRUE(params[i].equal(before[i])) << "parameter " << i << " changed";
  }
  EXPECT_NEAR(scores.at("params"), space_.describe(kCell, task_).params / 1e6, 1e-12);
  EXPECT_NEAR(scores.at("flops"), space_.describe(kCell, task_).flops / 1e6, 1e-12);
}

TEST_F(PredictorTest, GradientProxiesFollowThePublishedPerLayerSums) {
  auto net = build();
  const ReferenceGradients r = reference(*net, data_.train.images, data_.train.labels);
  const auto scores = score(*net, {"grad_norm", "snip", "plain", "l2_norm"});
  EXPECT_NEAR(scores.at("grad_norm"), r.grad_norm, 1e-4 * std::abs(r.grad_norm));
  EXPECT_NEAR(scores.at("snip"), r.snip, 1e-4 * std::abs(r.snip));
  EXPECT_NEAR(scores.at("plain"), r.plain, 1e-4 * std::abs(r.snip));
  EXPECT_NEAR(scores.at("l2_norm"), r.l2, 1e-5 * r.l2);
}

TEST_F(PredictorTest, SharedPassesGiveWhatEachPredictorGivesAlone) {
  auto net = build();
  const auto together = score(*net, predictor_names(), 5);
  for (const auto& name : {"grad_norm", "snip", "fisher", "nwot", "jacob_cov", "epe_nas", "hidden_cov", "zen"}) {
    const auto alone = score(*net, {name}, 5);
    EXPECT_NEAR(alone.at(name), together.at(name), 1e-6 * std::max(1.0, std::abs(alone.at(name)))) << name;
  }
}

// synflow runs in float64: gradients left by an earlier predictor must not hold it to float32
// (which overflows on large NAS-Bench-201 networks, whose synflow sums reach 1e50).
TEST_F(PredictorTest, SynflowAfterOtherPredictorsIsFullFloat64) {
  // A full-size NAS-Bench-201 network whose synflow sum (about 1e49) exceeds float32's range.
  Nb201Space full;
  const Task task{{3, 32, 32}, 10};
  const std::string arch = "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|";
  auto synflow = make_predictor("synflow"), grad_norm = make_predictor("grad_norm");
  const auto synflow_of = [&](std::vector<const Predictor*> list) {
    auto net = full.build(arch, task);  // fresh, identically initialised networks
    auto generator = at::make_generator<at::CPUGeneratorImpl>(0);
    net->reset_parameters(generator);
    Rng rng(0);
    ScoreInput input(*net, torch::randn({16, 3, 32, 32}), torch::arange(16, torch::kInt64) % 10, rng);
    return score_predictors(list, input).scores.at("synflow");
  };
  const double after_grad_norm = synflow_of({grad_norm.get(), synflow.get()});
  const double alone = synflow_of({synflow.get()});
  EXPECT_GT(alone, std::log(3.4e38));
  EXPECT_DOUBLE_EQ(after_grad_norm, alone);
}

TEST_F(PredictorTest, SynflowIgnoresTheDataAndTheWeightSigns) {
  auto net = build();
  const double original = score(*net, {"synflow"}).at("synflow");
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters()) p.neg_();
  }
  data_.train.images = torch::randn_like(data_.train.images);
  EXPECT_NEAR(score(*net, {"synflow"}).at("synflow"), original, 1e-9 * std::abs(original));
  // NASLib's log transform: the value is log of a positive sum for this network.
  EXPECT_GT(original, 0);
}

TEST_F(PredictorTest, ZenIsReproducibleFromItsRandomStream) {
  auto net = build();
  EXPECT_EQ(score(*net, {"zen"}, 7).at("zen"), score(*net, {"zen"}, 7).at("zen"));
  EXPECT_NE(score(*net, {"zen"}, 7).at("zen"), score(*net, {"zen"}, 8).at("zen"));
}

TEST_F(PredictorTest, HiddenCovarianceSelectsLayersByNameOrIndex) {
  auto net = build();
  const auto scores = score(*net, {"hidden_cov@stem", "hidden_cov@0", "hidden_cov@cell1", "hidden_cov@-1", "hidden_cov"});
  EXPECT_EQ(scores.at("hidden_cov@stem"), scores.at("hidden_cov@0"));
  EXPECT_EQ(scores.at("hidden_cov@-1"), scores.at("hidden_cov"));
  EXPECT_NE(scores.at("hidden_cov@stem"), scores.at("hidden_cov@-1"));
  PredictorScores full;
  const auto bad = score(*net, {"hidden_cov@nowhere"}, 0, &full);
  EXPECT_TRUE(std::isnan(bad.at("hidden_cov@nowhere")));
  EXPECT_NE(full.errors.at("hidden_cov@nowhere").find("no hidden state 'nowhere'"), std::string::npos);
  EXPECT_NE(full.errors.at("hidden_cov@nowhere").find("stem"), std::string::npos);
}

TEST(PredictorMath, EigenScoreAndCorrelation) {
  // Independent units: R = I, every eigenvalue 1.
  const double k = 1e-5;
  EXPECT_NEAR(predictor_detail::eigen_score(torch::eye(5, torch::kDouble)), -5 * (std::log(1 + k) + 1 / (1 + k)), 1e-9);
  // Two perfectly correlated units: eigenvalues 2 and 0.
  torch::Tensor x = torch::tensor({{1.0, 2.0, 3.0, 5.0}, {2.0, 4.0, 6.0, 10.0}}, torch::kDouble);
  EXPECT_NEAR(predictor_detail::eigen_score(predictor_detail::corrcoef(x)),
              -(std::log(2 + k) + 1 / (2 + k) + std::log(k) + 1 / k), 1e-3);
  // A constant unit has no correlation: the score is NaN, not an exception.
  torch::Tensor constant = torch::tensor({{1.0, 1.0, 1.0}, {1.0, 2.0, 3.0}}, torch::kDouble);
  EXPECT_TRUE(std::isnan(predictor_detail::eigen_score(predictor_detail::corrcoef(constant))));
}

TEST(PredictorMath, LabelGradientAlignmentIsACentredKernelAlignment) {
  torch::Tensor labels = torch::tensor({0, 0, 1, 2}, torch::kInt64);
  torch::Tensor same = labels.view({-1, 1}).eq(labels.view({1, -1})).to(torch::kDouble) * 2 - 1;
  EXPECT_NEAR(label_gradient_alignment(same * 3 + 7, labels), 1.0, 1e-12);  // scale and shift do not matter
  EXPECT_NEAR(label_gradient_alignment(-same, labels), -1.0, 1e-12);
}

// A network built without the probe functions: predictors that need probes fail with a clear
// message and score NaN; the others still work.
class PlainNetwork : public Network {
 public:
  PlainNetwork() { linear_ = register_module("linear", torch::nn::Linear(3 * 8 * 8, 4)); }
  torch::Tensor forward(torch::Tensor x) override { return linear_->forward(torch::relu(x.flatten(1))); }
  torch::nn::Linear linear_{nullptr};
};

TEST_F(PredictorTest, UnprobedNetworksScoreNaNWithAReasonNeverCrash) {
  PlainNetwork net;
  PredictorScores full;
  const auto scores = score(net, {"nwot", "fisher", "hidden_cov", "zen", "snip", "synflow", "jacob_cov", "lga"}, 0, &full);
  for (const auto& name : {"nwot", "fisher", "hidden_cov", "zen"}) {
    EXPECT_TRUE(std::isnan(scores.at(name))) << name;
    EXPECT_FALSE(full.errors[name].empty()) << name;
  }
  EXPECT_NE(full.errors["nwot"].find("probe_relu"), std::string::npos) << full.errors["nwot"];
  for (const auto& name : {"snip", "synflow", "jacob_cov", "lga"}) EXPECT_TRUE(std::isfinite(scores.at(name))) << name;
}

// A token model (N x T x H hidden states): hidden covariance takes the features as units and
// every batch x position pair as a sample.
class TokenNetwork : public Network {
 public:
  TokenNetwork() { embed_ = register_module("embed", torch::nn::Linear(3, 6)); }
  torch::Tensor forward(torch::Tensor x) override {
    torch::Tensor tokens = x.flatten(2).transpose(1, 2);  // N x (H*W) x C: one token per pixel
    torch::Tensor hidden = torch::tanh(embed_->forward(tokens));
    probe_hidden("encoder0", hidden, /*unit_dim=*/2);
    last_hidden = hidden.detach();
    return hidden.mean(1).slice(1, 0, 4);
  }
  torch::nn::Linear embed_{nullptr};
  torch::Tensor last_hidden;
};

TEST_F(PredictorTest, HiddenCovarianceOfTokenSequencesUsesFeaturesAsUnits) {
  TokenNetwork net;
  const double score_value = score(net, {"hidden_cov@encoder0"}).at("hidden_cov@encoder0");
  const torch::Tensor units = net.last_hidden.reshape({-1, 6}).t();  // 6 units x (N * T) samples
  EXPECT_NEAR(score_value, predictor_detail::eigen_score(predictor_detail::corrcoef(units)), 1e-9 * std::abs(score_value));
}

// Without BatchNorm, samples do not interact: both ways of taking per-sample gradients agree.
// With it they differ (batch statistics versus each sample's own).
TEST_F(PredictorTest, LgaBatchStatisticsOnlyMatterWithBatchNorm) {
  const auto lga_pair = [&](Network& net) {
    auto own = make_predictor("lga", Config::parse("batch_statistics: false"));
    auto batch = make_predictor("lga");  // the default: the reference's batch statistics
    Rng rng(0);
    ScoreInput input(net, data_.train.images, data_.train.labels, rng);
    return std::make_pair(own->score(input), batch->score(input));
  };
  PlainNetwork plain;
  const auto [plain_own, plain_batch] = lga_pair(plain);
  EXPECT_NEAR(plain_own, plain_batch, 1e-6);
  auto nb201 = build();
  const auto [own, batch] = lga_pair(*nb201);
  EXPECT_GT(std::abs(own - batch), 1e-6);
  EXPECT_LE(std::abs(batch), 1.0);
}

TEST(PredictorFactory, UnknownNamesAndOptionsAreOneLineErrors) {
  EXPECT_ERROR(make_predictor("synflw"), "unknown predictor 'synflw'");
  EXPECT_ERROR(make_predictor("synflow@3"), "only hidden_cov takes a layer");
  EXPECT_ERROR(make_predictor("lga", Config::parse("warmup_steps: -1")), "warmup_steps: -1 is out of range (>= 0)");
  EXPECT_ERROR(make_predictor("lga", Config::parse("warmup: 1")), "warmup");
  EXPECT_EQ(make_predictor("jacov")->name(), "jacov");
}

TEST_F(PredictorTest, LgaWarmUpTrainsBeforeMeasuring) {
  auto net = build();
  std::vector<std::unique_ptr<Predictor>> owned;
  owned.push_back(make_predictor("lga", Config::parse("warmup_steps: 0")));
  owned.push_back(make_predictor("lga", Config::parse("warmup_steps: 3\nwarmup_lr: 0.1")));
  Rng rng(0);
  ScoreInput input(*net, data_.train.images, data_.train.labels, rng);
  const double cold = owned[0]->score(input);
  const double warm = owned[1]->score(input);
  EXPECT_GE(cold, -1);
  EXPECT_LE(cold, 1);
  EXPECT_NE(cold, warm);
}

TEST(GaussianProcess, MaternKernelClosedForm) {
  EXPECT_DOUBLE_EQ(matern52(0, 2), 1);
  const double r = std::sqrt(5.0);
  EXPECT_NEAR(matern52(2, 2), (1 + r + 5.0 / 3) * std::exp(-r), 1e-15);
}

TEST(GaussianProcess, PosteriorMatchesTheTwoPointClosedForm) {
  GaussianProcess::Options options;
  options.normalize_y = false;
  options.noise = 1e-6;
  GaussianProcess gp(options);
  const double l = 0.7;
  gp.fit_fixed({{0.0}, {1.0}}, {1.0, -1.0}, l);
  const double a = 1 + options.noise, b = matern52(1, l);
  // K = [[a, b], [b, a]], y = [1, -1]: alpha = [1, -1] / (a - b).
  const double k1 = matern52(2, l), k2 = matern52(1, l);
  const auto p = gp.predict({2.0});
  EXPECT_NEAR(p.mean, (k1 - k2) / (a - b), 1e-12);
  const double quad = (a * (k1 * k1 + k2 * k2) - 2 * b * k1 * k2) / (a * a - b * b);
  EXPECT_NEAR(p.stddev, std::sqrt(1 - quad), 1e-9);
  // At a training point the posterior interpolates with almost no uncertainty.
  EXPECT_NEAR(gp.predict({0.0}).mean, 1.0, 1e-5);
  EXPECT_LT(gp.predict({0.0}).stddev, 1e-2);
  // One point: log N(y | 0, 1 + noise).
  gp.fit_fixed({{0.0}}, {0.5}, l);
  EXPECT_NEAR(gp.log_marginal_likelihood(l), -0.5 * 0.25 / a - 0.5 * std::log(a) - 0.5 * std::log(2 * M_PI), 1e-12);
}

TEST(GaussianProcess, FitMaximisesTheMarginalLikelihood) {
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (int i = 0; i < 12; ++i) {
    x.push_back({i / 4.0});
    y.push_back(std::sin(i / 4.0) * 3 + 10);
  }
  GaussianProcess gp;
  Rng rng(1);
  gp.fit(x, y, rng);
  const double best = gp.log_marginal_likelihood(gp.length_scale());
  for (double l : {0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 50.0}) EXPECT_GE(best + 1e-6, gp.log_marginal_likelihood(l)) << l;
  // normalize_y: predictions are back in the targets' units.
  EXPECT_NEAR(gp.predict({1.0}).mean, std::sin(1.0) * 3 + 10, 1e-2);
}

TEST(Stats, SpearmanWithTiesAndNonFiniteValues) {
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {10, 20, 30, 40}), 1, 1e-12);
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1, 1e-12);
  EXPECT_NEAR(spearman({1, 2, NAN, 3, 4}, {1, 2, 100, 3, 4}), 1, 1e-12);
  // scipy.stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]) = 0.9486832980505138
  EXPECT_NEAR(spearman({1, 2, 2, 3}, {1, 3, 2, 4}), 0.9486832980505138, 1e-12);
}

}  // namespace
}  // namespace nascent
