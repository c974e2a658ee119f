#pragma once
#include <torch/torch.h>

#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/network.hpp"
#include "core/rng.hpp"
#include "core/search_space.hpp"

namespace nascent {

using LossFunction = std::function<torch::Tensor(const torch::Tensor& logits, const torch::Tensor& labels)>;
torch::Tensor cross_entropy_loss(const torch::Tensor& logits, const torch::Tensor& labels);

struct PassCache;  // forward/backward passes that several predictors share (predictors/passes.hpp)

// What a training-free predictor scores: a built (untrained or briefly trained) network, one batch
// of inputs and labels, the loss, and the random stream for anything it draws.
struct ScoreInput {
  ScoreInput(Network& network, torch::Tensor inputs, torch::Tensor labels, Rng& rng,
             LossFunction loss = cross_entropy_loss);
  Network& network;
  torch::Tensor inputs;  // N x ... (the network's input shape)
  torch::Tensor labels;  // N, int64 class indices
  Rng& rng;
  LossFunction loss;
  double flops = std::numeric_limits<double>::quiet_NaN();  // per sample, from the space's describe()
  // Passes shared between predictors; valid while the weights are those the passes saw, which
  // score_predictors guarantees by restoring them after each predictor.
  mutable std::shared_ptr<PassCache> cache;
};

// Scores an architecture without training it. Higher is better for every predictor except
// `plain`, which is kept with its published sign. A predictor may change the network's weights,
// buffers and mode; score_predictors restores them before the next one. A score may be NaN or
// infinite (e.g. a constant hidden unit): callers store it as such and rank it last.
class Predictor {
 public:
  virtual ~Predictor() = default;
  virtual std::string name() const = 0;
  virtual double score(const ScoreInput& input) const = 0;
};

// The predictors by name: grad_norm, snip, grasp, fisher, jacob_cov (alias jacov), synflow, nwot,
// zen, epe_nas, l2_norm, plain, params, flops, hidden_cov and lga. Options: hidden_cov `layer`
// (a hidden state's name or index, negative from the end; default -1); lga `warmup_steps`
// (default 30), `warmup_lr` (0.01) and `batch_statistics` (true: one forward pass of the batch, BatchNorm on its statistics). The short form "hidden_cov@LAYER" sets the layer.
std::unique_ptr<Predictor> make_predictor(const std::string& name, const Config& options = Config());
std::vector<std::string> predictor_names();
// The transformer metrics of Serianni & Kalita (predictors/transformer_metrics.cpp), for networks
// whose space reports attention heads and weights by role (FlexiBERT): head_confidence,
// head_softmax_confidence, activation_distance, synaptic_diversity, synaptic_saliency,
// head_importance (each also as NAME_normalised: divided by the layers summed), jacobian_score
// and jacobian_cosine.
std::vector<std::string> transformer_predictor_names();

struct PredictorScores {
  std::map<std::string, double> scores;  // by predictor name; NaN when it failed
  std::map<std::string, std::string> errors;
  std::map<std::string, double> milliseconds;
};

// Scores with each predictor on the same initial weights, sharing passes where predictors need
// the same one (one loss backward serves grad_norm, snip, fisher, plain, nwot and hidden_cov; one
// input-Jacobian pass serves jacob_cov and epe_nas). A predictor that throws scores NaN.
PredictorScores score_predictors(const std::vector<const Predictor*>& predictors, ScoreInput& input);

// Builds `arch` for `task` on `device`, initialises its weights from `seed` (as the training
// evaluator does), and scores it on the batch with `predictors`, whose random stream is also
// seeded by `seed`; the flops predictor gets the space's describe() figure. Building errors propagate.
PredictorScores score_architecture(const SearchSpace& space, const std::string& arch, const Task& task,
                                   std::uint64_t seed, const std::vector<const Predictor*>& predictors,
                                   const torch::Tensor& inputs, const torch::Tensor& labels,
                                   const std::string& device = "cpu");

// Per-predictor helpers shared by the implementations.
namespace predictor_detail {
// Weights of every convolution and linear layer, in module order (the published proxies' layers).
std::vector<torch::Tensor> weighted_layer_weights(torch::nn::Module& network);
// Pearson correlation between the rows of `x` (variables x observations), float64, as numpy's corrcoef.
torch::Tensor corrcoef(const torch::Tensor& x);
// -sum(log(l + 1e-5) + 1/(l + 1e-5)) over the eigenvalues of a correlation matrix; NaN if it has NaNs.
double eigen_score(const torch::Tensor& correlation);
double nan();
// Drops every parameter's gradient (rather than zeroing it), so none keeps a stale dtype.
void clear_gradients(torch::nn::Module& network);
}  // namespace predictor_detail

}  // namespace nascent
