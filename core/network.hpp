#pragma once
#include <torch/torch.h>

#include <vector>

namespace nascent {

// The weights of a transformer encoder by role, for the transformer metrics of Serianni & Kalita
// (after ELECTRA's module layout): `operation` every linear layer of each layer's token-mixing
// block (attention or its replacement, output projection included), `heads` those inside the
// mixing itself (query, key, value, a convolution head's kernel and input), `feed_forward` the
// feed-forward stack and its output layer.
struct TransformerWeights {
  std::vector<torch::Tensor> operation, heads, feed_forward;
};

// The module every space builds. forward() maps a batch of inputs to logits.
class Network : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor input) = 0;

  // The feature map just before global pooling, for predictors that score it (Zen-NAS). The
  // default throws Error: spaces without such a map need not provide one.
  virtual torch::Tensor features(torch::Tensor input);

  // Per-token hidden states (batch x length x width) of networks that read token sequences, for
  // masked-language-model pre-training. The default throws Error.
  virtual torch::Tensor token_features(torch::Tensor tokens);

  // Networks that read token ids: their embedding of `tokens` (batch x length x width), and the
  // per-token features computed from an embedding in its place, so that Zen-NAS can perturb a
  // continuous input. The defaults throw Error.
  virtual torch::Tensor embedded(torch::Tensor tokens);
  virtual torch::Tensor features_of_embedded(torch::Tensor embedded, torch::Tensor tokens);

  // Transformer encoders: their weights by role (see TransformerWeights). The default throws Error.
  virtual TransformerWeights transformer_weights();

  // PyTorch's default initialisation, drawn from `generator` instead of the global one so that
  // candidates built on parallel workers are reproducible. Spaces with custom parameters override.
  virtual void reset_parameters(at::Generator& generator);
};

}  // namespace nascent
