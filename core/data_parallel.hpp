#pragma once
// Data-parallel training: several processes (or, in tests, threads) train one network together.
// Each holds the same weights, takes its share of every batch, and sums with the others what the
// whole batch needs: gradients, BatchNorm's statistics (and their gradients) and the step's
// metrics. With the loss of a share scaled by the whole batch's size, the summed gradients are
// those of one process training on the whole batch, up to floating-point rounding.
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace nascent {

// One group of processes training together. Every member calls the collectives in the same order.
class DataParallel {
 public:
  virtual ~DataParallel() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Sums `values` over the members, in place; every member ends with the same sums. Float or
  // double, on any device.
  virtual void sum(torch::Tensor& values) = 0;
  // Member 0's bytes, on every member.
  virtual std::string broadcast(const std::string& bytes) = 0;
  // Member 0's decision, on every member: decisions that depend on a clock or a signal (Ctrl-C,
  // the time budget) are taken by member 0 alone, so that every member takes the same branch.
  bool agree(bool mine);
};

// The processes of this mpirun job; null without one (or without MPI).
std::unique_ptr<DataParallel> data_parallel_over_processes();

// The rows [begin, end) of a batch of `n` rows that `group`'s member trains on: contiguous shares
// whose sizes differ by at most one.
std::pair<std::int64_t, std::int64_t> share_of_batch(std::int64_t n, const DataParallel& group);

// Sums a list of gradients over the group with one collective (they are packed into one buffer).
void sum_gradients(std::vector<torch::Tensor>& grads, DataParallel& group);

// After a data-parallel step's backward: sums the gradients `module`'s parameters hold (those
// without one are the same on every member) and returns `loss`, this share's part of the step's
// loss, summed over the group.
double sum_step(torch::nn::Module& module, double loss, DataParallel& group);

// While a scope lives, BatchNorm layers in training mode that go through probe_norm (every
// built-in cell network's do) normalise with the statistics of the whole batch, over the group.
class DataParallelScope {
 public:
  explicit DataParallelScope(DataParallel* group);
  ~DataParallelScope();
  DataParallelScope(const DataParallelScope&) = delete;
  DataParallelScope& operator=(const DataParallelScope&) = delete;

 private:
  DataParallel* previous_;
};
DataParallel* active_data_parallel();

// BatchNorm in training mode with the mean and (biased) variance of the whole batch over the
// group, from double sums of x and x² (one collective each way); the running statistics are
// updated as one process's would be.
torch::Tensor synchronised_batch_norm(torch::nn::BatchNorm2d& norm, const torch::Tensor& x, DataParallel& group);
// The functional form, for networks that normalise with sliced parameters (Once-for-All): `weight`
// and `bias` may be undefined (no affine transform), and so may the running statistics, which are
// updated in place (views of larger buffers included) with `momentum`.
torch::Tensor synchronised_batch_norm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                      torch::Tensor running_mean, torch::Tensor running_var, double momentum, double eps,
                                      DataParallel& group);

// Random draws per row of a batch (dropout masks, drop path): in a data-parallel step the draws
// are made for every row of the whole batch, `rows` as set_whole_batch_rows gave it, and each
// member keeps its share's, so that a member's generator stays in step with one process's. `sizes`
// has the member's rows first. Without an active group: torch::rand(sizes, generator).
void set_whole_batch_rows(std::int64_t rows);
torch::Tensor rand_for_rows(at::IntArrayRef sizes, at::Generator& generator, const torch::TensorOptions& options = {});

}  // namespace nascent
