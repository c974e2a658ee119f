#pragma once
// Differentiable architecture search on a cell supernet (supernets/cell_supernet.hpp):
// DARTS (Liu et al., ICLR 2019), first and second order, in strategies/darts.cpp, and RARTS
// (Xue, Qi & Xin, 2020) in strategies/rarts.cpp. These strategies train one network instead of
// asking for candidates, so runner/differentiable.cpp runs them instead of the ask/tell loop.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/data_parallel.hpp"
#include "core/training_state.hpp"
#include "datasets/dataset.hpp"
#include "supernets/cell_supernet.hpp"

namespace nascent {

struct DifferentiableOptions {
  std::string method = "darts";  // darts or rarts
  int order = 1;                 // darts: 1 (first order) or 2 (the unrolled, finite-difference gradient)
  int epochs = 50;
  std::int64_t batch_size = 64;
  std::int64_t steps_per_epoch = 0;  // 0: one pass over the weight split
  double train_portion = 0.5;        // of the dataset's training split, for the weights; the rest for alpha
  // Network weights (w, and RARTS's y): SGD with a per-epoch cosine schedule from lr to lr_min.
  // quark0/darts: weight decay 3e-4, no Nesterov; on NAS-Bench-201 AutoDL's DARTS uses 5e-4 and
  // Nesterov, which read_differentiable_options makes the default for that space.
  double lr = 0.025, lr_min = 0.001, momentum = 0.9, weight_decay = 3e-4;
  bool nesterov = false;
  double grad_clip = 5;  // gradient norm clip of each weight step (0: none)
  // Architecture weights: Adam.
  double arch_lr = 3e-4, arch_beta1 = 0.5, arch_beta2 = 0.999, arch_weight_decay = 1e-3;
  // Second order: the finite-difference radius r of the Hessian-vector product (eps = r / |v|).
  double hessian_radius = 0.01;
  // RARTS: min L_val(y, a) + lambda L_train(w, a) + beta/2 |y - w|^2 (see rarts.cpp).
  double lambda = 1.0;
  double beta = 0.1;
  double lr_y = -1;                  // < 0: same schedule as w
  bool coupling_in_w_step = false;   // add beta (w - y) to w's gradient too
  bool fresh_arch_gradients = false; // recompute alpha's gradients at the new w and y (exact Gauss-Seidel, 2 more passes)
  std::string device = "cpu";
  std::int64_t eval_batch_size = 256;
};

struct EpochRecord {
  int epoch = 0;  // 1-based
  double train_loss = 0, train_acc = 0;  // w on the weight split, running over the epoch (train mode)
  double val_loss = 0, val_acc = 0;      // w on the alpha split after the epoch (eval mode)
  double lr = 0;                         // the weight learning rate of the epoch
  double seconds = 0;
  std::string genotype;
  std::vector<torch::Tensor> alpha_softmax;  // per alpha tensor, edges x ops, CPU float64
};

// A labelled batch: in data-parallel training, this process's share of a batch of `rows` rows.
struct Batch {
  torch::Tensor x, y;
  std::int64_t rows = 0;
};

// Gradients of `loss` with respect to `inputs`; zeros for inputs the loss does not reach.
std::vector<torch::Tensor> gradients_or_zeros(const torch::Tensor& loss, const std::vector<torch::Tensor>& inputs);
// The cross-entropy of a batch: its mean, or inside a DataParallelScope (core/data_parallel.hpp)
// this share's part of the whole batch's mean, and gradients_or_zeros summed over the group there.
// With these, a data-parallel step computes the whole batch's gradients.
torch::Tensor batch_loss(const torch::Tensor& logits, const Batch& batch);
std::vector<torch::Tensor> batch_gradients(const torch::Tensor& loss, const std::vector<torch::Tensor>& inputs);

class DifferentiableSearch {
 public:
  // `y_net` is RARTS's second network (same architecture; its weights are set to w's), null for
  // DARTS. `data` is split in order: its first train_portion for the weights, the rest for alpha.
  // Everything random (weights, alphas, batches) comes from `seed`.
  DifferentiableSearch(std::shared_ptr<CellSupernet> w_net, std::shared_ptr<CellSupernet> y_net, const ImageSet& data,
                       DifferentiableOptions options, std::uint64_t seed);

  // Runs one epoch, or the rest of one a stop interrupted; `progress(step, steps, loss)` is called
  // after every step and may throw to stop: save_state() then continues after that step.
  EpochRecord run_epoch(const std::function<void(std::int64_t, std::int64_t, double)>& progress = {});
  // Trains data-parallel with `group` (null: alone): every member must construct the search the
  // same way and start from the same state (load_state of member 0's save_state).
  void train_with(DataParallel* group) { group_ = group; }
  int epochs_done() const { return epoch_; }
  // Steps done in the epoch in progress (non-zero only after a stop inside it), and in all.
  std::int64_t steps_into_epoch() const { return partial_.steps; }
  std::int64_t steps_done() const { return static_cast<std::int64_t>(epoch_) * steps_per_epoch_ + partial_.steps; }
  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  const std::vector<torch::Tensor>& alphas() const { return alphas_; }
  CellSupernet& network() { return *w_net_; }
  // Everything the next step depends on (weights, alphas, optimiser states, the generator, the
  // data order and cursors, the epoch and the steps done in it), as bytes; load_state continues
  // from them exactly.
  std::string save_state();
  void load_state(const std::string& bytes);

 private:
  Batch next_batch(const ImageSet& split, torch::Tensor& order, std::int64_t& cursor);
  double darts_step(const Batch& train, const Batch& val, double lr, double& correct);
  double rarts_step(const Batch& train, const Batch& val, double& correct);
  // Sets `net`'s gradients to `grads`, clips them to grad_clip and steps `optimizer`.
  void weight_step(torch::optim::SGD& optimizer, CellSupernet& net, const std::vector<torch::Tensor>& grads);

  std::shared_ptr<CellSupernet> w_net_, y_net_;
  DifferentiableOptions options_;
  torch::Device device_;
  ImageSet weight_split_, alpha_split_;
  at::Generator generator_;
  std::vector<torch::Tensor> alphas_;
  std::unique_ptr<torch::optim::SGD> w_optimizer_, y_optimizer_;
  std::unique_ptr<torch::optim::Adam> alpha_optimizer_;
  torch::Tensor weight_order_, alpha_order_;
  std::int64_t weight_cursor_ = 0, alpha_cursor_ = 0;
  EpochInProgress partial_;  // non-zero only after a stop inside an epoch
  std::int64_t steps_per_epoch_ = 0;
  int epoch_ = 0;
  DataParallel* group_ = nullptr;
};

// Second-order DARTS's architecture gradient (quark0/darts architect.py, `--unrolled`):
//   w' = w - xi (momentum * buffer + grad_w L_train(w, a) + weight_decay w)
//   g  = grad_a L_val(w', a) - xi [grad_a L_train(w+, a) - grad_a L_train(w-, a)] / (2 eps)
//   w+- = w +- eps grad_w' L_val(w', a),  eps = radius / |grad_w' L_val(w', a)|
// `momentum_buffers` (one per parameter, undefined for none) are the weight optimiser's. The
// network's weights are restored on return. The reference's radius 0.01 smooths over ReLU kinks
// that a step of that size crosses; the local derivative needs a smaller one (tests use 1e-7).
std::vector<torch::Tensor> unrolled_arch_gradient(CellSupernet& net, const std::vector<torch::Tensor>& alphas,
                                                  const Batch& train, const Batch& val, double xi, double momentum,
                                                  double weight_decay, const std::vector<torch::Tensor>& momentum_buffers,
                                                  double radius = 0.01);

// The momentum buffers of an SGD optimiser over `net`'s parameters (undefined where none yet).
std::vector<torch::Tensor> momentum_buffers(torch::optim::SGD& optimizer, CellSupernet& net);

}  // namespace nascent
