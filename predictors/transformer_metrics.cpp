// The transformer metrics of Serianni & Kalita (ACL 2023, "Training-free neural architecture
// search for RNNs and transformers"), as BERT_metrics.ipynb computes them on ELECTRA: one forward of
// a token batch (dropout off), the summed last hidden state back-propagated, then
//   head confidence:          sum over query/key/value outputs of mean(max over positions)
//   head softmax confidence:  the same over attention probabilities, max over the heads axis
//                             (the reference's dim=1, not Voita et al.'s max attention weight)
//   activation distance:      per feed-forward nonlinearity, the first sequence's sign codes x
//                             (length x width), sum of all entries of x x^T + (1-x)(1-x)^T
//   synaptic diversity:       sum over the mixing block's linear layers of ||W||_* ||dW||_*
//   synaptic saliency:        sum of |W * dW| over the feed-forward layers
//   head importance:          sum of |W * dW| over the mixing's head layers with >= 128 outputs
//   jacobian score / cosine:  on the gradient of a position embedding (length x width), the
//                             width x width correlation's eigen score, and 1 - mean |cos|^(1/20)
// The "_normalised" variants divide by the number of layers or hooks summed. FlexiBERT has no
// absolute position embedding (its attention is relative), so a zero tensor added to the token
// embedding stands in for one: its gradient is what a position embedding's would be.
#include <cmath>

#include "core/error.hpp"
#include "predictors/passes.hpp"

namespace nascent {

namespace {

class TransformerListener : public ProbeListener {
 public:
  explicit TransformerListener(TransformerPass& pass) : pass_(pass) {}

  void head_projection(const torch::Tensor& y) override { pass_.head_confidence.add(confidence(y)); }
  void attention_probabilities(const torch::Tensor& p) override { pass_.softmax_confidence.add(confidence(p)); }

  void nonlinearity_input(const torch::Tensor& x) override {
    // The sign of a GELU's (or ReLU's) output is its input's. Sum(x x^T) is |sum of x's rows|^2.
    torch::Tensor codes = (x.detach()[0].reshape({x.size(1), -1}) > 0).to(torch::kDouble);
    torch::Tensor on = codes.sum(0), off = (1 - codes).sum(0);
    pass_.activation_distance.add((on.dot(on) + off.dot(off)).item<double>());
  }

 private:
  static double confidence(const torch::Tensor& y) {
    return std::get<0>(y.detach().max(1)).to(torch::kDouble).mean().item<double>();
  }
  TransformerPass& pass_;
};

const TransformerPass& transformer_pass(const ScoreInput& input) {
  if (input.cache && input.cache->transformer_pass) return *input.cache->transformer_pass;
  if (!input.cache) input.cache = std::make_shared<PassCache>();
  if (at::isFloatingType(input.inputs.scalar_type()) || input.inputs.dim() != 2)
    throw Error("transformer metrics: expected a batch of token ids (batch x length), as text datasets give");
  Network& net = input.network;
  const TransformerWeights weights = net.transformer_weights();
  // The reference scores a fresh module, in training mode; dropout is left off here so that a
  // score depends on the weights and the batch only, not on which predictors drew masks before.
  net.eval();
  predictor_detail::clear_gradients(net);
  TransformerPass pass;
  TransformerListener listener(pass);
  torch::Tensor position;
  {
    ProbeScope scope(listener);
    torch::Tensor embedded = net.embedded(input.inputs);
    position = torch::zeros({embedded.size(1), embedded.size(2)}, embedded.options()).requires_grad_(true);
    torch::Tensor out = net.features_of_embedded(embedded + position, input.inputs);
    out.backward(torch::ones_like(out));
  }
  if (pass.head_confidence.count == 0)
    throw Error("transformer metrics: the network reports no attention heads (its space must use probe_head)");
  pass.position_gradient = position.grad().detach().to(torch::kDouble);
  torch::NoGradGuard no_grad;
  const auto with_gradient = [](const torch::Tensor& w) { return w.grad().defined(); };
  for (const auto& w : weights.operation) {
    if (!with_gradient(w)) continue;
    const torch::Tensor weight = w.detach().to(torch::kDouble), gradient = w.grad().to(torch::kDouble);
    pass.synaptic_diversity.add(at::linalg_matrix_norm(weight, "nuc").item<double>() *
                                at::linalg_matrix_norm(gradient, "nuc").item<double>());
  }
  const auto saliency = [](const torch::Tensor& w) {
    return (w.detach().to(torch::kDouble) * w.grad().to(torch::kDouble)).abs().sum().item<double>();
  };
  for (const auto& w : weights.feed_forward)
    if (with_gradient(w)) pass.synaptic_saliency.add(saliency(w));
  for (const auto& w : weights.heads)
    if (with_gradient(w) && w.size(0) >= 128) pass.head_importance.add(saliency(w));
  predictor_detail::clear_gradients(net);
  input.cache->transformer_pass = std::move(pass);
  return *input.cache->transformer_pass;
}

// The reference's covariance(): rows are the position embedding's width, samples its positions.
double jacobian_score(const TransformerPass& pass) {
  return predictor_detail::eigen_score(predictor_detail::corrcoef(pass.position_gradient.t()));
}

double jacobian_cosine(const TransformerPass& pass) {
  torch::Tensor rows = pass.position_gradient.t();
  torch::Tensor normed = rows / rows.norm(2, 1, /*keepdim=*/true);
  const double n = static_cast<double>(rows.size(0));
  // The reference subtracts the identity; the diagonal's rounding residue, raised to 1/20, would
  // add about 0.16 per unit, so it is zeroed exactly.
  torch::Tensor cosines = normed.matmul(normed.t()).fill_diagonal_(0);
  const double summed = cosines.abs().pow(1.0 / 20).sum().item<double>() / 2;
  return 1 - summed / (n * n - n);
}

using SumField = TransformerPass::Sum TransformerPass::*;

struct MetricEntry {
  const char* name;
  const char* summary;
  SumField sum;  // null for the jacobian metrics
  double (*direct)(const TransformerPass&);
};

const std::vector<MetricEntry>& metric_table() {
  static const std::vector<MetricEntry> table = {
      {"head_confidence", "mean of each head projection's maximum over positions, summed", &TransformerPass::head_confidence, nullptr},
      {"head_softmax_confidence", "mean maximum of the attention probabilities over heads, summed", &TransformerPass::softmax_confidence, nullptr},
      {"activation_distance", "feed-forward activation patterns' agreement between positions, summed", &TransformerPass::activation_distance, nullptr},
      {"synaptic_diversity", "nuclear norm of each mixing layer's weight times its gradient's, summed", &TransformerPass::synaptic_diversity, nullptr},
      {"synaptic_saliency", "|W * dW| over the feed-forward layers", &TransformerPass::synaptic_saliency, nullptr},
      {"head_importance", "|W * dW| over the head projections with at least 128 outputs", &TransformerPass::head_importance, nullptr},
      {"jacobian_score", "eigen score of the position-gradient correlation between units", nullptr, jacobian_score},
      {"jacobian_cosine", "1 - mean |cosine|^(1/20) between units' position gradients", nullptr, jacobian_cosine},
  };
  return table;
}

class TransformerMetric : public Predictor {
 public:
  TransformerMetric(std::string name, const MetricEntry& entry, bool normalised)
      : name_(std::move(name)), entry_(entry), normalised_(normalised) {}
  std::string name() const override { return name_; }
  double score(const ScoreInput& input) const override {
    const TransformerPass& pass = transformer_pass(input);
    if (entry_.direct) return entry_.direct(pass);
    const TransformerPass::Sum& sum = pass.*entry_.sum;
    if (!normalised_) return sum.total;
    if (sum.count == 0) throw Error(name_ + ": the network has no layer this metric sums over");
    return sum.total / sum.count;
  }

 private:
  std::string name_;
  const MetricEntry& entry_;
  bool normalised_;
};

}  // namespace

std::vector<std::pair<std::string, std::string>> transformer_metric_names() {
  std::vector<std::pair<std::string, std::string>> names;
  for (const auto& entry : metric_table()) {
    names.push_back({entry.name, std::string("transformer metric: ") + entry.summary});
    if (entry.sum) names.push_back({std::string(entry.name) + "_normalised", std::string("transformer metric: ") + entry.name + " per layer summed"});
  }
  return names;
}

std::unique_ptr<Predictor> make_transformer_metric(const std::string& name) {
  for (const auto& entry : metric_table()) {
    if (name == entry.name) return std::make_unique<TransformerMetric>(name, entry, false);
    if (entry.sum && name == std::string(entry.name) + "_normalised") return std::make_unique<TransformerMetric>(name, entry, true);
  }
  return nullptr;
}

}  // namespace nascent
