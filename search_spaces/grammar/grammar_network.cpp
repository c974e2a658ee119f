#include "search_spaces/grammar/grammar_network.hpp"

#include <cmath>

#include "core/probe.hpp"

namespace nascent::grammar {

namespace {

// One module per derivation node. A single class with a kind switch keeps the compiled tree as
// shallow to read as the derivation itself; children are registered as "0", "1", ... so state
// dict names follow tree positions.
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const Grammar& grammar, const Node& node) : kind_(grammar.productions[node.production].kind) {
    const Production& production = grammar.productions[node.production];
    if (const Node* linear = convolution_linear(grammar, node)) {
      // im2col -> linear -> col2im is a convolution with the linear's weights (Unfold orders the
      // columns channel-major, as Conv2d's weight is laid out); build it as one.
      const Op& unfold = grammar.productions[node.children[0].production].op;
      const std::int64_t in_channels = node.in.shape[0];
      conv_ = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, linear->out.back(), unfold.kernel)
                                                            .stride(unfold.stride)
                                                            .padding(unfold.padding)
                                                            .bias(true)));
      return;
    }
    if (kind_ == Kind::terminal) {
      op_ = production.op;
      const Shape& in = node.in.shape;
      switch (op_.kind) {
        case OpKind::linear:
          linear_ = register_module("linear", torch::nn::Linear(in.back(), node.out.back()));
          break;
        case OpKind::norm:
          if (in.size() == 3)
            batch_norm_ = register_module("norm", torch::nn::BatchNorm2d(in[0]));
          else
            layer_norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({in.back()})));
          break;
        case OpKind::positional_encoding: {
          std::vector<std::int64_t> shape{1};
          shape.insert(shape.end(), in.begin(), in.end());
          positional_ = register_parameter("positional", torch::randn(shape));
          break;
        }
        case OpKind::col2im:
          fold_ = *node.in.fold;
          break;
        default:
          break;
      }
      return;
    }
    // A shared inner module is one architecture; every branch gets its own copy of the weights.
    const bool shared = shares_inner(grammar, node);
    std::vector<const Node*> children;
    for (std::size_t i = 0; i < node.children.size(); ++i) {
      const int copies = shared && i == 1 ? node.branches : 1;
      for (int c = 0; c < copies; ++c) children.push_back(&node.children[i]);
    }
    for (std::size_t i = 0; i < children.size(); ++i)
      children_.push_back(register_module(std::to_string(i), std::make_shared<BlockImpl>(grammar, *children[i])));
  }

  torch::Tensor forward(torch::Tensor x) {
    if (conv_) return probe_conv(conv_, x);
    switch (kind_) {
      case Kind::terminal:
        return apply(x);
      case Kind::sequence:
      case Kind::route:
        for (auto& child : children_) x = child->forward(x);
        return x;
      case Kind::branch: {
        std::vector<torch::Tensor> parts = children_.front()->split(x);
        for (std::size_t i = 0; i < parts.size(); ++i) parts[i] = children_[1 + i]->forward(parts[i]);
        return children_.back()->merge(parts);
      }
    }
    return x;
  }

  std::vector<torch::Tensor> split(const torch::Tensor& x) const {
    if (op_.kind == OpKind::clone) return std::vector<torch::Tensor>(op_.copies, x);
    auto parts = x.split(x.size(op_.dim) / op_.copies, op_.dim);
    return std::vector<torch::Tensor>(parts.begin(), parts.end());
  }

  torch::Tensor merge(const std::vector<torch::Tensor>& parts) const {
    switch (op_.kind) {
      case OpKind::dot_product: {
        torch::Tensor y = torch::matmul(parts[0], parts[1]);
        return op_.scaled ? y / std::sqrt(static_cast<double>(parts[0].size(-1))) : y;
      }
      case OpKind::add: {
        torch::Tensor sum = parts[0];
        for (std::size_t i = 1; i < parts.size(); ++i) sum = sum + parts[i];
        return sum;
      }
      default:
        return torch::cat(parts, op_.dim);
    }
  }

  void reset_positional(at::Generator& generator) {
    torch::NoGradGuard no_grad;
    if (positional_.defined()) positional_.normal_(0.0, 1.0, generator);
    for (auto& child : children_) child->reset_positional(generator);
  }

 private:
  torch::Tensor apply(const torch::Tensor& x) {
    switch (op_.kind) {
      case OpKind::linear:
        return probe_linear(linear_, x);
      case OpKind::norm:
        return batch_norm_ ? probe_norm(batch_norm_, x) : probe_norm(layer_norm_, x);
      case OpKind::leaky_relu:
        return probe_leaky_relu(x, op_.slope);
      case OpKind::softmax:
        return torch::softmax(x, -1);
      case OpKind::positional_encoding:
        return x + positional_;
      case OpKind::permute: {
        std::vector<std::int64_t> order{0};
        for (int d : op_.order) order.push_back(d);
        return x.permute(order);
      }
      case OpKind::im2col:
        return torch::nn::functional::unfold(
                   x, torch::nn::functional::UnfoldFuncOptions(op_.kernel).stride(op_.stride).padding(op_.padding))
            .permute({0, 2, 1});
      case OpKind::col2im:
        // -1 for the batch, not x.size(0): a recorded (TorchScript) forward then takes any batch size.
        return x.permute({0, 2, 1}).reshape({-1, x.size(1) * x.size(2) / (fold_[0] * fold_[1]), fold_[0], fold_[1]});
      default:
        return x;
    }
  }

  Kind kind_;
  Op op_;
  Fold fold_{1, 1};
  std::vector<std::shared_ptr<BlockImpl>> children_;
  torch::nn::Linear linear_{nullptr};
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d batch_norm_{nullptr};
  torch::nn::LayerNorm layer_norm_{nullptr};
  torch::Tensor positional_;
};

// einspace's wrapper: no stem; the head averages an image-mode output over H, W and a
// column-mode output over its feature dimension, then one linear layer.
class GrammarNetwork : public Network {
 public:
  GrammarNetwork(const Grammar& grammar, const Node& tree, std::int64_t num_classes)
      : image_output_(tree.out.size() == 3) {
    backbone_ = register_module("backbone", std::make_shared<BlockImpl>(grammar, tree));
    head_ = register_module("head", torch::nn::Linear(tree.out[0], num_classes));
  }

  torch::Tensor features(torch::Tensor input) override {
    torch::Tensor h = backbone_->forward(input);
    probe_hidden("backbone", h, image_output_ ? 1 : 2);
    return h;
  }

  torch::Tensor forward(torch::Tensor input) override {
    torch::Tensor h = features(input);
    return probe_linear(head_, image_output_ ? h.mean({2, 3}) : h.mean(-1));
  }

  void reset_parameters(at::Generator& generator) override {
    Network::reset_parameters(generator);
    backbone_->reset_positional(generator);
  }

 private:
  bool image_output_;
  std::shared_ptr<BlockImpl> backbone_;
  torch::nn::Linear head_{nullptr};
};

}  // namespace

std::shared_ptr<Network> build_network(const Grammar& grammar, const Node& tree, std::int64_t num_classes) {
  return std::make_shared<GrammarNetwork>(grammar, tree, num_classes);
}

}  // namespace nascent::grammar
