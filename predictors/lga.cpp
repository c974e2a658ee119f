// Label-gradient alignment (Mok et al., CVPR 2022): the centred alignment between the empirical
// NTK of the summed logits and the label kernel (+1 same class, -1 otherwise).
#include "core/error.hpp"
#include "predictors/passes.hpp"

namespace nascent {

namespace {

class LabelGradientAlignment : public Predictor {
 public:
  LabelGradientAlignment(int warmup_steps, double warmup_lr, bool batch_statistics)
      : warmup_steps_(warmup_steps), warmup_lr_(warmup_lr), batch_statistics_(batch_statistics) {}
  std::string name() const override { return "lga"; }

  double score(const ScoreInput& input) const override {
    Network& net = input.network;
    net.train();
    if (warmup_steps_ > 0) {
      torch::optim::SGD optimizer(net.parameters(), torch::optim::SGDOptions(warmup_lr_).momentum(0.9));
      for (int step = 0; step < warmup_steps_; ++step) {
        optimizer.zero_grad();
        input.loss(net.forward(input.inputs), input.labels).backward();
        optimizer.step();
      }
    }
    std::vector<torch::Tensor> weights;
    for (const auto& item : net.named_parameters())
      if (item.key().find("weight") != std::string::npos && item.value().requires_grad()) weights.push_back(item.value());
    // Per-sample gradients: one backward pass per sample, never one per parameter tensor. By
    // default (batch_statistics) the whole batch goes forward once and each sample's summed
    // logits are differentiated through it (TE-NAS's form: BatchNorm keeps the batch's
    // statistics, each backward pass costs a full batch's); otherwise each sample gets its own
    // forward pass (batch of one) and BatchNorm normalises it over its own positions, about ten
    // times cheaper but it ranks NAS-Bench-201 far worse (docs/benchmarks.md, LGA warm-up).
    const std::int64_t n = input.inputs.size(0);
    torch::Tensor batch_logits = batch_statistics_ ? net.forward(input.inputs) : torch::Tensor();
    std::int64_t total = 0;
    for (const auto& w : weights) total += w.numel();
    torch::Tensor gradients = torch::zeros({n, total}, torch::TensorOptions().dtype(torch::kFloat).device(input.inputs.device()));
    for (std::int64_t i = 0; i < n; ++i) {
      torch::Tensor logits = batch_statistics_ ? batch_logits[i] : net.forward(input.inputs.slice(0, i, i + 1));
      std::vector<torch::Tensor> grads =
          torch::autograd::grad({logits.sum()}, weights, {}, /*retain_graph=*/batch_statistics_, false, true);
      std::int64_t offset = 0;
      for (std::size_t k = 0; k < weights.size(); ++k) {
        const std::int64_t size = weights[k].numel();
        if (grads[k].defined()) gradients[i].slice(0, offset, offset + size).copy_(grads[k].reshape(-1));
        offset += size;
      }
    }
    torch::Tensor ntk = gradients.matmul(gradients.t()).to(torch::kDouble).cpu();
    return alignment(ntk, input.labels.cpu());
  }

  static double alignment(const torch::Tensor& ntk, const torch::Tensor& labels) {
    torch::Tensor same = labels.view({-1, 1}).eq(labels.view({1, -1})).to(torch::kDouble);
    torch::Tensor label_kernel = same * 2 - 1;
    torch::Tensor a = ntk - ntk.mean();
    torch::Tensor b = label_kernel - label_kernel.mean();
    return ((a * b).sum() / (a.norm() * b.norm())).item<double>();
  }

 private:
  int warmup_steps_;
  double warmup_lr_;
  bool batch_statistics_;
};

}  // namespace

double label_gradient_alignment(const torch::Tensor& ntk, const torch::Tensor& labels) {
  return LabelGradientAlignment::alignment(ntk, labels);
}

std::unique_ptr<Predictor> make_lga(int warmup_steps, double warmup_lr, bool batch_statistics) {
  if (warmup_steps < 0) throw Error("lga: warmup_steps must not be negative");
  if (!(warmup_lr >= 0)) throw Error("lga: warmup_lr must not be negative");
  return std::make_unique<LabelGradientAlignment>(warmup_steps, warmup_lr, batch_statistics);
}

}  // namespace nascent
