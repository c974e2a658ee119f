// Data-parallel training (core/data_parallel.hpp) checked in one process: threads stand in for
// mpirun's processes, through the same DataParallel interface. Split over members, BatchNorm and a
// DARTS or RARTS search compute what one process computes on the whole batch. The mpirun form is
// in test_cluster.cpp.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "core/data_parallel.hpp"
#include "core/probe.hpp"
#include "strategies/differentiable.hpp"
#include "supernets/cell_supernet.hpp"
#include "supernets/progressive_shrinking.hpp"
#include "supernets/vit_resnas_supernet.hpp"

namespace nascent {
namespace {

// Members of one group, one per thread: each collective waits for every member, and the last to
// arrive adds the deposits up in member order.
class ThreadHub {
 public:
  explicit ThreadHub(int members) : members_(members), deposits_(static_cast<std::size_t>(members)) {}
  int members() const { return members_; }

  torch::Tensor sum(int rank, const torch::Tensor& values) {
    std::unique_lock<std::mutex> lock(mutex_);
    deposits_[static_cast<std::size_t>(rank)] = values.detach().to(torch::kCPU, torch::kDouble).clone();
    arrive(lock, [&] {
      torch::Tensor total = deposits_[0].clone();
      for (int m = 1; m < members_; ++m) total += deposits_[static_cast<std::size_t>(m)];
      sum_ = total;
    });
    return sum_;
  }
  std::string broadcast(int rank, const std::string& bytes) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (rank == 0) sent_bytes_ = bytes;
    arrive(lock, [&] { first_bytes_ = sent_bytes_; });
    return first_bytes_;
  }

 private:
  // A later collective overwrites the results only once every member has arrived at it, so every
  // member has read this one's by then.
  void arrive(std::unique_lock<std::mutex>& lock, const std::function<void()>& last) {
    const long generation = generation_;
    if (++arrived_ == members_) {
      last();
      arrived_ = 0;
      ++generation_;
      wake_.notify_all();
    } else {
      wake_.wait(lock, [&] { return generation_ != generation; });
    }
  }
  int members_;
  std::vector<torch::Tensor> deposits_;
  torch::Tensor sum_;
  std::string sent_bytes_, first_bytes_;
  int arrived_ = 0;
  long generation_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
};

class ThreadMember final : public DataParallel {
 public:
  ThreadMember(ThreadHub& hub, int rank) : hub_(hub), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return hub_.members(); }
  void sum(torch::Tensor& values) override { values.copy_(hub_.sum(rank_, values)); }
  std::string broadcast(const std::string& bytes) override { return hub_.broadcast(rank_, bytes); }

 private:
  ThreadHub& hub_;
  int rank_;
};

// Runs `work(member)` on one thread per member and waits for all; a failed expectation inside
// is reported by gtest from whichever thread.
void on_members(int members, const std::function<void(DataParallel&)>& work) {
  ThreadHub hub(members);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < members; ++rank)
    threads.emplace_back([&, rank] {
      ThreadMember member(hub, rank);
      work(member);
    });
  for (auto& thread : threads) thread.join();
}

TEST(DataParallel, SharesOfABatchCoverItInOrder) {
  on_members(3, [](DataParallel& group) {
    const auto [begin, end] = share_of_batch(10, group);
    const std::pair<std::int64_t, std::int64_t> expected[] = {{0, 3}, {3, 6}, {6, 10}};
    EXPECT_EQ(begin, expected[group.rank()].first);
    EXPECT_EQ(end, expected[group.rank()].second);
    EXPECT_EQ(group.agree(group.rank() == 0), true) << "member 0 decides";
    EXPECT_EQ(group.agree(group.rank() != 0), false);
  });
}

// The forward output, the input's and the affine parameters' gradients, and the running
// statistics of BatchNorm over the whole batch, from members holding uneven shares of it.
TEST(DataParallel, SynchronisedBatchNormEqualsBatchNormOverTheWholeBatch) {
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({11, 3, 4, 4}) * 2 + 1;
  const torch::Tensor weights = torch::randn({11, 3, 4, 4});  // the loss: sum(y * weights)
  const auto make_norm = [] {
    torch::nn::BatchNorm2d norm(torch::nn::BatchNorm2dOptions(3).momentum(0.2));
    torch::NoGradGuard no_grad;
    norm->weight.copy_(torch::tensor({0.5, 1.5, -1.0}));
    norm->bias.copy_(torch::tensor({0.1, -0.2, 0.3}));
    return norm;
  };
  auto reference = make_norm();
  const torch::Tensor whole = x.clone().set_requires_grad(true);
  const torch::Tensor y = reference->forward(whole);
  (y * weights).sum().backward();

  for (const int members : {2, 3}) {
    SCOPED_TRACE(std::to_string(members) + " members");
    std::vector<torch::Tensor> outputs(static_cast<std::size_t>(members)), input_grads(outputs.size());
    on_members(members, [&](DataParallel& group) {
      auto norm = make_norm();
      const auto [begin, end] = share_of_batch(x.size(0), group);
      const torch::Tensor share = x.slice(0, begin, end).clone().set_requires_grad(true);
      torch::Tensor out;
      {
        const DataParallelScope scope(&group);
        out = probe_norm(norm, share);  // what every built-in network's BatchNorm goes through
      }
      (out * weights.slice(0, begin, end)).sum().backward();
      std::vector<torch::Tensor> grads{norm->weight.grad(), norm->bias.grad()};
      sum_gradients(grads, group);
      EXPECT_TRUE(torch::allclose(grads[0], reference->weight.grad(), 1e-5, 1e-5));
      EXPECT_TRUE(torch::allclose(grads[1], reference->bias.grad(), 1e-5, 1e-5));
      EXPECT_TRUE(torch::allclose(norm->running_mean, reference->running_mean, 1e-5, 1e-6));
      EXPECT_TRUE(torch::allclose(norm->running_var, reference->running_var, 1e-5, 1e-6));
      EXPECT_EQ(norm->num_batches_tracked.item<std::int64_t>(), 1);
      outputs[static_cast<std::size_t>(group.rank())] = out.detach();
      input_grads[static_cast<std::size_t>(group.rank())] = share.grad();
    });
    EXPECT_TRUE(torch::allclose(torch::cat(outputs), y.detach(), 1e-5, 1e-5));
    EXPECT_TRUE(torch::allclose(torch::cat(input_grads), whole.grad(), 1e-4, 1e-5)) << "the statistics' gradients cross members";
  }
}

ImageSet labelled_patterns(std::int64_t n, std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::Tensor labels = torch::randint(4, {n}, generator, torch::kInt64);
  torch::Tensor patterns = torch::randn({4, 1, 8, 8}, generator);
  return {patterns.index_select(0, labels) + 0.5 * torch::randn({n, 1, 8, 8}, generator), labels};
}

struct SearchOutcome {
  std::vector<EpochRecord> epochs;
  std::vector<torch::Tensor> alphas, weights;
};

SearchOutcome search(const std::string& method, int order, DataParallel* group) {
  const Task task{{1, 8, 8}, 4};
  const Config supernet = Config::parse("{channels: 4, cells_per_stage: 1}");
  DifferentiableOptions options;
  options.method = method;
  options.order = order;
  // Second order divides a difference of gradients by a small radius, which amplifies rounding
  // from step to step: it is compared after its first step.
  options.epochs = order == 2 ? 1 : 2;
  options.batch_size = 15;  // shares of 7 and 8 rows
  options.steps_per_epoch = order == 2 ? 1 : 3;
  options.arch_lr = 0.01;
  options.eval_batch_size = 16;
  auto w = make_cell_supernet("nb201", supernet, task);
  auto y = method == "rarts" ? make_cell_supernet("nb201", supernet, task) : nullptr;
  DifferentiableSearch search(w, y, labelled_patterns(96, 1), options, 4);
  search.train_with(group);
  SearchOutcome outcome;
  for (int epoch = 0; epoch < options.epochs; ++epoch) outcome.epochs.push_back(search.run_epoch());
  for (const auto& a : search.alphas()) outcome.alphas.push_back(a.detach().clone());
  for (const auto& p : search.network().parameters()) outcome.weights.push_back(p.detach().clone());
  for (const auto& b : search.network().buffers()) outcome.weights.push_back(b.detach().to(torch::kFloat).clone());
  return outcome;
}

TEST(DataParallel, DartsAndRartsOnTwoMembersEqualOneProcessOnTheWholeBatch) {
  for (const auto& [method, order] : {std::pair{std::string("darts"), 1}, std::pair{std::string("darts"), 2}, std::pair{std::string("rarts"), 1}}) {
    SCOPED_TRACE(method + " order " + std::to_string(order));
    const SearchOutcome alone = search(method, order, nullptr);
    std::vector<SearchOutcome> members(2);
    on_members(2, [&](DataParallel& group) { members[static_cast<std::size_t>(group.rank())] = search(method, order, &group); });
    for (const SearchOutcome& member : members) {
      for (std::size_t e = 0; e < alone.epochs.size(); ++e) {
        const EpochRecord &a = member.epochs[e], &b = alone.epochs[e];
        EXPECT_NEAR(a.train_loss, b.train_loss, 1e-5);
        EXPECT_NEAR(a.train_acc, b.train_acc, 1e-9);
        EXPECT_NEAR(a.val_loss, b.val_loss, 1e-5);
        EXPECT_NEAR(a.val_acc, b.val_acc, 1e-9);
        EXPECT_EQ(a.genotype, b.genotype);
      }
      for (std::size_t i = 0; i < alone.alphas.size(); ++i)
        EXPECT_TRUE(torch::allclose(member.alphas[i], alone.alphas[i], 1e-4, 1e-5)) << (member.alphas[i] - alone.alphas[i]).abs().max();
      ASSERT_EQ(member.weights.size(), alone.weights.size());
      for (std::size_t i = 0; i < alone.weights.size(); ++i)
        EXPECT_TRUE(torch::allclose(member.weights[i], alone.weights[i], 1e-4, 1e-5)) << i << " " << (member.weights[i] - alone.weights[i]).abs().max();
    }
    // The members hold the same network, bit for bit.
    for (std::size_t i = 0; i < alone.weights.size(); ++i) EXPECT_TRUE(torch::equal(members[0].weights[i], members[1].weights[i])) << i;
  }
}

// Parameters and buffers, for comparing networks.
std::vector<torch::Tensor> state_of(torch::nn::Module& module) {
  std::vector<torch::Tensor> state;
  for (const auto& p : module.parameters()) state.push_back(p.detach().clone());
  for (const auto& b : module.buffers()) state.push_back(b.detach().to(torch::kFloat).clone());
  return state;
}

void expect_close(const std::vector<torch::Tensor>& member, const std::vector<torch::Tensor>& alone, double rtol, double atol) {
  ASSERT_EQ(member.size(), alone.size());
  for (std::size_t i = 0; i < alone.size(); ++i)
    EXPECT_TRUE(torch::allclose(member[i], alone[i], rtol, atol)) << i << ": " << (member[i] - alone[i]).abs().max();
}

struct OneStep {
  double loss = 0;
  std::vector<torch::Tensor> state;
};
struct StopAfterOneStep {};

// Runs `train(stop)`, whose step callback calls stop(loss), until its first step, and returns that
// step's loss and `module`'s state after it.
template <typename Train>
OneStep first_step(torch::nn::Module& module, const Train& train) {
  OneStep step;
  try {
    train([&](double loss) {
      step.loss = loss;
      throw StopAfterOneStep{};
    });
    ADD_FAILURE() << "no step";
  } catch (const StopAfterOneStep&) {
  }
  step.state = state_of(module);
  return step;
}

// One training step of every phase against one process: training is chaotic over many steps
// (float rounding differs between two exact computations and grows), so each phase's first step
// is compared, starting from the state one process had reached at the phase's start.
// The weights may differ by `update_tolerance`: where several BatchNorm layers follow each other,
// the gradient's rounding is of relative order 1e-4 even within one process (two exact
// formulas for BatchNorm's backward differ that much), and an optimiser step scales it; a member
// that trained on its share alone would be off by a whole update.
template <typename TrainFrom>
void expect_every_first_step_equal(const std::vector<std::optional<std::string>>& starts, double update_tolerance, const TrainFrom& train_from) {
  ASSERT_GE(starts.size(), 2u);
  for (std::size_t k = 0; k < starts.size(); ++k) {
    SCOPED_TRACE("from state " + std::to_string(k));
    const OneStep alone = train_from(starts[k], nullptr);
    std::vector<OneStep> members(2);
    on_members(2, [&](DataParallel& group) { members[static_cast<std::size_t>(group.rank())] = train_from(starts[k], &group); });
    for (const OneStep& member : members) {
      EXPECT_NEAR(member.loss, alone.loss, 1e-5 * std::abs(alone.loss));
      expect_close(member.state, alone.state, 1e-3, update_tolerance);
    }
    for (std::size_t i = 0; i < alone.state.size(); ++i) EXPECT_TRUE(torch::equal(members[0].state[i], members[1].state[i])) << i;
  }
}

// Every phase of progressive shrinking (elastic kernels, depths and widths, distillation from the
// full network, dropout in the head) at two resolutions, on shares of 8 rows of each batch of 16.
TEST(DataParallel, OfaProgressiveShrinkingStepsOnTwoMembersEqualOneProcess) {
  OfaSpec spec;
  spec.width_mult = 0.25;
  spec.resolutions = {12, 16};
  const Task task{{1, 16, 16}, 4};
  at::Generator generator = at::detail::createCPUGenerator(3);
  ImageSet train{torch::randn({64, 1, 16, 16}, generator), torch::randint(0, 4, {64}, generator)};
  train.images += train.labels.view({64, 1, 1, 1}).to(torch::kFloat32);
  OfaTrainingOptions options;
  options.batch_size = 16;
  options.phases = progressive_shrinking_phases(spec, {1, 0.5, 0.5, 0.5, 0.5, 0.5}, 1.0, 0.05);
  const auto supernet_at = [&] {
    auto supernet = std::make_shared<OfaMbv3>(OfaNetShape::supernet(spec), task);
    at::Generator init = at::detail::createCPUGenerator(5);
    supernet->reset_parameters(init);
    return supernet;
  };
  // The state at the start of training and at the end of every epoch (each phase here is one).
  std::vector<std::optional<std::string>> starts{std::nullopt};
  train_ofa_supernet(*supernet_at(), spec, train, options, 11, nullptr,
                     TrainingCheckpoints{[&](const std::string& state) { starts.push_back(state); }, std::nullopt});
  starts.pop_back();  // the end of training
  ASSERT_EQ(starts.size(), options.phases.size());
  // SGD at lr 0.05: gradients 1e-3 apart move weights 5e-5 apart.
  expect_every_first_step_equal(starts, 1e-4, [&](const std::optional<std::string>& start, DataParallel* group) {
    auto supernet = supernet_at();
    return first_step(*supernet, [&](const auto& stop) {
      train_ofa_supernet(*supernet, spec, train, options, 11, [&](const OfaEpochRecord&, std::int64_t, std::int64_t, double loss) { stop(loss); },
                         TrainingCheckpoints{nullptr, start}, group);
    });
  });
}

// ViT-ResNAS's multi-architecture sampling: per-sample width masks, drop path and the stem's
// BatchNorm, in a width warm-up epoch and after it, on shares of 8 rows of each batch of 16.
TEST(DataParallel, VitResNasSupernetStepsOnTwoMembersEqualOneProcess) {
  const VitSpaceSpec spec = VitSpaceSpec::named("tiny", 8, 4);
  const Task task{{1, 56, 56}, 4};
  at::Generator generator = at::detail::createCPUGenerator(2);
  ImageSet train{torch::randn({32, 1, 56, 56}, generator), torch::randint(0, 4, {32}, generator)};
  train.images += train.labels.view({32, 1, 1, 1}).to(torch::kFloat32);
  VitSupernetOptions options;
  options.epochs = 3;
  options.warmup_width_epochs = 1;
  options.batch_size = 16;
  options.examples_per_arch = 4;
  options.lr = 0.02;
  options.warmup_epochs = 0;
  const auto supernet_at = [&] {
    auto supernet = std::make_shared<VitResNet>(spec.largest(), task, 0.1);
    at::Generator init = at::detail::createCPUGenerator(4);
    supernet->reset_parameters(init);
    return supernet;
  };
  std::vector<std::optional<std::string>> starts{std::nullopt};
  train_vit_supernet(*supernet_at(), spec, train, options, 9, nullptr,
                     TrainingCheckpoints{[&](const std::string& state) { starts.push_back(state); }, std::nullopt});
  starts.pop_back();
  // AdamW divides by the gradient's running magnitude, so an element whose gradient is near zero
  // may move by a fraction of the learning rate (0.02 x 16 / 512) on rounding alone.
  expect_every_first_step_equal(starts, 2e-4, [&](const std::optional<std::string>& start, DataParallel* group) {
    auto supernet = supernet_at();
    return first_step(*supernet, [&](const auto& stop) {
      train_vit_supernet(*supernet, spec, train, options, 9, [&](int, std::int64_t, std::int64_t, double loss) { stop(loss); },
                         TrainingCheckpoints{nullptr, start}, group);
    });
  });
}

}  // namespace
}  // namespace nascent
