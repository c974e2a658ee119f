// DARTS space, cell supernets, DARTS/RARTS updates and differentiable runs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/test_support.hpp"

#include "core/registry.hpp"
#include "results/query.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"
#include "search_spaces/darts/darts.hpp"
#include "search_spaces/darts/darts_ops.hpp"
#include "search_spaces/nb201/nb201.hpp"
#include "strategies/differentiable.hpp"
#include "supernets/cell_supernet.hpp"

namespace nascent {
namespace {

// The genotype DARTS (second order) found on CIFAR-10, as quark0/darts genotypes.py lists it.
const char* kDartsV2 =
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

std::int64_t parameter_count(torch::nn::Module& module) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

TEST(DartsSpace, ReadsTheReferenceGenotypeAndPrintsACanonicalForm) {
  const DartsSpace space;
  const std::string canonical = space.canonical(kDartsV2);
  EXPECT_EQ(space.canonical(canonical), canonical);
  // Each node's pair is ordered by (input, operation): node 2 of the normal cell lists input 0 first.
  EXPECT_NE(canonical.find("('skip_connect', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('dil_conv_3x3', 2)]"),
            std::string::npos)
      << canonical;
  // range() and double quotes read too, and give the same architecture.
  std::string variant = kDartsV2;
  variant.replace(variant.find("normal_concat=[2, 3, 4, 5]"), 26, "normal_concat=range(2, 6)");
  variant.replace(variant.find("'sep_conv_3x3'"), 14, "\"sep_conv_3x3\"");
  EXPECT_EQ(space.canonical(variant), canonical);
  EXPECT_EQ(space.fingerprint(kDartsV2), space.fingerprint(canonical));
  Rng rng(1);
  EXPECT_NE(space.fingerprint(kDartsV2), space.fingerprint(space.mutate(canonical, rng)));
}

TEST(DartsSpace, CountsTheReferenceEvaluationNetworksParameters) {
  // quark0/darts trains DARTS_V2 at 36 channels and 20 layers on CIFAR-10 and logs
  // "param size = 3.349342MB" (parameters without the auxiliary head, in millions).
  const DartsSpace space(36, 20);
  const Task cifar{{3, 32, 32}, 10};
  EXPECT_EQ(space.describe(kDartsV2, cifar).params, 3349342);
  EXPECT_EQ(parameter_count(*space.build(kDartsV2, cifar)), 3349342);
}

TEST(DartsSpace, RejectsBadGenotypesWithOneLine) {
  const DartsSpace space;
  std::string text = kDartsV2;
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  EXPECT_ERROR(space.canonical(with("'dil_conv_3x3', 2", "'conv_7x7', 2")), "unknown operation 'conv_7x7'");
  EXPECT_ERROR(space.canonical(with("'dil_conv_3x3', 2", "'dil_conv_3x3', 5")), "can only take inputs 0 to 4");
  EXPECT_ERROR(space.canonical(with("'dil_conv_3x3', 2", "'none', 2")), "'none' cannot be kept");
  EXPECT_ERROR(space.canonical(with(", ('skip_connect', 0), ('dil_conv_3x3', 2)]", "]")), "4 nodes need 8");
  EXPECT_ERROR(space.canonical(with(", reduce_concat=[2, 3, 4, 5]", "")), "missing field reduce_concat");
  EXPECT_ERROR(space.canonical(with("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 6]")), "states 0 to 5");
  EXPECT_ERROR(space.canonical(text + " x"), "trailing text");
  EXPECT_ERROR(space.canonical("|nor_conv_3x3~0|"), "expected Genotype(");
}

TEST(DartsSpace, SamplesMutatesAndDescribesWhatItBuilds) {
  const DartsSpace space(8, 5);
  Rng rng(4);
  for (int i = 0; i < 6; ++i) {
    const std::string arch = space.sample(rng);
    EXPECT_EQ(space.canonical(arch), arch);
    const std::string child = space.mutate(arch, rng);
    EXPECT_NE(child, arch);
    EXPECT_EQ(space.canonical(child), child);
    EXPECT_EQ(space.encode(arch).size(), 2u * 14 * 7 + 2 * 6);
    for (const Task& task : {Task{{1, 28, 28}, 10}, Task{{3, 32, 32}, 100}}) {
      auto net = space.build(arch, task);
      EXPECT_EQ(space.describe(arch, task).params, parameter_count(*net)) << arch;
      const torch::Tensor logits = net->forward(torch::randn({2, task.input_shape[0], task.input_shape[1], task.input_shape[2]}));
      EXPECT_EQ(logits.sizes(), (std::vector<std::int64_t>{2, task.num_classes}));
    }
  }
  EXPECT_GT(space.describe(kDartsV2, Task{{1, 28, 28}, 10}).flops, space.describe(space.sample(rng), Task{{1, 8, 8}, 10}).flops);
}

TEST(CellSupernet, KeepsAlphasOutsideTheParametersAndDerivesGenotypes) {
  const Task task{{1, 12, 12}, 4};
  auto nb201 = make_cell_supernet("nb201", Config::parse("{channels: 4, cells_per_stage: 1}"), task);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(0);
  auto alphas = nb201->initial_alphas(generator);
  ASSERT_EQ(alphas.size(), 1u);
  EXPECT_EQ(alphas[0].sizes(), (std::vector<std::int64_t>{6, 5}));
  EXPECT_LT(alphas[0].abs().max().item<double>(), 0.01);
  for (const auto& p : nb201->parameters()) EXPECT_NE(p.sizes(), alphas[0].sizes());
  // Argmax per edge, `none` included.
  torch::Tensor chosen = torch::zeros({6, 5});
  const int ops[6] = {3, 0, 1, 2, 4, 3};
  for (int e = 0; e < 6; ++e) chosen[e][ops[e]] = 1.0;
  nb201->set_alphas({chosen});
  EXPECT_EQ(nb201->genotype({chosen}), "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|");
  EXPECT_EQ(nb201->forward(torch::randn({3, 1, 12, 12})).sizes(), (std::vector<std::int64_t>{3, 4}));
  EXPECT_NEAR(skip_share(*nb201, {chosen}).genotype_share, 1.0 / 6, 1e-12);

  // DARTS: per node the two inputs whose best non-none operation weighs most.
  auto darts = make_cell_supernet("darts", Config::parse("{channels: 4, layers: 3}"), task);
  torch::Tensor normal = torch::zeros({14, 8}), reduce = torch::zeros({14, 8});
  normal.select(1, 0).fill_(5.0);  // `none` strongest everywhere: ignored
  // Node 2 (edges 0, 1): input 1 sep_conv_5x5 (2.0) beats input 0 max_pool (1.0).
  normal[0][1] = 1.0;
  normal[1][5] = 2.0;
  // Node 3 (edges 2..4): inputs 2 (dil_conv_5x5) and 0 (skip_connect) beat input 1.
  normal[2][3] = 1.5;
  normal[3][4] = 0.5;
  normal[4][7] = 3.0;
  const std::string genotype = darts->genotype({normal, reduce});
  const DartsSpace space;
  const DartsGenotype g = space.parse(genotype);
  EXPECT_EQ(g.normal[0].op, darts_op_index("max_pool_3x3"));
  EXPECT_EQ(g.normal[1].op, darts_op_index("sep_conv_5x5"));
  EXPECT_EQ(g.normal[1].input, 1);
  EXPECT_EQ(g.normal[2].input, 0);
  EXPECT_EQ(g.normal[2].op, darts_op_index("skip_connect"));
  EXPECT_EQ(g.normal[3].input, 2);
  EXPECT_EQ(g.normal[3].op, darts_op_index("dil_conv_5x5"));
  EXPECT_EQ(g.normal_concat, (std::vector<int>{2, 3, 4, 5}));
  darts->set_alphas({normal, reduce});
  EXPECT_EQ(darts->forward(torch::randn({2, 1, 12, 12})).sizes(), (std::vector<std::int64_t>{2, 4}));
  EXPECT_ERROR(make_cell_supernet("einspace", Config(), task), "nb201 or darts");
  EXPECT_ERROR(make_cell_supernet("nb201", Config::parse("{channel: 4}"), task), "unknown key 'channel'");
}

// d/d alpha of L_val(w - xi (momentum buffer + grad_w L_train(w, alpha) + wd w), alpha), by central
// differences in float64 along random directions, against second-order DARTS's gradient with its
// finite-difference Hessian-vector product.
void check_unrolled_gradient(const std::string& space, const std::string& supernet_options) {
  const Task task{{1, 8, 8}, 4};
  auto net = make_cell_supernet(space, Config::parse(supernet_options), task);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(7);
  net->reset_parameters(generator);
  net->to(torch::kFloat64);
  net->train();
  std::vector<torch::Tensor> alphas;
  for (auto& a : net->initial_alphas(generator)) alphas.push_back((a * 300).to(torch::kFloat64).set_requires_grad(true));
  net->set_alphas(alphas);
  const Batch train{torch::randn({8, 1, 8, 8}, generator).to(torch::kFloat64), torch::randint(4, {8}, generator, torch::kInt64)};
  const Batch val{torch::randn({8, 1, 8, 8}, generator).to(torch::kFloat64), torch::randint(4, {8}, generator, torch::kInt64)};
  std::vector<torch::Tensor> params = net->parameters();
  std::vector<torch::Tensor> buffers;
  for (const auto& p : params) buffers.push_back(0.1 * torch::randn(p.sizes(), generator).to(torch::kFloat64));
  const double xi = 0.1, momentum = 0.9, weight_decay = 3e-4;

  const std::vector<torch::Tensor> analytic =
      unrolled_arch_gradient(*net, alphas, train, val, xi, momentum, weight_decay, buffers, /*radius=*/1e-7);

  std::vector<torch::Tensor> saved;
  for (const auto& p : params) saved.push_back(p.detach().clone());
  const auto unroll = [&] {
    torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(train.x), train.y);
    const auto grads = torch::autograd::grad({loss}, params, {}, false, false, true);
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < params.size(); ++i) {
      torch::Tensor g = grads[i].defined() ? grads[i] : torch::zeros_like(params[i]);
      params[i].sub_(xi * (momentum * buffers[i] + g + weight_decay * params[i]));
    }
  };
  const auto restore = [&] {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(saved[i]);
  };
  const auto unrolled_val_loss = [&] {
    unroll();
    const double value = torch::nn::functional::cross_entropy(net->forward(val.x), val.y).item<double>();
    restore();
    return value;
  };
  // grad_alpha L_val(w', alpha) alone, to show that the Hessian term matters here.
  unroll();
  const std::vector<torch::Tensor> first_order =
      torch::autograd::grad({torch::nn::functional::cross_entropy(net->forward(val.x), val.y)}, alphas);
  restore();

  const double h = 1e-7;
  double diff_sq = 0, norm_sq = 0, first_order_sq = 0;
  for (int direction = 0; direction < 8; ++direction) {
    std::vector<torch::Tensor> u;
    double got = 0, first = 0;
    for (std::size_t a = 0; a < alphas.size(); ++a) {
      u.push_back(torch::randn(alphas[a].sizes(), generator).to(torch::kFloat64));
      got += (analytic[a] * u[a]).sum().item<double>();
      first += (first_order[a] * u[a]).sum().item<double>();
    }
    const auto shift = [&](double step) {
      torch::NoGradGuard no_grad;
      for (std::size_t a = 0; a < alphas.size(); ++a) alphas[a].add_(step * u[a]);
    };
    shift(h);
    const double up = unrolled_val_loss();
    shift(-2 * h);
    const double down = unrolled_val_loss();
    shift(h);
    const double numeric = (up - down) / (2 * h);
    diff_sq += (got - numeric) * (got - numeric);
    norm_sq += numeric * numeric;
    first_order_sq += (first - numeric) * (first - numeric);
  }
  ASSERT_GT(norm_sq, 0);
  const double relative_error = std::sqrt(diff_sq / norm_sq);
  EXPECT_LT(relative_error, 1e-3) << space;
  // The check can fail: leaving out the second-order term is far off.
  EXPECT_GT(std::sqrt(first_order_sq / norm_sq), 1e-2) << space;
  std::printf("%s: relative error of the second-order alpha gradient %.2e (first-order term alone %.2e)\n", space.c_str(),
              relative_error, std::sqrt(first_order_sq / norm_sq));
  // The weights are restored.
  for (std::size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(torch::equal(params[i], saved[i]));
}

TEST(Darts, SecondOrderGradientMatchesNumericalDerivativeNb201) { check_unrolled_gradient("nb201", "{channels: 4, cells_per_stage: 1}"); }
TEST(Darts, SecondOrderGradientMatchesNumericalDerivativeDartsCells) { check_unrolled_gradient("darts", "{channels: 4, layers: 3}"); }

ImageSet synthetic_images(std::int64_t n, std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::Tensor labels = torch::randint(4, {n}, generator, torch::kInt64);
  torch::Tensor patterns = torch::randn({4, 1, 8, 8}, generator);
  return {patterns.index_select(0, labels) + 0.5 * torch::randn({n, 1, 8, 8}, generator), labels};
}

std::vector<torch::Tensor> search_alphas(const std::string& method, int order, std::uint64_t seed, double* first_loss = nullptr) {
  const Task task{{1, 8, 8}, 4};
  const Config supernet = Config::parse("{channels: 4, cells_per_stage: 1}");
  DifferentiableOptions options;
  options.method = method;
  options.order = order;
  options.epochs = 2;
  options.batch_size = 16;
  options.steps_per_epoch = 3;
  options.arch_lr = 0.05;
  auto w = make_cell_supernet("nb201", supernet, task);
  auto y = method == "rarts" ? make_cell_supernet("nb201", supernet, task) : nullptr;
  DifferentiableSearch search(w, y, synthetic_images(96, 1), options, seed);
  const EpochRecord first = search.run_epoch();
  const EpochRecord second = search.run_epoch();
  EXPECT_EQ(second.epoch, 2);
  EXPECT_TRUE(std::isfinite(first.train_loss) && std::isfinite(second.val_loss));
  EXPECT_LT(second.lr, first.lr);
  EXPECT_EQ(Nb201Space().canonical(second.genotype), second.genotype);
  for (const auto& softmax : second.alpha_softmax) EXPECT_TRUE(torch::allclose(softmax.sum(1), torch::ones({6}, torch::kFloat64)));
  if (first_loss) *first_loss = first.train_loss;
  std::vector<torch::Tensor> result;
  for (const auto& a : search.alphas()) result.push_back(a.detach().clone());
  return result;
}

TEST(Darts, EveryMethodIsDeterministicForASeedAndMovesAlpha) {
  for (const auto& [method, order] : {std::pair{std::string("darts"), 1}, std::pair{std::string("darts"), 2}, std::pair{std::string("rarts"), 1}}) {
    const auto a = search_alphas(method, order, 5);
    const auto b = search_alphas(method, order, 5);
    const auto c = search_alphas(method, order, 6);
    EXPECT_TRUE(torch::equal(a[0], b[0])) << method << order;
    EXPECT_FALSE(torch::equal(a[0], c[0])) << method << order;
    // Adam moves each alpha by about arch_lr per step: 6 steps leave the 1e-3 initialisation behind.
    EXPECT_GT(a[0].abs().max().item<double>(), 0.1) << method << order;
  }
  // The orders and methods differ in what they compute.
  EXPECT_FALSE(torch::allclose(search_alphas("darts", 1, 5)[0], search_alphas("darts", 2, 5)[0]));
  EXPECT_FALSE(torch::allclose(search_alphas("darts", 1, 5)[0], search_alphas("rarts", 1, 5)[0]));
}

// Ctrl-C or the time budget inside an epoch: the state saved after the stopping step continues
// with the next step, and the finished search equals one that never stopped.
TEST(Darts, AStopInsideAnEpochResumesAtTheNextStepToTheSameResult) {
  struct Stop {};
  const Task task{{1, 8, 8}, 4};
  const Config supernet = Config::parse("{channels: 4, cells_per_stage: 1}");
  for (const std::string method : {"darts", "rarts"}) {
    DifferentiableOptions options;
    options.method = method;
    options.order = method == "darts" ? 2 : 1;
    options.epochs = 2;
    options.batch_size = 16;
    options.steps_per_epoch = 5;
    options.arch_lr = 0.05;
    const auto make = [&] {
      auto w = make_cell_supernet("nb201", supernet, task);
      auto y = method == "rarts" ? make_cell_supernet("nb201", supernet, task) : nullptr;
      return std::make_unique<DifferentiableSearch>(w, y, synthetic_images(96, 1), options, 7);
    };
    auto reference = make();
    const EpochRecord ref1 = reference->run_epoch(), ref2 = reference->run_epoch();
    for (const std::int64_t stop_after : {3, 5}) {  // inside the first epoch, and at its last step
      SCOPED_TRACE(method + " stopped after step " + std::to_string(stop_after));
      auto stopped = make();
      EXPECT_THROW(stopped->run_epoch([&](std::int64_t step, std::int64_t, double) {
        if (step == stop_after) throw Stop{};
      }),
                   Stop);
      EXPECT_EQ(stopped->epochs_done(), 0);
      const std::string state = stopped->save_state();
      auto resumed = make();
      resumed->load_state(state);
      std::vector<std::int64_t> steps;
      const EpochRecord first = resumed->run_epoch([&](std::int64_t step, std::int64_t, double) { steps.push_back(step); });
      std::vector<std::int64_t> rest;
      for (std::int64_t k = stop_after + 1; k <= 5; ++k) rest.push_back(k);
      EXPECT_EQ(steps, rest) << "only the steps not yet done are run";
      const EpochRecord second = resumed->run_epoch();
      for (const auto& [a, b] : {std::pair{&first, &ref1}, std::pair{&second, &ref2}}) {
        EXPECT_EQ(a->epoch, b->epoch);
        EXPECT_EQ(a->train_loss, b->train_loss);
        EXPECT_EQ(a->train_acc, b->train_acc);
        EXPECT_EQ(a->val_acc, b->val_acc);
        EXPECT_EQ(a->lr, b->lr);
        EXPECT_EQ(a->genotype, b->genotype);
      }
      for (std::size_t i = 0; i < resumed->alphas().size(); ++i) EXPECT_TRUE(torch::equal(resumed->alphas()[i], reference->alphas()[i]));
      const auto p = resumed->network().parameters(), q = reference->network().parameters();
      for (std::size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(torch::equal(p[i], q[i])) << i;
    }
  }
}

TEST(Darts, RartsStartsYAtWAndCouplesThem) {
  const Task task{{1, 8, 8}, 4};
  const Config supernet = Config::parse("{channels: 4, cells_per_stage: 1}");
  const auto distance = [&](double beta) {
    DifferentiableOptions options;
    options.method = "rarts";
    options.epochs = 1;
    options.batch_size = 16;
    options.steps_per_epoch = 4;
    options.beta = beta;
    auto w = make_cell_supernet("nb201", supernet, task);
    auto y = make_cell_supernet("nb201", supernet, task);
    DifferentiableSearch search(w, y, synthetic_images(96, 2), options, 3);
    double start = 0;
    auto wp = w->parameters(), yp = y->parameters();
    for (std::size_t i = 0; i < wp.size(); ++i) start += (wp[i] - yp[i]).pow(2).sum().item<double>();
    EXPECT_EQ(start, 0.0);
    search.run_epoch();
    double end = 0;
    for (std::size_t i = 0; i < wp.size(); ++i) end += (wp[i] - yp[i]).pow(2).sum().item<double>();
    return std::sqrt(end);
  };
  const double free = distance(0.0), coupled = distance(20.0);
  EXPECT_GT(free, 0.0);
  EXPECT_LT(coupled, free);
}

class DifferentiableRunTest : public ScratchDirTest {
 protected:
  SearchOptions options(const std::string& yaml) const { return search_options(yaml); }
  static constexpr const char* kData = "{name: synthetic, shape: [1, 8, 8], classes: 4, train: 96, val: 32, test: 32, noise: 0.5}";
};

TEST_F(DifferentiableRunTest, StoresEveryEpochAndTrainsTheDerivedCell) {
  const std::string yaml = std::string("seed: 2\nspace: {name: nb201, channels: 4, cells_per_stage: 1}\n") +
                           "strategy: {name: darts, order: 2, epochs: 3, batch_size: 16, arch_lr: 0.05, supernet: {channels: 4, cells_per_stage: 1}, dataset: " +
                           kData + "}\nfinal_training: {name: train, epochs: 2, batch_size: 16, dataset: " + kData + "}\n";
  const SearchSummary summary = run_search(options(yaml));
  EXPECT_EQ(summary.status, "finished");
  EXPECT_EQ(summary.evaluations, 4);
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  const auto run = store.latest_run();
  EXPECT_EQ(run->strategy, "darts-order2");
  const auto evaluations = store.evaluations(run->id);
  ASSERT_EQ(evaluations.size(), 4u);
  const auto alphas = store.curves(run->id, "alpha.");
  EXPECT_EQ(alphas.size(), 3u * 30u);
  for (int epoch = 0; epoch < 3; ++epoch) {
    const auto& e = evaluations[static_cast<std::size_t>(epoch)];
    EXPECT_EQ(e.stage, Stage::Epoch);
    std::map<std::string, double> alpha;
    for (const auto& point : alphas)
      if (point.step == epoch + 1) alpha[point.curve] = point.value;
    EXPECT_EQ(e.result.metrics.at("epoch"), epoch + 1);
    EXPECT_FALSE(e.fitness);
    for (const char* metric : {"train_loss", "train_acc", "val_loss", "val_acc", "skip_share", "skip_weight"})
      EXPECT_TRUE(e.result.metrics.count(metric)) << metric;
    EXPECT_FALSE(e.result.metrics.count("alpha.cell.1<-0.none"));  // alphas are curves
    // Every edge's softmax sums to one, and the genotype is its argmax.
    const Nb201Space::Cell cell = Nb201Space::parse(e.arch);
    for (int edge = 0; edge < 6; ++edge) {
      const std::string prefix = "alpha.cell." + std::to_string(Nb201Space::kEdgeTo[edge]) + "<-" + std::to_string(Nb201Space::kEdgeFrom[edge]) + ".";
      double sum = 0, best = -1;
      int best_op = -1;
      for (int op = 0; op < 5; ++op) {
        const double value = alpha.at(prefix + Nb201Space::kOps[op]);
        sum += value;
        if (value > best) best = value, best_op = op;
      }
      EXPECT_NEAR(sum, 1.0, 1e-9);
      EXPECT_EQ(best_op, cell[edge]);
    }
  }
  const auto& final = evaluations[3];
  EXPECT_EQ(final.stage, Stage::Final);
  EXPECT_EQ(final.arch, evaluations[2].arch);
  EXPECT_TRUE(final.result.ok) << final.result.error;
  ASSERT_TRUE(final.fitness);
  EXPECT_EQ(*final.fitness, final.result.metrics.at("val_acc"));
  EXPECT_EQ(summary.best_arch, final.arch);
  EXPECT_EQ(store.curves(run->id, "supernet.val_acc").size(), 3u);
  // The alphas are curves, not metrics, so the run listing keeps to the readable metrics.
  const std::string listing = run_to_text(*run, evaluations);
  EXPECT_NE(listing.find("stage"), std::string::npos);
  EXPECT_EQ(listing.find("alpha.cell"), std::string::npos);
}

TEST_F(DifferentiableRunTest, RartsOnTheDartsSpaceTrainsADartsGenotype) {
  const std::string yaml = std::string("seed: 1\nspace: {name: darts, channels: 4, layers: 3}\n") +
                           "strategy: {name: rarts, epochs: 1, batch_size: 16, steps_per_epoch: 2, supernet: {channels: 4, layers: 3}, dataset: " +
                           kData + "}\nfinal_training: [{name: train, steps: 2, batch_size: 16, dataset: " + kData +
                           "}, {name: proxy, metrics: [synflow], batch_size: 8, dataset: " + kData + "}]\nobjective: {metric: val_acc}\n";
  const SearchSummary summary = run_search(options(yaml));
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  const auto evaluations = store.evaluations(store.latest_run()->id);
  ASSERT_EQ(evaluations.size(), 3u);
  EXPECT_EQ(DartsSpace(4, 3).canonical(evaluations[0].arch), evaluations[0].arch);
  EXPECT_EQ(store.curves(store.latest_run()->id, "alpha.reduce.5<-4.sep_conv_3x3").size(), 1u);
  EXPECT_EQ(evaluations[1].stage, Stage::Final);
  EXPECT_TRUE(evaluations[1].result.ok) << evaluations[1].result.error;
  EXPECT_TRUE(evaluations[2].result.ok) << evaluations[2].result.error;
  EXPECT_TRUE(evaluations[2].result.metrics.count("synflow"));
  EXPECT_EQ(summary.best_arch, evaluations[0].arch);
}

TEST_F(DifferentiableRunTest, BadConfigsAreOneLineErrorsAndRecordNoRun) {
  const std::string base = std::string("space: {name: nb201}\nstrategy: {name: darts, epochs: 1, dataset: ") + kData;
  EXPECT_ERROR(run_search(options(base + "}\nevaluator: {name: train}\n")), "it accepts: nothing");
  EXPECT_ERROR(run_search(options(base + ", order: 3}\n")), "strategy.order: 3 is out of range ([1, 2])");
  EXPECT_ERROR(run_search(options(base + ", lambda: 2}\n")), "unknown key 'strategy.lambda'");
  EXPECT_ERROR(run_search(options(base + ", supernet: {layers: 3}}\n")), "unknown key 'strategy.supernet.layers'");
  EXPECT_ERROR(run_search(options(base + ", train_portion: 1.5}\n")), "strategy.train_portion: must be in (0, 1)");
  EXPECT_ERROR(run_search(options(base + "}\nfinal_training: 3\n")), "final_training: expected a step mapping");
  EXPECT_ERROR(run_search(options("space: {name: einspace}\nstrategy: {name: darts, dataset: " + std::string(kData) + "}\n")),
               "builds no cell supernet");
  EXPECT_ERROR(run_search(options("space: {name: darts, steps: 3}\nstrategy: {name: rarts, dataset: " + std::string(kData) +
                                  ", supernet: {channels: 4, layers: 3}}\n")),
               "does not match the space");
  // --resume on a database with no run starts one, but a bad config still writes nothing.
  SearchOptions resume = options(base + ", train_portion: 1.5}\n");
  resume.resume = true;
  EXPECT_ERROR(run_search(resume), "strategy.train_portion: must be in (0, 1)");
  EXPECT_FALSE(std::filesystem::exists(path("run.db")));
}

}  // namespace
}  // namespace nascent
