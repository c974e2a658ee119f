// einspace and the grammar engine: sampling, parsing, mutation, building, the seed baselines.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "core/config.hpp"
#include "core/network.hpp"
#include "core/registry.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"
#include "search_spaces/einspace/einspace.hpp"
#include "search_spaces/grammar/grammar_space.hpp"
#include "strategies/regularized_evolution.hpp"
#include "test_support.hpp"

namespace nascent {
namespace {

std::unique_ptr<SearchSpace> einspace(const std::string& options_yaml = "{}") {
  return registries().spaces.create("einspace", Config::parse(options_yaml));
}

double parameter_count(torch::nn::Module& module) {
  double n = 0;
  for (const auto& p : module.parameters()) n += static_cast<double>(p.numel());
  return n;
}

torch::Tensor forward_batch(Network& net, const std::vector<std::int64_t>& input, std::int64_t batch = 2) {
  std::vector<std::int64_t> shape{batch};
  shape.insert(shape.end(), input.begin(), input.end());
  torch::manual_seed(0);
  return net.forward(torch::randn(shape));
}

// Conv k x k (with bias) and norm parameter counts, for the closed forms below.
double conv(double k, double in, double out) { return k * k * in * out + out; }
double bn(double c) { return 2 * c; }

TEST(Einspace, GrammarHasEveryTerminalOfThePaper) {
  auto space = einspace();
  const auto& grammar = dynamic_cast<GrammarSpace&>(*space).grammar();
  for (const char* name :
       {"clone_tensor2", "clone_tensor4", "clone_tensor8", "group_dim2s1d", "group_dim8s3d", "dot_product", "scaled_dot_product",
        "add_tensors", "cat_tensors1d2t", "cat_tensors3d8t", "identity", "permute21", "permute132", "permute321", "im2col1k1s0p",
        "im2col16k16s0p", "col2im", "linear16", "linear2048", "norm", "leakyrelu", "softmax", "learnable_positional_encoding"})
    EXPECT_GE(grammar.find_production(name), 0) << name;
  // Paper sizes of each slot: 12 split, 12 merge, 14 pre-routing, 8 post-routing, 13 computation.
  auto count = [&](const char* symbol) { return grammar.symbols[grammar.find_symbol(symbol)].productions.size(); };
  EXPECT_EQ(count("branching_fn"), 12u);
  EXPECT_EQ(count("aggregation_fn"), 12u);
  EXPECT_EQ(count("prerouting_fn"), 14u);
  EXPECT_EQ(count("postrouting_fn"), 8u);
  EXPECT_EQ(count("computation_fn"), 13u);
}

TEST(Einspace, SamplesRoundTripBuildAndRun) {
  auto space = einspace();
  Rng rng(7);
  std::set<std::string> distinct;
  for (int i = 0; i < 60; ++i) {
    const std::string arch = space->sample(rng);
    distinct.insert(arch);
    ASSERT_EQ(space->canonical(arch), arch);
    auto net = space->build(arch, Task{{1, 28, 28}, 10});
    net->eval();
    torch::NoGradGuard no_grad;
    const torch::Tensor logits = forward_batch(*net, {1, 28, 28});
    ASSERT_EQ(logits.sizes(), (std::vector<std::int64_t>{2, 10})) << arch;
    // The parameter formula is what the guard and describe() report; it must match the module.
    EXPECT_EQ(space->describe(arch, Task{{1, 28, 28}, 10}).params, parameter_count(*net)) << arch;
  }
  EXPECT_GT(distinct.size(), 50u);
}

TEST(Einspace, SameSeedSameSamples) {
  auto space = einspace();
  Rng a(3), b(3), c(4);
  std::vector<std::string> first, second, other;
  for (int i = 0; i < 20; ++i) {
    first.push_back(space->sample(a));
    second.push_back(space->sample(b));
    other.push_back(space->sample(c));
  }
  EXPECT_EQ(first, second);
  EXPECT_NE(first, other);
}

TEST(Einspace, SamplesFitOtherInputShapes) {
  // A 3x32x32 image and a 16x8 sequence (column mode from the start).
  for (const auto& [option, shape] : std::vector<std::pair<std::string, std::vector<std::int64_t>>>{{"{input: 3x32x32}", {3, 32, 32}},
                                                                                                   {"{input: [16, 8]}", {16, 8}}}) {
    auto space = einspace(option);
    Rng rng(11);
    for (int i = 0; i < 15; ++i) {
      const std::string arch = space->sample(rng);
      auto net = space->build(arch, Task{shape, 5});
      net->eval();
      torch::NoGradGuard no_grad;
      EXPECT_EQ(forward_batch(*net, shape).sizes(), (std::vector<std::int64_t>{2, 5})) << arch;
    }
  }
}

TEST(Einspace, ConvolutionRouteIsBuiltAsConv2dAndEqualsUnfoldLinearFold) {
  auto space = einspace();
  const std::string arch = "sequential(routing(im2col3k2s1p, computation(linear16), col2im), computation(identity))";
  auto net = space->build(arch, Task{{1, 28, 28}, 10});
  torch::Tensor weight, bias;
  for (const auto& item : net->named_parameters()) {
    if (item.key().find("conv.weight") != std::string::npos) weight = item.value();
    if (item.key().find("conv.bias") != std::string::npos) bias = item.value();
  }
  ASSERT_TRUE(weight.defined()) << "no Conv2d was built";
  EXPECT_EQ(weight.sizes(), (std::vector<std::int64_t>{16, 1, 3, 3}));
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  const torch::Tensor x = torch::randn({2, 1, 28, 28});
  // The grammar's definition: unfold, linear on the columns, fold back to the 14x14 grid.
  const torch::Tensor columns =
      torch::nn::functional::unfold(x, torch::nn::functional::UnfoldFuncOptions(3).stride(2).padding(1)).permute({0, 2, 1});
  const torch::Tensor linear = torch::matmul(columns, weight.reshape({16, -1}).t()) + bias;
  const torch::Tensor expected = linear.permute({0, 2, 1}).reshape({2, 16, 14, 14});
  const torch::Tensor features = net->features(x);
  EXPECT_TRUE(torch::allclose(features, expected, 1e-4, 1e-5));
}

TEST(Einspace, ResNet18HasTheClassicParameterCount) {
  auto space = einspace();
  // Classic CIFAR ResNet-18 (3x3 stem, no max-pool, 10 classes): 11,173,962 parameters. The
  // einspace version differs in three documented ways: a 1-channel input here (stem conv
  // 9*64*1 instead of 9*64*3), a bias on every convolution (linear layers have one) and a strided
  // 3x3 convolution in place of the max-pool.
  const double classic = 11173962;
  const double one_channel = -9 * 64 * 2;
  const double biases = 64 + (4 * 64 + 4 * 128 + 4 * 256 + 4 * 512) + (128 + 256 + 512);
  const double strided_stem = conv(3, 64, 64);
  const double expected = classic + one_channel + biases + strided_stem;
  EXPECT_EQ(expected, 11214538);
  auto net = space->build("@resnet18", Task{{1, 28, 28}, 10});
  EXPECT_EQ(parameter_count(*net), expected);
  EXPECT_EQ(space->describe(space->canonical("@resnet18"), Task{{1, 28, 28}, 10}).params, expected);
  EXPECT_EQ(space->describe(space->canonical("@resnet18"), Task{{1, 28, 28}, 10}).extra.at("convolutions"), 2 + 16 + 3);
}

TEST(Einspace, WideResNet16x4HasItsParameterCount) {
  auto space = einspace();
  // WRN-16-4 (Zagoruyko & Komodakis): a 16-wide 3x3 stem, three groups of two basic blocks at
  // widths 64, 128, 256, a 1x1 projection where the width changes; here with conv biases, the
  // authors' norm placement (after the first conv and after each block: 2 norms per block plus
  // the stem's) and a 1-channel input.
  double expected = conv(3, 1, 16) + bn(16);
  double in = 16;
  for (double width : {64.0, 128.0, 256.0}) {
    expected += conv(3, in, width) + bn(width) + conv(3, width, width) + conv(1, in, width) + bn(width);  // first block
    expected += conv(3, width, width) + bn(width) + conv(3, width, width) + bn(width);                      // second block
    in = width;
  }
  expected += 256 * 10 + 10;
  auto net = space->build("@wrn16_4", Task{{1, 28, 28}, 10});
  EXPECT_EQ(parameter_count(*net), expected);
}

TEST(Einspace, VitAndMixerHaveTheirParameterCounts) {
  auto space = einspace();
  // 4x4 patches of a 1x28x28 image: 49 tokens of 16 values, embedded to 512.
  const double embedding = 16 * 512 + 512 + 49 * 512;
  const double linear_512 = 512 * 512 + 512;
  const double head_of_tokens = 49 * 10 + 10;  // the column-mode head averages features, classifies tokens
  const double attention = 4 * 3 * (512 * 64 + 64) + (256 * 512 + 512);  // 4 heads of Q, K, V; output projection
  const double vit_layer = attention + bn(512) + 2 * linear_512 + bn(512);
  EXPECT_EQ(parameter_count(*space->build("@vit", Task{{1, 28, 28}, 10})), embedding + 4 * vit_layer + head_of_tokens);
  const double token_mixing = (49 * 196 + 196) + (196 * 49 + 49);
  const double mixer_layer = bn(512) + token_mixing + (512 * 256 + 256) + (256 * 512 + 512);
  EXPECT_EQ(parameter_count(*space->build("@mlp_mixer", Task{{1, 28, 28}, 10})), embedding + 8 * mixer_layer + head_of_tokens);
}

TEST(Einspace, EverySeedTrainsOneStep) {
  auto space = einspace();
  for (const auto& [name, unused] : einspace_seed_architectures()) {
    auto net = space->build("@" + name, Task{{1, 28, 28}, 10});
    net->train();
    torch::optim::SGD optimiser(net->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
    torch::manual_seed(2);
    const torch::Tensor x = torch::randn({4, 1, 28, 28});
    const torch::Tensor y = torch::tensor({0, 1, 2, 3});
    std::vector<torch::Tensor> before;
    for (const auto& p : net->parameters()) before.push_back(p.detach().clone());
    // Three steps: the column-mode head averages over features, which a final LayerNorm makes
    // constant at initialisation (the authors' wrapper), so the ViT's and the Mixer's gradient
    // reaches the body only once that norm's scale has moved.
    for (int step = 0; step < 3; ++step) {
      optimiser.zero_grad();
      const torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(x), y);
      ASSERT_TRUE(std::isfinite(loss.item<double>())) << name;
      loss.backward();
      optimiser.step();
    }
    // Every parameter is reached by the gradient. Some legitimately stay put: biases followed by a
    // norm or a softmax that cancels them get exactly zero, and the ViT's inner LayerNorm scales
    // (1.0) get gradients too small to move a float yet (37 of the 141); two thirds must move.
    std::size_t changed = 0;
    const auto after = net->named_parameters();
    for (std::size_t i = 0; i < after.size(); ++i) {
      ASSERT_TRUE(after[i].value().grad().defined()) << name << " parameter " << i;
      changed += !torch::equal(before[i], after[i].value());
    }
    EXPECT_GE(changed, after.size() * 2 / 3) << name;
  }
}

TEST(Einspace, SharedBranchCopiesHaveTheirOwnWeights) {
  auto space = einspace();
  const std::string arch = "branching(clone_tensor4, computation(linear16), cat_tensors1d4t)";
  auto net = space->build(arch, Task{{1, 28, 28}, 10});
  std::vector<torch::Tensor> weights;
  for (const auto& item : net->named_parameters())
    if (item.key().find("linear.weight") != std::string::npos) weights.push_back(item.value());
  ASSERT_EQ(weights.size(), 4u);
  EXPECT_FALSE(torch::equal(weights[0], weights[1]));
  // 4 copies concatenated along channels: 4x28x16 reaches the head as 4 channels.
  EXPECT_EQ(space->describe(arch, Task{{1, 28, 28}, 10}).params, 4 * (28 * 16 + 16) + 4 * 10 + 10);
}

TEST(Einspace, MutationChangesOneSubtreeAndStaysValid) {
  auto space = einspace();
  Rng rng(5);
  std::string arch = space->canonical("@resnet18");
  for (int i = 0; i < 30; ++i) {
    const std::string child = space->mutate(arch, rng);
    ASSERT_NE(child, arch);
    ASSERT_EQ(space->canonical(child), child);
    arch = child;
  }
  auto net = space->build(arch, Task{{1, 28, 28}, 10});
  net->eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(forward_batch(*net, {1, 28, 28}).size(1), 10);
  Rng a(9), b(9);
  const std::string parent = space->canonical("@vit");
  EXPECT_EQ(space->mutate(parent, a), space->mutate(parent, b));
}

TEST(Einspace, BadDerivationsAreOneLineErrorsSayingWhere) {
  auto space = einspace();
  EXPECT_ERROR(space->canonical("sequential(computation(linear64)"), "expected ',' or ')'");
  EXPECT_ERROR(space->canonical("sequential(computation(conv3x3), computation(norm))"), "'conv3x3' is not a production");
  EXPECT_ERROR(space->canonical("computation(norm)"), "'computation' cannot stand where a network is expected");
  EXPECT_ERROR(space->canonical("routing(identity, computation(norm), col2im)"), "'col2im' cannot take a 1x28x28 input");
  EXPECT_ERROR(space->canonical("routing(im2col3k1s1p, computation(norm))"), "'routing' takes 3 arguments, got 2");
  EXPECT_ERROR(space->canonical("branching(clone_tensor4, computation(norm), computation(norm), add_tensors)"),
               "one inner module (shared by the 4 branches)");
  EXPECT_ERROR(space->canonical("branching(clone_tensor2, computation(linear16), computation(norm), add_tensors)"),
               "the branches' shapes differ");
  EXPECT_ERROR(space->canonical("@resnet50"), "no seed architecture named 'resnet50'");
  EXPECT_ERROR(space->canonical("sequential(computation(norm), computation(linear64)) trailing"), "after the derivation");
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "sequential(";
  EXPECT_ERROR(space->canonical(deep), "nested deeper than");
  try {
    space->canonical("routing(identity, computation(norm), col2im)");
  } catch (const ParseError& e) {
    EXPECT_EQ(e.position(), 37u);
  }
}

TEST(Einspace, GuardsBoundParametersAndDepth) {
  auto small = einspace("{max_params: 20000}");
  Rng rng(1);
  for (int i = 0; i < 20; ++i) EXPECT_LE(small->describe(small->sample(rng), Task{{1, 28, 28}, 10}).params, 20000);
  EXPECT_ERROR(small->canonical("@resnet18"), "above the limit of 20000");
  auto shallow = einspace("{max_depth: 4}");
  for (int i = 0; i < 30; ++i) {
    const auto d = shallow->describe(shallow->sample(rng), Task{{1, 28, 28}, 10});
    // At the limit a module must be a computation, whose terminal sits one level deeper.
    EXPECT_LE(d.extra.at("depth"), 5);
  }
  EXPECT_ERROR(einspace("{input: 1xfoo}"), "config: input");
  EXPECT_ERROR(einspace("{max_params: -1}"), "max_params");
  EXPECT_ERROR(einspace("{inputs: 1x28x28}"), "inputs");
}

TEST(Einspace, ArchitecturesAreCheckedForTheShapeTheyRunOn) {
  auto space = einspace();
  // A 16-wide linear on the rows of a 28-wide image is fine; on a 4x4 image so is it, but the
  // 8x8 patch im2col is not.
  const std::string arch = "routing(im2col8k8s0p, computation(linear16), identity)";
  EXPECT_NO_THROW(space->build(arch, Task{{1, 28, 28}, 10}));
  EXPECT_ERROR(space->build(arch, Task{{1, 4, 4}, 10}), "smaller than the kernel");
}

class GrammarFile : public ScratchDirTest {};

TEST_F(GrammarFile, AUserGrammarIsASearchSpaceWithoutCompiling) {
  // A tiny MLP space over sequences: stacks of linear layers and activations, with residuals.
  const std::string file = write("mlp.yaml", R"(
name: tiny-mlp
start: net
max_depth: 12
symbols:
  net: {productions: [stack]}
  layer: {productions: [stack, residual, single], probability: {single: 0.5}, at_max_depth: single}
  op: {productions: [wide, narrow, act]}
  fork: {productions: [two]}
  join: {productions: [sum]}
rules:
  stack: {sequence: [layer, layer]}
  residual: {branch: [fork, layer, join]}
  single: {sequence: [op]}
terminals:
  wide: {op: linear, width: 64}
  narrow: {op: linear, width: 8}
  act: {op: leaky_relu, slope: 0.1}
  two: {op: clone, copies: 2}
  sum: {op: add}
)");
  Config options = Config::parse("{file: " + file + ", input: [5, 8]}");
  auto space = registries().spaces.create("grammar", options);
  EXPECT_EQ(space->name(), "tiny-mlp");
  Rng rng(2);
  for (int i = 0; i < 20; ++i) {
    const std::string arch = space->sample(rng);
    EXPECT_EQ(space->canonical(arch), arch);
    auto net = space->build(arch, Task{{5, 8}, 3});
    torch::NoGradGuard no_grad;
    EXPECT_EQ(forward_batch(*net, {5, 8}).sizes(), (std::vector<std::int64_t>{2, 3}));
    EXPECT_NE(space->mutate(arch, rng), arch);
  }
  // Residual branches only join equal shapes, so `sum` after a width change is never sampled.
  EXPECT_ERROR(space->canonical("stack(residual(two, single(wide), single(act), sum), single(act))"), "the branches' shapes differ");
}

TEST_F(GrammarFile, ProductionProbabilitiesAreHonoured) {
  const std::string file = write("p.yaml", R"(
name: p
start: net
symbols:
  net: {productions: [one]}
  pick: {productions: [a, b, c], probability: {a: 0.5}}
rules:
  one: {sequence: [pick]}
terminals:
  a: {op: identity}
  b: {op: softmax}
  c: {op: norm}
)");
  auto space = registries().spaces.create("grammar", Config::parse("{file: " + file + "}"));
  Rng rng(0);
  std::map<std::string, int> counts;
  for (int i = 0; i < 4000; ++i) ++counts[space->sample(rng)];
  EXPECT_NEAR(counts["one(a)"] / 4000.0, 0.5, 0.03);
  EXPECT_NEAR(counts["one(b)"] / 4000.0, 0.25, 0.03);
  EXPECT_NEAR(counts["one(c)"] / 4000.0, 0.25, 0.03);
}

TEST_F(GrammarFile, BadGrammarFilesAreOneLineErrors) {
  auto load = [&](const std::string& text) { registries().spaces.create("grammar", Config::parse("{file: " + write("g.yaml", text) + "}")); };
  const std::string head = "name: g\nstart: net\n";
  EXPECT_ERROR(load(head + "symbols: {net: {productions: [x]}}\nterminals: {x: {op: conv}}\n"), "unknown op 'conv'");
  EXPECT_ERROR(load(head + "symbols: {net: {productions: [y]}}\nterminals: {x: {op: identity}}\n"), "'y' is neither a rule nor a terminal");
  EXPECT_ERROR(load(head + "symbols: {net: {productions: [x]}}\nterminals: {x: {op: linear}}\n"), "needs 'width' or 'scale'");
  EXPECT_ERROR(load(head + "symbols: {net: {productions: [x], probability: {x: 2}}}\nterminals: {x: {op: identity}}\n"),
               "must be in (0, 1]");
  EXPECT_ERROR(load(head + "symbols: {net: {productions: [r]}}\nrules: {r: {sequence: [nope]}}\nterminals: {x: {op: identity}}\n"),
               "'nope' is not a symbol");
  EXPECT_ERROR(load(head + "symbols: {net: {productions: [x]}}\nterminals: {x: {op: clone, copies: 2}}\n"),
               "'x' splits or merges but the symbol is not a branch rule's split or merge");
  EXPECT_ERROR(load(head + "symbols: {net: {productions: [b]}, s: {productions: [x]}, m: {productions: [y]}}\n"
                           "rules: {b: {branch: [s, net, m]}}\nterminals: {x: {op: identity}, y: {op: add}}\n"),
               "'x' is not a clone or group terminal");
  // Every production of net leads back to net: sampling would recurse until the stack ran out.
  EXPECT_ERROR(load(head + "symbols: {net: {productions: [r]}}\nrules: {r: {sequence: [net, net]}}\nterminals: {}\n"),
               "symbols.net: no derivation of it ever ends");
  EXPECT_ERROR(load("name: g\nsymbols: {}\n"), "missing 'start'");
  EXPECT_ERROR(load("name: [unclosed\n"), "invalid YAML");
  EXPECT_ERROR(registries().spaces.create("grammar", Config::parse("{file: /nonexistent/g.yaml}")), "cannot open");
}

TEST(EinspaceEvolution, SeededStartCopiesTheTrainedSeedsCyclically) {
  auto space = einspace();
  RegularizedEvolution::Options options;
  options.population = 10;
  options.sample = 3;
  options.seeds = {"@resnet18", "@vit"};
  options.fill_with_seeds = true;
  options.sample_with_replacement = true;
  RegularizedEvolution evolution(*space, options);
  Rng rng(0);
  const auto first = evolution.ask(4, rng);
  ASSERT_EQ(first.size(), 2u) << "only the seeds are evaluated at first";
  EXPECT_EQ(first[0], space->canonical("@resnet18"));
  evolution.tell(first[0], 0.8);
  evolution.tell(first[1], 0.6);
  EXPECT_EQ(evolution.population_size(), 10u);
  // Every child now mutates a copy of a seed.
  const auto children = evolution.ask(4, rng);
  ASSERT_EQ(children.size(), 4u);
  for (const auto& child : children) {
    EXPECT_NE(child, first[0]);
    EXPECT_NE(child, first[1]);
  }
}

TEST_F(GrammarFile, SeededEvolutionRunsEndToEndAndStoresEveryCandidate) {
  // The grammar file sits next to the config and is named relative to it.
  std::filesystem::create_directories(dir_ / "configs");
  std::ofstream(dir_ / "configs" / "einspace-copy.yaml")
      << "# a user's grammar: einspace with fewer widths\n"
      << "name: mini\nstart: network\nmax_depth: 20\n"
      << "symbols:\n"
      << "  network: {productions: [sequential, routing]}\n"
      << "  module: {productions: [sequential, routing, computation], probability: {computation: 0.5}, at_max_depth: computation}\n"
      << "  pre: {productions: [identity, im2col3k1s1p]}\n"
      << "  post: {productions: [identity, col2im]}\n"
      << "  op: {productions: [linear8, norm, leakyrelu]}\n"
      << "rules:\n"
      << "  sequential: {sequence: [module, module]}\n"
      << "  routing: {route: [pre, module, post]}\n"
      << "  computation: {sequence: [op]}\n"
      << "terminals:\n"
      << "  identity: {op: identity}\n  im2col3k1s1p: {op: im2col, kernel: 3, stride: 1, padding: 1}\n"
      << "  col2im: {op: col2im}\n  linear8: {op: linear, width: 8}\n  norm: {op: norm}\n"
      << "  leakyrelu: {op: leaky_relu}\n";
  const std::string yaml = R"yaml(
seed: 1
space: {name: grammar, file: einspace-copy.yaml, input: 1x8x8}
strategy:
  name: evolution
  population: 4
  sample: 2
  seeds: ["sequential(routing(im2col3k1s1p, computation(linear8), col2im), computation(leakyrelu))"]
  fill_with_seeds: true
  sample_with_replacement: true
evaluator:
  name: train
  dataset: {name: synthetic, shape: [1, 8, 8], classes: 4, train: 128, val: 64, test: 64}
  steps: 4
  batch_size: 32
budget: {evaluations: 6}
)yaml";
  SearchOptions options;
  options.config = Config::parse(yaml);
  options.config_dir = (dir_ / "configs").string();
  options.db_path = path("run.db");
  options.quiet = true;
  const SearchSummary summary = run_search(options);
  EXPECT_EQ(summary.status, "finished");
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  const auto evaluations = store.evaluations(summary.run);
  ASSERT_EQ(evaluations.size(), 6u);
  EXPECT_EQ(evaluations[0].arch, "sequential(routing(im2col3k1s1p, computation(linear8), col2im), computation(leakyrelu))");
  for (const auto& e : evaluations) {
    EXPECT_TRUE(e.result.ok) << e.result.error;
    EXPECT_EQ(e.space, "grammar");  // the registry name, which recreates the space from the stored config
    EXPECT_GT(e.result.metrics.at("params"), 0);
  }
  // Bad space options, seeds and grammar files are one-line errors before a run is recorded.
  const auto bad = [&](const std::string& assignment) {
    SearchOptions broken = options;
    broken.config = Config::parse(yaml);  // copies of a Config share its YAML
    broken.config.set(assignment);
    return error_of([&] { run_search(broken); });
  };
  for (const auto& [assignment, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"space.file=missing.yaml", "cannot open the file"},
           {"space.input=1x8", "'im2col3k1s1p' cannot take a 1x8 input"},
           {"space.max_params=-5", "max_params: must be positive"},
           {"strategy.seeds=[\"@resnet18\"]", "no seed architecture named 'resnet18'"},
           {"strategy.seeds=[]", "fill_with_seeds needs strategy.seeds"}}) {
    const std::string message = bad(assignment);
    EXPECT_NE(message.find(fragment), std::string::npos) << assignment << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  ResultStore after(path("run.db"), ResultStore::Mode::ReadOnly);
  ASSERT_EQ(after.runs().size(), 1u);
  EXPECT_EQ(after.evaluations(after.runs()[0].id).size(), 6u);
}

TEST(EinspaceCli, SampleAndDescribe) {
  const CliOutput sampled = run_cli("sample einspace -n 5 --seed 3");
  ASSERT_EQ(sampled.status, 0) << sampled.out;
  std::vector<std::string> lines;
  std::stringstream stream(sampled.out);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 5u) << sampled.out;
  auto space = einspace();
  for (const auto& line : lines) EXPECT_EQ(space->canonical(line), line);
  const CliOutput described = run_cli("describe einspace @resnet18");
  ASSERT_EQ(described.status, 0) << described.out;
  EXPECT_NE(described.out.find("params       11214538"), std::string::npos) << described.out;
  EXPECT_NE(described.out.find("routing = conv"), std::string::npos) << described.out;
  EXPECT_NE(described.out.find("1x28x28 -> 512x2x2"), std::string::npos) << described.out;
  // --input re-targets a grammar space: 4x4 patches of a 3x32x32 image are 64 tokens of 48.
  const CliOutput other_shape = run_cli("describe einspace 'routing(im2col4k4s0p, computation(linear16), identity)' --input 3x32x32");
  ASSERT_EQ(other_shape.status, 0) << other_shape.out;
  EXPECT_NE(other_shape.out.find("params       1434 "), std::string::npos) << other_shape.out;  // 48*16+16 + 64*10+10
  const CliOutput bad = run_cli("describe einspace 'sequential(computation(norm)'");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("expected ',' or ')'"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace nascent
