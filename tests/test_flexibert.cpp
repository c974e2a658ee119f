// FlexiBERT space, its embedding, BOSHNAS and the text-task training path (issue 5).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/network.hpp"
#include "core/registry.hpp"
#include "core/stats.hpp"
#include "datasets/dataset.hpp"
#include "evaluators/table_evaluator.hpp"
#include "evaluators/train_evaluator.hpp"
#include "predictors/boshnas_surrogate.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"
#include "search_spaces/flexibert/flexibert.hpp"
#include "strategies/boshnas.hpp"
#include "test_support.hpp"

namespace nascent {
namespace {

const std::string kBenchmark = std::string(NASCENT_SOURCE_DIR) + "/../shared/data/bert-benchmark/BERT_benchmark.json";
const std::string kMini =
    "sa_sdp_h256_n2_f512-512-512|sa_sdp_h256_n2_f512-512-512|l_dct_h128_n4_f1024|l_dct_h128_n4_f1024";

FlexibertSpace& test_space() {
  static FlexibertSpace space(FlexibertSpace::Options{});
  return space;
}

FlexibertSpace& full_space() {
  static FlexibertSpace space([] {
    FlexibertSpace::Options options;
    options.design = "full";
    return options;
  }());
  return space;
}

TEST(Flexibert, StringsRoundTripAndOtherFormsConvert) {
  Rng rng(3);
  for (FlexibertSpace* space : {&test_space(), &full_space()}) {
    for (int i = 0; i < 200; ++i) {
      const std::string arch = space->sample(rng);
      EXPECT_EQ(space->canonical(arch), arch);
      const std::string child = space->mutate(arch, rng);
      EXPECT_NE(child, arch);
      EXPECT_EQ(space->canonical(child), child);
    }
  }
  // FlexiBERT-Mini as the authors' README writes it (a Python dict).
  EXPECT_EQ(test_space().canonical("{'l':4,'o':['sa','sa','l','l'],'h':[256,256,128,128],'n':[2,2,4,4],"
                                   "'f':[[512,512,512],[512,512,512],[1024],[1024]],'p':['sdp','sdp','dct','dct']}"),
            kMini);
  // A BERT_benchmark.json entry: one hidden size, SA/LT/DSC operations, count x width feed-forward.
  EXPECT_EQ(test_space().canonical(R"({"hparams": {"model_hparam_overrides": {"hidden_size": 128, "nas_config": {"encoder_layers": [
      {"operation_type": "DSC", "operation_parameter": 9, "num_operation_heads": 4, "feed_forward_dimension": 512, "num_feed_forward": 3},
      {"operation_type": "LT", "operation_parameter": "DFT", "num_operation_heads": 2, "feed_forward_dimension": 1024, "num_feed_forward": 1}]}}}})"),
            "c_9_h128_n4_f512-512-512|l_dft_h128_n2_f1024");
  // The full design accepts what the test design rejects.
  const std::string full = "c_13_h512_n8_f4096-2048|sa_wma_h512_n8_f2048|sa_sdp_h128_n2_f512|l_dft_h256_n4_f512";
  EXPECT_EQ(full_space().canonical(full), full);
  EXPECT_ERROR(test_space().canonical(full), "layer 1: operation 'c_13' is not in the test design");
}

TEST(Flexibert, BadArchitecturesAreOneLineErrors) {
  FlexibertSpace& space = test_space();
  EXPECT_ERROR(space.canonical("sa_sdp_h256_n2_f512"), "1 layers are not in the test design (2, 4)");
  EXPECT_ERROR(space.canonical("sa_sdp_h256_n2_f512|sa_sdp_h512_n2_f512"), "layer 2: hidden size 512 is not in the test design");
  EXPECT_ERROR(space.canonical("sa_sdp_h256_n2_f512|c_13_h256_n2_f512"), "layer 2: operation 'c_13' is not in the test design");
  EXPECT_ERROR(space.canonical("sa_sdp_h256_n2_f512|xx_sdp_h256_n2_f512"), "operation 'xx_sdp'");
  EXPECT_ERROR(space.canonical("sa_sdp_h256_n2_f512|sa_sdp_h256_n2_f512-512"), "2 feed-forward layers are not in the test design");
  EXPECT_ERROR(space.canonical("sa_sdp_h256_n2_f512|sa_sdp_hx_n2_f512"), "expected the hidden size as a number, got 'x'");
  EXPECT_ERROR(space.canonical("sa_sdp_h256_n2"), "expected a layer as op_param_h<hidden>_n<heads>_f<width>");
  EXPECT_ERROR(space.canonical(""), "empty FlexiBERT architecture");
  EXPECT_ERROR(space.canonical("{'l': 2, 'o': ['sa']"), "malformed JSON model description");
  EXPECT_ERROR(space.canonical("{'l': 2, 'o': ['sa'], 'h': [128], 'n': [2], 'f': [[512]], 'p': ['sdp']}"),
               "'o' must list one value per layer (2)");
  EXPECT_ERROR(space.canonical(R"({"hidden_size": 128, "nas_config": {"encoder_layers": [{"operation_type": "RNN"}]}})"),
               "operation_type \"RNN\": expected SA, LT or DSC");
  EXPECT_ERROR(registries().spaces.create("flexibert", Config::parse("design: huge")), "design");
  EXPECT_ERROR(registries().spaces.create("flexibert", Config::parse("models: /nonexistent/models.json")), "cannot read models file");
}

TEST(Flexibert, EveryBenchmarkEntryConverts) {
  if (!std::filesystem::exists(kBenchmark)) GTEST_SKIP() << "BERT_benchmark.json not present";
  std::ifstream file(kBenchmark);
  const nlohmann::json entries = nlohmann::json::parse(file);
  ASSERT_EQ(entries.size(), 500u);
  std::set<std::string> distinct;
  for (const auto& entry : entries) {
    const std::string arch = test_space().canonical(entry.dump());
    const auto& layers = entry["hparams"]["model_hparam_overrides"]["nas_config"]["encoder_layers"];
    EXPECT_EQ(test_space().model(arch).size(), layers.size());
    distinct.insert(arch);
  }
  EXPECT_EQ(distinct.size(), 491u);  // nine models were trained twice
  // As a library, the space samples and mutates inside it.
  FlexibertSpace::Options options;
  options.models = kBenchmark;
  FlexibertSpace library(options);
  EXPECT_EQ(library.enumerate().size(), 491u);
  Rng rng(1);
  for (int i = 0; i < 50; ++i) {
    const std::string arch = library.sample(rng);
    EXPECT_TRUE(distinct.count(arch));
    EXPECT_TRUE(distinct.count(library.mutate(arch, rng)));
  }
}

TEST(Flexibert, ParameterNamesAndShapesMatchTheBuiltModule) {
  Rng rng(5);
  const Task task{{24}, 7, 50};
  for (int i = 0; i < 12; ++i) {
    FlexibertSpace& space = i % 2 ? full_space() : test_space();
    const std::string arch = space.sample(rng);
    auto net = space.build(arch, task);
    std::map<std::string, std::vector<std::int64_t>> built;
    for (const auto& item : net->named_parameters()) built[item.key()] = item.value().sizes().vec();
    const auto expected = flexibert_parameter_shapes(space.model(arch), task.vocabulary_size, task.num_classes);
    EXPECT_EQ(built, (std::map<std::string, std::vector<std::int64_t>>(expected.begin(), expected.end()))) << arch;
    std::int64_t count = 0;
    for (const auto& item : net->parameters()) count += item.numel();
    EXPECT_EQ(space.describe(arch, task).params, static_cast<double>(count)) << arch;
  }
}

TEST(Flexibert, EveryOperationTrainsAndPaddingIsIgnored) {
  FlexibertSpace& space = full_space();
  const Task task{{12}, 3, 20};
  for (const std::string arch : {"sa_sdp_h128_n2_f512|sa_wma_h256_n4_f512-1024", "l_dft_h128_n2_f512|l_dct_h128_n8_f512",
                                 "c_5_h128_n2_f512|c_13_h256_n8_f512-512-512"}) {
    auto net = space.build(arch, task);
    auto generator = at::make_generator<at::CPUGeneratorImpl>(0);
    net->reset_parameters(generator);
    torch::Tensor tokens = torch::randint(2, 20, {4, 12}, generator, torch::kLong);
    tokens.slice(1, 9, 12).fill_(0);  // padding at the end
    net->train();
    torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(tokens), torch::tensor({0, 1, 2, 0}));
    ASSERT_TRUE(torch::isfinite(loss).item<bool>()) << arch;
    loss.backward();
    for (const auto& item : net->named_parameters()) {
      // A linear-transform layer keeps the authors' key projection, whose scores it replaces by zeros.
      if (arch.rfind("l_", 0) == 0 && item.key().find(".key.") != std::string::npos) continue;
      EXPECT_TRUE(item.value().grad().defined() && torch::isfinite(item.value().grad()).all().item<bool>()) << arch << " " << item.key();
    }
    // In eval mode a gloss's logits do not depend on how much padding follows it, except through
    // the linear transforms, whose DFT/DCT run over the padded length.
    if (arch.rfind("l_", 0) == 0) continue;
    net->eval();
    torch::NoGradGuard no_grad;
    torch::Tensor longer = torch::cat({tokens, torch::zeros({4, 4}, torch::kLong)}, 1);
    EXPECT_TRUE(torch::allclose(net->forward(tokens), net->forward(longer), 1e-4, 1e-5)) << arch;
  }
}

TEST(Flexibert, GraphHashAndEditDistance) {
  FlexibertSpace& space = test_space();
  const ArchGraph graph = space.graph(kMini);
  // input, output, and per layer: heads, two add_norms, feed-forward nodes.
  EXPECT_EQ(boost::num_vertices(graph), 2u + (2 + 2 + 3) * 2 + (4 + 2 + 1) * 2);
  EXPECT_EQ(space.fingerprint(kMini), space.fingerprint(space.canonical(kMini)));
  EXPECT_NE(space.fingerprint(kMini), space.fingerprint("sa_sdp_h256_n2_f512-512-512|sa_sdp_h256_n2_f512-512-512|l_dct_h128_n4_f1024|l_dft_h128_n4_f1024"));
  const auto d = [&](const std::string& a, const std::string& b) { return space.edit_distance(a, b); };
  const std::string base = "sa_sdp_h128_n2_f512|sa_sdp_h128_n2_f512";
  EXPECT_DOUBLE_EQ(d(base, base), 0);
  // sa_h128_p-sdp (12) -> sa_h128_p-wma (13): one label step per head, two heads.
  EXPECT_DOUBLE_EQ(d(base, "sa_wma_h128_n2_f512|sa_sdp_h128_n2_f512"), 2.0);
  // f512 (4) -> f1024 (5).
  EXPECT_DOUBLE_EQ(d(base, "sa_sdp_h128_n2_f1024|sa_sdp_h128_n2_f512"), 1.0);
  // Two more heads: each inserted at idx 12 with its two edges.
  EXPECT_NEAR(d(base, "sa_sdp_h128_n4_f512|sa_sdp_h128_n2_f512"), 2 * (12 + 0.2), 1e-9);
  // Two more feed-forward nodes (idx 4 each) and the chain's edge edits: 0.1 * (2 + 2).
  EXPECT_NEAR(d(base, "sa_sdp_h128_n2_f512-512-512|sa_sdp_h128_n2_f512"), 8.4, 1e-9);
  Rng rng(9);
  for (int i = 0; i < 30; ++i) {
    const std::string a = space.sample(rng), b = space.sample(rng);
    EXPECT_DOUBLE_EQ(d(a, b), d(b, a));
  }
}

TEST(Flexibert, EmbeddingIsFixedAndKeepsTheEditDistanceOrder) {
  FlexibertSpace& space = test_space();
  EXPECT_EQ(space.encode(kMini).size(), 16u);
  FlexibertSpace again(FlexibertSpace::Options{});
  EXPECT_EQ(space.encode(kMini), again.encode(kMini));
  Rng rng(11);
  std::vector<std::string> archs;
  for (int i = 0; i < 60; ++i) archs.push_back(space.sample(rng));
  std::vector<double> edit, euclid;
  for (std::size_t i = 0; i < archs.size(); ++i)
    for (std::size_t j = i + 1; j < archs.size(); ++j) {
      edit.push_back(space.edit_distance(archs[i], archs[j]));
      const auto a = space.encode(archs[i]), b = space.encode(archs[j]);
      double sum = 0;
      for (std::size_t k = 0; k < a.size(); ++k) sum += (a[k] - b[k]) * (a[k] - b[k]);
      euclid.push_back(std::sqrt(sum));
    }
  EXPECT_GT(spearman(edit, euclid), 0.85);
}

TEST(Flexibert, WeightOverlapCountsTensorsThatFit) {
  FlexibertSpace& space = test_space();
  EXPECT_DOUBLE_EQ(space.weight_overlap(kMini, kMini), 1.0);
  // Only the last layer's head count differs: its Q/K/V keep their shapes, its relative-position table does not.
  const std::string other = "sa_sdp_h256_n2_f512-512-512|sa_sdp_h256_n2_f512-512-512|l_dct_h128_n4_f1024|l_dct_h128_n2_f1024";
  const double overlap = space.weight_overlap(other, kMini);
  EXPECT_GT(overlap, 0.9);
  EXPECT_LT(overlap, 1.0);
  EXPECT_LT(space.weight_overlap("c_5_h128_n2_f512|c_5_h128_n2_f512", kMini), 0.5);
}

TEST(BoshnasSurrogate, LearnsARankingAndGobiMovesTowardsLowPredictions) {
  Rng rng(2);
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (int i = 0; i < 120; ++i) {
    std::vector<double> row{uniform_real(rng) * 2 - 1, uniform_real(rng) * 2 - 1, uniform_real(rng) * 2 - 1};
    x.push_back(row);
    y.push_back(0.5 + 0.3 * row[0] - 0.1 * row[1]);
  }
  BoshnasSurrogate::Options options;
  options.npn_lr = 1e-3;
  BoshnasSurrogate surrogate(3, 7, options);
  std::vector<std::vector<double>> train_x(x.begin(), x.begin() + 80), test_x(x.begin() + 80, x.end());
  std::vector<double> train_y(y.begin(), y.begin() + 80), test_y(y.begin() + 80, y.end());
  surrogate.train(train_x, train_y, rng);
  std::vector<double> predicted;
  for (const auto& p : surrogate.predict(test_x)) {
    predicted.push_back(p.mean);
    EXPECT_GE(p.epistemic, 0);
    EXPECT_GT(p.aleatoric, 0);
  }
  EXPECT_GT(spearman(predicted, test_y), 0.8);
  BoshnasSurrogate::GobiOptions gobi;
  const auto results = surrogate.gobi(x, gobi, rng);
  ASSERT_EQ(results.size(), 10u);
  double picked = 0, average = 0;
  for (const auto& r : results) picked += y.at(r.index) / results.size();
  for (double v : y) average += v / y.size();
  EXPECT_LT(picked, average - 0.1);
}

TEST(Boshnas, SearchesTheBenchmarkLibraryDeterministically) {
  if (!std::filesystem::exists(kBenchmark)) GTEST_SKIP() << "BERT_benchmark.json not present";
  FlexibertSpace::Options options;
  options.models = kBenchmark;
  FlexibertSpace space(options);
  TableEvaluator::Options table;
  table.path = kBenchmark;
  table.key = "/hparams/model_hparam_overrides";
  table.metric = "/scores/glue";
  table.duplicates = "mean";
  table.space = &space;
  TableEvaluator evaluator(table);
  EXPECT_EQ(evaluator.rows(), 491u);
  const auto run = [&](std::uint64_t seed) {
    Boshnas::Options boshnas;
    boshnas.gobi.iterations = 50;
    Boshnas strategy(space, boshnas);
    Rng rng(seed);
    std::vector<std::string> queried;
    while (queried.size() < 25) {
      const auto asked = strategy.ask(1, rng);
      if (asked.empty()) break;
      for (const auto& arch : asked) {
        const Evaluation e = evaluator.evaluate(space, arch, 0);
        EXPECT_TRUE(e.ok) << e.error;
        queried.push_back(arch);
        strategy.tell(arch, e.metrics.at("/scores/glue"));
      }
    }
    return queried;
  };
  const auto first = run(4);
  EXPECT_GE(first.size(), 12u);
  // The surrogate steers: the models it proposes after the random ones score well above the
  // library's mean GLUE (68.9, sd 3.8).
  const std::size_t initial = Boshnas::Options().initial;
  double library_mean = 0, proposed_mean = 0;
  for (const auto& arch : space.enumerate()) library_mean += evaluator.evaluate(space, arch, 0).metrics.at("/scores/glue") / 491;
  for (std::size_t i = initial; i < first.size(); ++i)
    proposed_mean += evaluator.evaluate(space, first[i], 0).metrics.at("/scores/glue") / static_cast<double>(first.size() - initial);
  EXPECT_GT(proposed_mean, library_mean + 2);
  EXPECT_EQ(std::set<std::string>(first.begin(), first.end()).size(), first.size());  // never re-queries
  EXPECT_EQ(first, run(4));
}

TEST(Boshnas, ConfigErrors) {
  const auto make = [](const std::string& yaml) { make_strategy(Config::parse(yaml), test_space()); };
  EXPECT_ERROR(make("name: boshnas\ninitial: 0"), "strategy.initial must be at least 1");
  EXPECT_ERROR(make("name: boshnas\nuncertainty_probability: 0.7\ndiversity_probability: 0.5"), "sum to at most 1");
  EXPECT_ERROR(make("name: boshnas\nnpn_lr: 0"), "npn_lr: 0 is out of range ([1e-12, 1])");
  EXPECT_ERROR(make("name: boshnas\nnpn_lr: 1e300"), "npn_lr: 1e+300 is out of range ([1e-12, 1])");
  EXPECT_ERROR(make("name: boshnas\ngobi_lr: -1"), "gobi_lr: -1 is out of range (>= 1e-12)");
  EXPECT_ERROR(make("name: boshnas\nkappa: 2"), "kappa");
  EXPECT_ERROR(make("name: boshnas\ntargets: raw"), "targets");
  EXPECT_ERROR(make("name: boshnas\nacquisition_search: grid"), "acquisition_search");
}

// Standardised targets are z-scores: fitness on any scale (here far above fitness_scale) steers the
// same search, query for query; the authors' relative targets need fitness below fitness_scale.
TEST(Boshnas, StandardisedTargetsTakeFitnessOnAnyScale) {
  const auto run = [](double scale, Boshnas::Options::Targets targets) {
    Boshnas::Options options;
    options.library_size = 80;
    options.initial = 5;
    options.targets = targets;
    Boshnas strategy(test_space(), options);
    Rng rng(2);
    std::vector<std::string> queried;
    while (queried.size() < 12) {
      const auto asked = strategy.ask(1, rng);
      if (asked.empty()) break;
      for (const auto& arch : asked) {
        const std::vector<double> x = test_space().encode(arch);
        queried.push_back(arch);
        strategy.tell(arch, scale * (70 + x[0] - 0.5 * x[1]));
      }
    }
    return queried;
  };
  const auto percent = run(1, Boshnas::Options::Targets::kStandardised);
  EXPECT_EQ(percent.size(), 12u);
  EXPECT_EQ(run(1024, Boshnas::Options::Targets::kStandardised), percent);  // a power of two: exact z-scores
  EXPECT_ERROR(run(1024, Boshnas::Options::Targets::kRelative), "must exceed the fitness values");
}

class JsonTable : public ScratchDirTest {};

TEST_F(JsonTable, RecordsAreReadThroughTheSpaceAndErrorsNameTheRecord) {
  const std::string good = write("good.json", R"([
    {"model": "sa_sdp_h128_n2_f512|sa_sdp_h128_n2_f512", "scores": {"glue": 70.0}},
    {"model": {"l": 2, "o": ["sa", "sa"], "h": [128, 128], "n": [2, 2], "f": [[512], [512]], "p": ["sdp", "sdp"]}, "scores": {"glue": 72.0}},
    {"model": "l_dft_h128_n2_f512|sa_sdp_h128_n2_f512", "scores": {"glue": 60.0}}])");
  TableEvaluator::Options options;
  options.path = good;
  options.key = "model";
  options.metric = "/scores/glue";
  options.space = &test_space();
  EXPECT_ERROR(TableEvaluator{options}, "duplicate key 'sa_sdp_h128_n2_f512|sa_sdp_h128_n2_f512'");
  options.duplicates = "mean";
  TableEvaluator table(options);
  EXPECT_EQ(table.rows(), 2u);
  EXPECT_DOUBLE_EQ(table.evaluate(test_space(), "sa_sdp_h128_n2_f512|sa_sdp_h128_n2_f512", 0).metrics.at("/scores/glue"), 71.0);
  const auto bad = [&](const std::string& content) {
    options.path = write("bad.json", content);
    return error_of([&] { TableEvaluator{options}; });
  };
  EXPECT_NE(bad(R"([{"model": "sa_sdp_h128_n2_f512|sa_sdp_h128_n2_f512", "scores": {"glue": "high"}}])").find("record 1, metric field '/scores/glue': \"high\" is not a number"), std::string::npos);
  EXPECT_NE(bad(R"([{"model": "sa_sdp_h128_n2_f512|sa_sdp_h128_n2_f512"}])").find("record 1: no metric field '/scores/glue'"), std::string::npos);
  EXPECT_NE(bad(R"([{"model": "sa_sdp_h999_n2_f512|sa_sdp_h128_n2_f512", "scores": {"glue": 1}}])").find("record 1, key field 'model': cannot parse"), std::string::npos);
  EXPECT_NE(bad(R"([{"model": )").find("not valid JSON"), std::string::npos);
  options.space = nullptr;
  options.path = good;
  EXPECT_ERROR(TableEvaluator{options}, "a JSON table needs the search space");
}

class FlexibertText : public ScratchDirTest {};

TEST_F(FlexibertText, TrainsOnWordNetWithPretrainingTransferAndDeterminism) {
  if (!std::filesystem::exists("/usr/share/wordnet/data.noun")) GTEST_SKIP() << "wordnet-base not installed";
  const std::string yaml = R"yaml(
name: train
dataset: {name: wordnet, tokens: words, vocabulary: 2000, max_length: 16, train_subset: 256, val_subset: 64, test_subset: 64}
optimizer: adamw
lr: 0.001
weight_decay: 0.01
steps: 6
batch_size: 32
pretrain_steps: 3
keep_weights: 4
)yaml";
  auto evaluator = make_evaluator(Config::parse(yaml), EvaluatorContext{});
  FlexibertSpace& space = test_space();
  const std::string arch = "sa_wma_h128_n2_f512|c_5_h128_n2_f512";
  const Evaluation first = evaluator->evaluate(space, arch, 1);
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_TRUE(std::isfinite(first.metrics.at("pretrain_loss")));
  EXPECT_GT(first.metrics.at("val_acc"), 0);
  // Same seed, same result: dropout masks come from the candidate's own generator.
  const Evaluation again = make_evaluator(Config::parse(yaml), EvaluatorContext{})->evaluate(space, arch, 1);
  EXPECT_EQ(first.metrics.at("val_loss"), again.metrics.at("val_loss"));
  // A neighbour starts from the kept weights and is only fine-tuned.
  const std::string neighbour = "sa_wma_h128_n2_f512|c_5_h128_n2_f1024";
  const Evaluation transferred = dynamic_cast<WeightTransferEvaluator&>(*evaluator).evaluate_from(space, neighbour, 2, arch);
  ASSERT_TRUE(transferred.ok) << transferred.error;
  EXPECT_DOUBLE_EQ(transferred.metrics.at("transfer_overlap"), space.weight_overlap(neighbour, arch));
  EXPECT_EQ(transferred.metrics.count("pretrain_loss"), 0u);
  // Without kept weights for the source, it trains from scratch.
  EXPECT_EQ(dynamic_cast<WeightTransferEvaluator&>(*evaluator).evaluate_from(space, neighbour, 2, "l_dft_h128_n2_f512|l_dft_h128_n2_f512").metrics.count("transfer_overlap"), 0u);
  // Image data cannot be pre-trained as text, and a FlexiBERT model cannot read images.
  auto images = make_evaluator(Config::parse("name: train\ndataset: {name: synthetic}\nsteps: 1\npretrain_steps: 2"), EvaluatorContext{});
  const Evaluation wrong = images->evaluate(space, arch, 0);
  EXPECT_FALSE(wrong.ok);
  EXPECT_NE(wrong.error.find("flexibert: expects token sequences"), std::string::npos) << wrong.error;
  EXPECT_ERROR(make_evaluator(Config::parse("name: train\ndataset: {name: synthetic}\noptimizer: lamb"), EvaluatorContext{}),
               "optimizer: expected one of sgd|adamw, got 'lamb'");
}

TEST_F(FlexibertText, BoshnasSearchOnWordNetStoresItsRun) {
  if (!std::filesystem::exists("/usr/share/wordnet/data.noun")) GTEST_SKIP() << "wordnet-base not installed";
  const std::string yaml = R"yaml(
seed: 2
space: {name: flexibert}
strategy: {name: boshnas, library_size: 40, initial: 2, gobi_iterations: 20, max_epochs: 20}
evaluator:
  name: train
  dataset: {name: wordnet, max_length: 16, train_subset: 128, val_subset: 32, test_subset: 32}
  optimizer: adamw
  lr: 0.001
  steps: 2
  batch_size: 32
  keep_weights: 8
  latency: false
budget: {evaluations: 4}
)yaml";
  SearchOptions options;
  options.config = Config::parse(yaml);
  options.db_path = path("run.db");
  options.quiet = true;
  const SearchSummary summary = run_search(options);
  EXPECT_EQ(summary.status, "finished");
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  const auto evaluations = store.evaluations(summary.run);
  ASSERT_EQ(evaluations.size(), 4u);
  for (const auto& e : evaluations) {
    EXPECT_TRUE(e.result.ok) << e.result.error;
    EXPECT_EQ(e.space, "flexibert");
    EXPECT_GT(e.result.metrics.at("params"), 0);
  }
}

}  // namespace
}  // namespace nascent
