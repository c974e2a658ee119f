// RARTS (Xue, Qi & Xin, "RARTS: an efficient first-order relaxed architecture search method",
// arXiv 2008.03901). No public code exists; this follows the reconstruction in
// shared/specs/ofa_resnas_darts.md C.3, whose equations are unverified. Relaxed single-level problem:
//   min over a, w, y of  L_val(y, a) + lambda L_train(w, a) + beta/2 |y - w|^2
// with two networks of the same supernet that share a: w learns from the weight split (train
// batches), y from the alpha split (val batches).
//
// Update order of one iteration (one forward-backward pass per network):
//   1. w <- SGD(grad_w L_train(w, a) [+ beta (w - y) with coupling_in_w_step])
//   2. y <- SGD(grad_y L_val(y, a) + beta (y - w)), w already the new one (Gauss-Seidel)
//   3. a <- Adam(grad_a L_val(y, a) + lambda grad_a L_train(w, a))
// Step 3 reuses the alpha gradients of the passes in steps 1 and 2, taken at the iteration's
// starting w and y, so an iteration costs what first-order DARTS's does; fresh_arch_gradients
// recomputes them at the new w and y (exact Gauss-Seidel, two more passes).
#include "core/error.hpp"
#include "strategies/differentiable.hpp"

namespace nascent {

namespace {

struct PassResult {
  torch::Tensor loss, logits;
  std::vector<torch::Tensor> weight_grads, alpha_grads;
};

PassResult forward_backward(CellSupernet& net, const std::vector<torch::Tensor>& alphas, const Batch& batch, bool weights) {
  PassResult result;
  result.logits = net.forward(batch.x);
  result.loss = batch_loss(result.logits, batch);
  std::vector<torch::Tensor> inputs = alphas;
  std::vector<torch::Tensor> params;
  if (weights) {
    params = net.parameters();
    inputs.insert(inputs.end(), params.begin(), params.end());
  }
  const std::vector<torch::Tensor> grads = batch_gradients(result.loss, inputs);
  result.alpha_grads.assign(grads.begin(), grads.begin() + static_cast<std::ptrdiff_t>(alphas.size()));
  result.weight_grads.assign(grads.begin() + static_cast<std::ptrdiff_t>(alphas.size()), grads.end());
  return result;
}

// The coupling term's gradient, beta (net - other), added to `net`'s gradients.
std::vector<torch::Tensor> coupled(std::vector<torch::Tensor> grads, CellSupernet& net, CellSupernet& other, double beta) {
  if (beta > 0) {
    const std::vector<torch::Tensor> params = net.parameters(), other_params = other.parameters();
    for (std::size_t i = 0; i < params.size(); ++i) grads[i] = grads[i] + beta * (params[i].detach() - other_params[i].detach());
  }
  return grads;
}

}  // namespace

double DifferentiableSearch::rarts_step(const Batch& train, const Batch& val, double& correct) {
  PassResult w_pass = forward_backward(*w_net_, alphas_, train, true);
  weight_step(*w_optimizer_, *w_net_,
              coupled(std::move(w_pass.weight_grads), *w_net_, *y_net_, options_.coupling_in_w_step ? options_.beta : 0.0));
  PassResult y_pass = forward_backward(*y_net_, alphas_, val, true);
  weight_step(*y_optimizer_, *y_net_, coupled(std::move(y_pass.weight_grads), *y_net_, *w_net_, options_.beta));

  std::vector<torch::Tensor> train_alpha = std::move(w_pass.alpha_grads);
  std::vector<torch::Tensor> val_alpha = std::move(y_pass.alpha_grads);
  if (options_.fresh_arch_gradients) {
    train_alpha = forward_backward(*w_net_, alphas_, train, false).alpha_grads;
    val_alpha = forward_backward(*y_net_, alphas_, val, false).alpha_grads;
  }
  for (std::size_t a = 0; a < alphas_.size(); ++a)
    alphas_[a].mutable_grad() = (val_alpha[a] + options_.lambda * train_alpha[a]).detach();
  alpha_optimizer_->step();

  correct += w_pass.logits.argmax(1).eq(train.y).sum().item<double>();
  return w_pass.loss.item<double>();
}

}  // namespace nascent
