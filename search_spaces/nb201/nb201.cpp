#include "search_spaces/nb201/nb201.hpp"

#include "core/error.hpp"
#include "core/probe.hpp"
#include "core/network.hpp"
#include "search_spaces/nb201/nb201_modules.hpp"

namespace nascent {

const std::array<const char*, Nb201Space::kNumOps> Nb201Space::kOps = {"none", "skip_connect", "nor_conv_1x1",
                                                                       "nor_conv_3x3", "avg_pool_3x3"};
const std::array<int, Nb201Space::kEdges> Nb201Space::kEdgeFrom = {0, 0, 1, 0, 1, 2};
const std::array<int, Nb201Space::kEdges> Nb201Space::kEdgeTo = {1, 2, 2, 3, 3, 3};

namespace {

enum Op { kNone = 0, kSkip = 1, kConv1 = 2, kConv3 = 3, kPool = 4 };

int op_index(const std::string& name) {
  for (int i = 0; i < Nb201Space::kNumOps; ++i)
    if (name == Nb201Space::kOps[i]) return i;
  return -1;
}

}  // namespace

Nb201Space::Nb201Space(int channels, int cells_per_stage) : channels_(channels), cells_per_stage_(cells_per_stage) {
  if (channels < 1) throw Error("nb201: channels must be at least 1");
  if (cells_per_stage < 0) throw Error("nb201: cells_per_stage must not be negative");
}

std::unique_ptr<SearchSpace> Nb201Space::from_options(const Options& options) {
  return std::make_unique<Nb201Space>(options.get<int>("channels"), options.get<int>("cells_per_stage"));
}

// Format: |op~0|+|op~0|op~1|+|op~0|op~1|op~2|  (block i lists the edges into node i).
Nb201Space::Cell Nb201Space::parse(const std::string& text) {
  Cell cell{};
  std::size_t pos = 0;
  int edge = 0;
  for (int node = 1; node <= 3; ++node) {
    if (node > 1) {
      if (text.compare(pos, 1, "+") != 0) throw ParseError(text, pos, "expected '+' between nodes");
      ++pos;
    }
    if (text.compare(pos, 1, "|") != 0) throw ParseError(text, pos, "expected '|' to open node " + std::to_string(node));
    ++pos;
    for (int from = 0; from < node; ++from, ++edge) {
      const std::size_t tilde = text.find('~', pos);
      const std::size_t bar = text.find('|', pos);
      if (tilde == std::string::npos || (bar != std::string::npos && bar < tilde))
        throw ParseError(text, pos, "expected 'op~" + std::to_string(from) + "'");
      const std::string op = text.substr(pos, tilde - pos);
      const int index = op_index(op);
      if (index < 0)
        throw ParseError(text, pos,
                         "unknown operation '" + op +
                             "' (expected none, skip_connect, nor_conv_1x1, nor_conv_3x3 or avg_pool_3x3)");
      pos = tilde + 1;
      const std::string expected = std::to_string(from);
      if (text.compare(pos, expected.size(), expected) != 0 || pos + expected.size() >= text.size() ||
          text[pos + expected.size()] != '|')
        throw ParseError(text, pos, "node " + std::to_string(node) + " must take input " + expected + " here");
      pos += expected.size() + 1;
      cell[edge] = index;
    }
  }
  if (pos != text.size()) throw ParseError(text, pos, "unexpected trailing text");
  return cell;
}

std::string Nb201Space::print(const Cell& cell) {
  std::string text;
  int edge = 0;
  for (int node = 1; node <= 3; ++node) {
    text += node > 1 ? "+|" : "|";
    for (int from = 0; from < node; ++from, ++edge) text += std::string(kOps[cell[edge]]) + "~" + std::to_string(from) + "|";
  }
  return text;
}

std::string Nb201Space::canonical(const std::string& text) const { return print(parse(text)); }

std::string Nb201Space::sample(Rng& rng) const {
  Cell cell;
  for (int& op : cell) op = static_cast<int>(uniform_index(rng, kNumOps));
  return print(cell);
}

std::string Nb201Space::mutate(const std::string& arch, Rng& rng) const {
  Cell cell = parse(arch);
  const auto edge = uniform_index(rng, kEdges);
  // One of the four other operations, uniformly: the mutation always changes the cell.
  const int shift = 1 + static_cast<int>(uniform_index(rng, kNumOps - 1));
  cell[edge] = (cell[edge] + shift) % kNumOps;
  return print(cell);
}

std::string Nb201Space::crossover(const std::string& a, const std::string& b, Rng& rng) const {
  Cell child = parse(a);
  const Cell other = parse(b);
  for (int e = 0; e < kEdges; ++e)
    if (uniform_index(rng, 2) == 1) child[e] = other[e];
  return print(child);
}

std::vector<double> Nb201Space::encode(const std::string& arch) const {
  const Cell cell = parse(arch);
  std::vector<double> features(kEdges * kNumOps, 0.0);
  for (int e = 0; e < kEdges; ++e) features[e * kNumOps + cell[e]] = 1.0;
  return features;
}

std::vector<std::string> Nb201Space::enumerate() const {
  std::vector<std::string> all;
  Cell cell{};
  for (int code = 0; code < 15625; ++code) {
    int rest = code;
    for (int e = 0; e < kEdges; ++e, rest /= kNumOps) cell[e] = rest % kNumOps;
    all.push_back(print(cell));
  }
  return all;
}

// The view follows NAS-Bench-201's own notion of equal cells (Structure.to_unique_str with
// zeros considered): skip_connect is the identity, `none` is a zero, an operation applied to a
// node that is exactly zero is zero, and sums are commutative. Its labels are kept too ("0" for
// the input, "#" for zero): sums are compared as sorted joins of their terms' text, so the
// labels' sort order decides which sums coincide. That gives its 6,466 unique cells.
ArchGraph Nb201Space::graph(const std::string& arch) const {
  const Cell cell = parse(arch);
  ArchGraph g;
  std::array<GraphVertex, 4> node{};
  std::array<bool, 4> is_zero{};
  node[0] = add_op(g, "0");
  int edge = 0;
  for (int to = 1; to <= 3; ++to) {
    std::vector<GraphVertex> terms;
    for (int from = 0; from < to; ++from, ++edge) {
      const int op = cell[edge];
      if (op == kNone || is_zero[from]) {
        terms.push_back(add_op(g, "#"));
      } else if (op == kSkip) {
        terms.push_back(node[from]);
      } else {
        GraphVertex v = add_op(g, kOps[op]);
        add_data_edge(g, node[from], v);
        terms.push_back(v);
      }
    }
    if (terms.size() == 1) {
      node[to] = terms[0];
      is_zero[to] = g[terms[0]].op == "#";
    } else {
      node[to] = add_op(g, "add", /*commutative=*/true);
      for (GraphVertex term : terms) add_data_edge(g, term, node[to]);
    }
  }
  GraphVertex out = add_op(g, "output");
  add_data_edge(g, node[3], out);
  return g;
}

namespace {

struct Shape {
  std::int64_t c, h, w;
  double numel() const { return static_cast<double>(c) * h * w; }
};

std::int64_t conv_out(std::int64_t size, int kernel, int stride, int pad) { return (size + 2 * pad - kernel) / stride + 1; }

// FLOPs follow the counting convention of the published NAS-Bench-201 proxy tables
// (tensorwatch/torchstat): convolutions and linear layers count multiply-accumulates without
// bias, affine BatchNorm 2 per element, ReLU 1 per element, pooling k*k per output element,
// adaptive pooling (window+1)^2 per output element.
struct Counter {
  double params = 0, flops = 0;

  Shape relu_conv_bn(Shape in, std::int64_t out_c, int kernel, int stride, int pad, bool relu = true) {
    if (relu) flops += in.numel();
    Shape out{out_c, conv_out(in.h, kernel, stride, pad), conv_out(in.w, kernel, stride, pad)};
    params += static_cast<double>(in.c) * out_c * kernel * kernel + 2.0 * out_c;
    flops += static_cast<double>(kernel) * kernel * in.c * out_c * out.h * out.w + 2.0 * out.numel();
    return out;
  }
  void residual_block(Shape in, std::int64_t out_c) {
    Shape mid = relu_conv_bn(in, out_c, 3, 2, 1);
    relu_conv_bn(mid, out_c, 3, 1, 1);
    Shape pooled{in.c, in.h / 2, in.w / 2};
    flops += 4.0 * pooled.numel();  // AvgPool2d(2, 2)
    params += static_cast<double>(in.c) * out_c;
    flops += static_cast<double>(in.c) * out_c * pooled.h * pooled.w;
  }
};

}  // namespace

Description Nb201Space::describe(const std::string& arch, const Task& task) const {
  const Cell cell = parse(arch);
  if (task.input_shape.size() != 3) throw Error("nb201: input shape must be channels x height x width");
  Counter count;
  Shape shape{task.input_shape[0], task.input_shape[1], task.input_shape[2]};
  // Stem: conv 3x3 + BN (no ReLU before it).
  shape = count.relu_conv_bn(shape, channels_, 3, 1, 1, /*relu=*/false);
  for (int stage = 0; stage < 3; ++stage) {
    const std::int64_t width = static_cast<std::int64_t>(channels_) << stage;
    if (stage > 0) {
      count.residual_block(shape, width);
      shape = Shape{width, conv_out(shape.h, 3, 2, 1), conv_out(shape.w, 3, 2, 1)};
    }
    for (int c = 0; c < cells_per_stage_; ++c) {
      for (int e = 0; e < kEdges; ++e) {
        if (cell[e] == kConv1) count.relu_conv_bn(shape, width, 1, 1, 0);
        if (cell[e] == kConv3) count.relu_conv_bn(shape, width, 3, 1, 1);
        if (cell[e] == kPool) count.flops += 9.0 * shape.numel();
      }
    }
  }
  count.params += 2.0 * shape.c;        // final BN
  count.flops += 3.0 * shape.numel();    // final BN (2) + ReLU (1)
  count.flops += static_cast<double>(shape.c) * (shape.h + 1) * (shape.w + 1);  // global pooling
  count.params += static_cast<double>(shape.c) * task.num_classes + task.num_classes;
  count.flops += static_cast<double>(shape.c) * task.num_classes;

  Description description;
  description.params = count.params;
  description.flops = count.flops;
  description.graph = graph(arch);
  description.extra["cells"] = 3.0 * cells_per_stage_;
  description.extra["channels"] = channels_;
  return description;
}

Nb201ReLUConvBNImpl::Nb201ReLUConvBNImpl(std::int64_t in, std::int64_t out, int kernel, int stride, int pad, bool relu,
                                         bool affine)
    : relu_(relu),
      conv_(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(pad).bias(false)))),
      bn_(register_module("bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out).affine(affine)))) {}

torch::Tensor Nb201ReLUConvBNImpl::forward(const torch::Tensor& x) {
  return probe_norm(bn_, probe_conv(conv_, relu_ ? probe_relu(x) : x));
}

Nb201ResidualBlockImpl::Nb201ResidualBlockImpl(std::int64_t in, std::int64_t out)
    : conv_a_(register_module("conv_a", Nb201ReLUConvBN(in, out, 3, 2, 1))),
      conv_b_(register_module("conv_b", Nb201ReLUConvBN(out, out, 3, 1, 1))),
      downsample_(register_module("downsample", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).bias(false)))) {}

torch::Tensor Nb201ResidualBlockImpl::forward(const torch::Tensor& x) {
  return conv_b_->forward(conv_a_->forward(x)) + probe_conv(downsample_, torch::avg_pool2d(x, 2, 2));
}

namespace {

class CellImpl : public torch::nn::Module {
 public:
  CellImpl(const Nb201Space::Cell& cell, std::int64_t channels) : cell_(cell) {
    for (int e = 0; e < Nb201Space::kEdges; ++e) {
      const std::string name = "edge" + std::to_string(e);
      switch (cell[e]) {
        case kConv1: convs_[e] = register_module(name, Nb201ReLUConvBN(channels, channels, 1, 1, 0)); break;
        case kConv3: convs_[e] = register_module(name, Nb201ReLUConvBN(channels, channels, 3, 1, 1)); break;
        default: break;  // pooling, none and skip_connect have no parameters
      }
    }
  }

  torch::Tensor forward(const torch::Tensor& input) {
    std::array<torch::Tensor, 4> node;
    node[0] = input;
    for (int to = 1, e = 0; to <= 3; ++to) {
      torch::Tensor sum;
      for (int from = 0; from < to; ++from, ++e) {
        if (cell_[e] == kNone) continue;
        torch::Tensor term = cell_[e] == kSkip   ? node[from]
                             : cell_[e] == kPool ? torch::avg_pool2d(node[from], 3, 1, 1, /*ceil_mode=*/false,
                                                                     /*count_include_pad=*/false)
                                                 : convs_[e]->forward(node[from]);
        sum = sum.defined() ? sum + term : term;
      }
      node[to] = sum.defined() ? sum : torch::zeros_like(input);
    }
    return node[3];
  }

 private:
  Nb201Space::Cell cell_;
  std::array<Nb201ReLUConvBN, Nb201Space::kEdges> convs_{nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
};
TORCH_MODULE(Cell);

class Nb201Network : public Network {
 public:
  Nb201Network(const Nb201Space::Cell& cell, int channels, int cells_per_stage, const Task& task) {
    stem_ = register_module("stem", Nb201ReLUConvBN(task.input_shape.at(0), channels, 3, 1, 1, /*relu=*/false));
    std::int64_t width = channels;
    for (int stage = 0; stage < 3; ++stage) {
      if (stage > 0) {
        const std::string name = "reduce" + std::to_string(blocks_.size());
        blocks_.emplace_back(name, torch::nn::AnyModule(register_module(name, Nb201ResidualBlock(width, width * 2))));
        width *= 2;
      }
      for (int c = 0; c < cells_per_stage; ++c) {
        const std::string name = "cell" + std::to_string(blocks_.size());
        blocks_.emplace_back(name, torch::nn::AnyModule(register_module(name, Cell(cell, width))));
      }
    }
    last_bn_ = register_module("last_bn", torch::nn::BatchNorm2d(width));
    classifier_ = register_module("classifier", torch::nn::Linear(width, task.num_classes));
  }

  torch::Tensor features(torch::Tensor input) override {
    torch::Tensor x = stem_->forward(input);
    probe_hidden("stem", x);
    for (auto& [name, block] : blocks_) {
      x = block.forward(x);
      probe_hidden(name, x);
    }
    return probe_relu(probe_norm(last_bn_, x));
  }

  torch::Tensor forward(torch::Tensor input) override {
    torch::Tensor pooled = torch::adaptive_avg_pool2d(features(input), {1, 1}).flatten(1);
    return probe_linear(classifier_, pooled);
  }

 private:
  Nb201ReLUConvBN stem_{nullptr};
  std::vector<std::pair<std::string, torch::nn::AnyModule>> blocks_;  // cells and reduction blocks, in order
  torch::nn::BatchNorm2d last_bn_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};

}  // namespace

std::shared_ptr<Network> Nb201Space::build(const std::string& arch, const Task& task) const {
  if (task.input_shape.size() != 3) throw Error("nb201: input shape must be channels x height x width");
  return std::make_shared<Nb201Network>(parse(arch), channels_, cells_per_stage_, task);
}

}  // namespace nascent
