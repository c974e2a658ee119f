// The NAS-Bench-NLP language model: embedding, stacked recurrent cells built from the recipe,
// decoder tied to the embedding (AWD-LSTM's layout as NAS-Bench-NLP trains it, without its
// dropouts: the training-free metrics run it in eval mode, where they are off).
#include <cmath>

#include "core/error.hpp"
#include "core/network.hpp"
#include "core/probe.hpp"
#include "search_spaces/nasbench_nlp/nasbench_nlp.hpp"

namespace nascent {

namespace {

// One recurrent cell: the recipe's nodes in dependency order, each reading slots of a value table
// whose first entries are x and h_prev_0 .. h_prev_{k-1}.
class RecurrentCellImpl : public torch::nn::Module {
 public:
  RecurrentCellImpl(const NlpRecipe& recipe, std::int64_t input_size, std::int64_t hidden_size)
      : hidden_size_(hidden_size), states_(nasbench_nlp_hidden_states(recipe)) {
    std::map<std::string, int> slot{{"x", 0}};
    for (int i = 0; i < states_; ++i) slot["h_prev_" + std::to_string(i)] = 1 + i;
    for (const auto& name : nasbench_nlp_order(recipe)) {
      const NlpNode& node = recipe.at(name);
      Step step;
      step.op = node.op;
      for (const auto& input : node.inputs) step.inputs.push_back(slot.at(input));
      if (node.op == "linear") {
        // One weight per input, one bias: NAS-Bench-NLP's MultiLinear. Module names are positional
        // because recipe names may hold characters a module name cannot.
        for (std::size_t i = 0; i < node.inputs.size(); ++i) {
          const std::int64_t in = node.inputs[i] == "x" ? input_size : hidden_size;
          step.weights.push_back(register_module("linear" + std::to_string(steps_.size()) + "_" + std::to_string(i),
                                                 torch::nn::Linear(torch::nn::LinearOptions(in, hidden_size).bias(i == 0))));
        }
      }
      slot[name] = static_cast<int>(1 + states_ + steps_.size());
      steps_.push_back(std::move(step));
    }
    for (int i = 0; i < states_; ++i) outputs_.push_back(slot.at("h_new_" + std::to_string(i)));
  }

  std::vector<torch::Tensor> forward(const torch::Tensor& x, const std::vector<torch::Tensor>& previous) {
    std::vector<torch::Tensor> values{x};
    values.insert(values.end(), previous.begin(), previous.end());
    for (auto& step : steps_) values.push_back(apply(step, values));
    std::vector<torch::Tensor> next;
    for (int slot : outputs_) next.push_back(values[slot]);
    return next;
  }

  int states() const { return states_; }
  std::int64_t hidden_size() const { return hidden_size_; }

 private:
  struct Step {
    std::string op;
    std::vector<int> inputs;
    std::vector<torch::nn::Linear> weights;
  };

  static torch::Tensor apply(Step& step, const std::vector<torch::Tensor>& values) {
    const auto in = [&](std::size_t i) -> const torch::Tensor& { return values[step.inputs[i]]; };
    if (step.op == "linear") {
      torch::Tensor sum;
      for (std::size_t i = 0; i < step.weights.size(); ++i) {
        torch::Tensor term = probe_linear(step.weights[i], in(i));
        sum = sum.defined() ? sum + term : term;
      }
      return sum;
    }
    if (step.op == "blend") return in(0) * in(1) + (1 - in(0)) * in(2);
    if (step.op == "elementwise_prod" || step.op == "elementwise_sum") {
      torch::Tensor result = in(0);
      for (std::size_t i = 1; i < step.inputs.size(); ++i) result = step.op == "elementwise_prod" ? result * in(i) : result + in(i);
      return result;
    }
    if (step.op == "activation_leaky_relu") return probe_leaky_relu(in(0), 0.01);
    probe_activation(in(0));
    return step.op == "activation_tanh" ? torch::tanh(in(0)) : torch::sigmoid(in(0));
  }

  std::int64_t hidden_size_;
  int states_;
  std::vector<Step> steps_;
  std::vector<int> outputs_;
};
TORCH_MODULE(RecurrentCell);

class NasBenchNlpNetwork : public Network {
 public:
  NasBenchNlpNetwork(const NlpRecipe& recipe, const NlpModelSize& size, std::int64_t vocabulary, std::int64_t num_classes)
      : tied_(num_classes == vocabulary) {
    encoder_ = register_module("encoder", torch::nn::Embedding(vocabulary, size.embedding));
    for (std::int64_t layer = 0; layer < size.layers; ++layer)
      cells_.push_back(register_module("rnn" + std::to_string(layer),
                                       RecurrentCell(recipe, size.layer_input(layer), size.layer_hidden(layer))));
    if (tied_) decoder_bias_ = register_parameter("decoder_bias", torch::zeros({vocabulary}));
    else head_ = register_module("head", torch::nn::Linear(size.embedding, num_classes));
  }

  torch::Tensor forward(torch::Tensor tokens) override {
    torch::Tensor hidden = token_features(tokens);
    // Right-padded sequences: each is read at its last real token.
    torch::Tensor last = tokens.ne(0).sum(1).clamp_min(1) - 1;
    // Sizes as -1 where they follow the batch, so that an exported module takes any batch size.
    torch::Tensor at_last = hidden.gather(1, last.view({-1, 1, 1}).expand({-1, -1, hidden.size(2)})).squeeze(1);
    if (!tied_) return probe_linear(head_, at_last);
    return probe_weighted(encoder_->weight, torch::nn::functional::linear(at_last, encoder_->weight, decoder_bias_));
  }

  torch::Tensor token_features(torch::Tensor tokens) override { return features_of_embedded(embedded(tokens), tokens); }

  torch::Tensor embedded(torch::Tensor tokens) override {
    if (tokens.dim() != 2 || tokens.scalar_type() != torch::kLong)
      throw Error("nasbench_nlp: expected token ids (int64, batch x length), got a tensor of " + std::to_string(tokens.dim()) +
                  " dimensions");
    return encoder_(tokens);
  }

  // Each layer runs over time from zero states; what it reports to the probes is what the
  // training-free paper captured: the states entering each step, h_0 (zero) .. h_{T-1}, as
  // batch x units x time.
  torch::Tensor features_of_embedded(torch::Tensor embedded, torch::Tensor tokens) override {
    std::vector<torch::Tensor> inputs = embedded.unbind(1);
    for (std::size_t layer = 0; layer < cells_.size(); ++layer) {
      RecurrentCell& cell = cells_[layer];
      // Zero states shaped from the input (not from its recorded size), for exported modules.
      const torch::Tensor zero = torch::zeros_like(inputs.front().narrow(1, 0, 1)).expand({-1, cell->hidden_size()});
      std::vector<torch::Tensor> states(cell->states(), zero);
      std::vector<torch::Tensor> incoming, outputs;
      for (const auto& x : inputs) {
        incoming.push_back(states[0]);
        states = cell->forward(x, states);
        outputs.push_back(states[0]);
      }
      probe_hidden("layer" + std::to_string(layer), torch::stack(incoming, 2), 1);
      inputs = std::move(outputs);
    }
    return torch::stack(inputs, 1);
  }

  // AWD-LSTM's: embedding U(-0.1, 0.1), every cell parameter U(-1/sqrt(H), 1/sqrt(H)) for the
  // cell's H, decoder bias zero; a classification head PyTorch's default.
  void reset_parameters(at::Generator& generator) override {
    torch::NoGradGuard no_grad;
    encoder_->weight.uniform_(-0.1, 0.1, generator);
    for (auto& cell : cells_) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(cell->hidden_size()));
      for (auto& p : cell->parameters()) p.uniform_(-bound, bound, generator);
    }
    if (tied_) {
      decoder_bias_.zero_();
    } else {
      const double bound = 1.0 / std::sqrt(static_cast<double>(head_->weight.size(1)));
      head_->weight.uniform_(-bound, bound, generator);
      head_->bias.uniform_(-bound, bound, generator);
    }
  }

 private:
  bool tied_;
  torch::nn::Embedding encoder_{nullptr};
  std::vector<RecurrentCell> cells_;
  torch::Tensor decoder_bias_;
  torch::nn::Linear head_{nullptr};
};

}  // namespace

std::shared_ptr<Network> make_nasbench_nlp_network(const NlpRecipe& recipe, const NlpModelSize& size, const Task& task) {
  return std::make_shared<NasBenchNlpNetwork>(recipe, size, nasbench_nlp_vocabulary(task), task.num_classes);
}

}  // namespace nascent
