#pragma once
// A probabilistic context-free grammar whose terminals are tensor operations, and derivation
// trees that carry the shape state einspace tracks. No LibTorch here: sampling, parsing,
// mutation and counting work from shape formulas alone (build() lives in grammar_network.cpp).
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/rng.hpp"

namespace nascent::grammar {

// One sample's tensor shape, batch left out: 3 dims = image mode [C, H, W] ("im"),
// 2 dims = column mode [S, D] ("col").
using Shape = std::vector<std::int64_t>;
using Fold = std::array<std::int64_t, 2>;  // (H', W') of an im2col, for the col2im that undoes it

enum class OpKind {
  identity, clone, group, im2col, col2im, permute, linear, norm, leaky_relu, softmax,
  positional_encoding, dot_product, add, cat
};

struct Op {
  OpKind kind = OpKind::identity;
  std::int64_t width = 0;  // linear: output features, or
  double scale = 0;        //   the input's last dimension times scale
  int copies = 0;          // clone: branches; group: chunks
  int dim = 0;             // group, cat: dimension in PyTorch numbering (batch = 0)
  int inputs = 0;          // cat: the branch count it is written for
  int kernel = 1, stride = 1, padding = 0;  // im2col
  std::vector<int> order;  // permute: feature dims, 1-based
  bool scaled = false;     // dot_product: divide by sqrt(last dim)
  double slope = 0.01;     // leaky_relu

  bool splits() const { return kind == OpKind::clone || kind == OpKind::group; }
  bool merges() const { return kind == OpKind::dot_product || kind == OpKind::add || kind == OpKind::cat; }
};

// What flows into a node.
struct State {
  Shape shape;                // the input (a merge: the first branch's output)
  std::vector<Shape> others;  // a merge: the other branches' outputs
  std::optional<Fold> fold;   // the nearest enclosing im2col's output grid
};

enum class Kind { terminal, sequence, route, branch };

struct Production {
  std::string name;
  Kind kind = Kind::terminal;
  std::vector<int> children;  // rules: child symbols
  int shared_above = 2;       // branch: more branches than this share one sampled inner module
  Op op;                      // terminals
};

struct Symbol {
  std::string name;
  std::vector<int> productions;
  std::vector<double> probability;  // per production; negative = shares what the fixed ones leave
  std::vector<int> also_accepts;    // parsed, never sampled
  int at_max_depth = -1;
};

struct Limits {
  double params = 5e7;
  double activation_elements = 4194304;
  double macs = 1e300;  // multiply-accumulates per sample: bounds a candidate's training cost
};

struct Grammar {
  std::string name;
  std::string source;  // file name or "built-in", for error messages
  int start = 0;
  int max_depth = 100;
  Limits limits;
  std::vector<Symbol> symbols;
  std::vector<Production> productions;
  std::map<std::string, std::string> seeds;  // named derivations, written "@name"

  // Throws nascent::Error naming the source and the offending entry.
  static Grammar parse(const std::string& yaml_text, const std::string& source);
  static Grammar load(const std::string& path);

  int find_production(const std::string& name) const;  // -1 when absent
  int find_symbol(const std::string& name) const;
};

// A derivation tree node: the grammar slot it fills, the production chosen there, its children
// (a branch holds [split, inner..., merge] with one inner when the inners are shared copies)
// and the shape state computed for it.
struct Node {
  int symbol = -1;
  int production = -1;
  int depth = 0;
  std::size_t position = 0;  // where it starts in the parsed text (for error messages)
  std::vector<Node> children;
  State in;
  Shape out;
  std::optional<Fold> out_fold;  // an im2col's grid, passed to its route's last child
  int branches = 0;              // a split's output count; a branch node's k
};

// Output shape of `op` on `in`, or nullopt with `why` set (a static string) when the op cannot
// take that input or its output would exceed the activation limit. `sampling` adds einspace's
// stricter sampling filters (no im2col on an image smaller than the kernel, even with padding);
// hand-written derivations such as the seeds only need to be computable.
struct OpResult {
  Shape shape;
  std::optional<Fold> fold;
  int branches = 1;
};
std::optional<OpResult> apply_op(const Op& op, const State& in, const Limits& limits, const char** why,
                                 bool sampling = false);

// A random derivation for `input`, by the einspace sampler: filtered options, weighted choice,
// backtracking on failure, the depth limit and the parameter guard. Throws Error when no valid
// derivation is found after many restarts.
Node sample(const Grammar& grammar, const Shape& input, Rng& rng);

// A different derivation: a node is picked uniformly (shared branch copies count once each)
// and its subtree resampled from the same slot with a different production.
Node mutate(const Grammar& grammar, const Node& tree, const Shape& input, Rng& rng);

// "name(child, child, ...)"; terminals are bare names. parse(print(t)) == t.
std::string print(const Grammar& grammar, const Node& tree);
// Parses and checks a derivation for `input` (productions allowed in each slot, shapes, depth,
// guards); throws ParseError / Error saying what and where. "@name" expands a named seed.
Node parse(const Grammar& grammar, const std::string& text, const Shape& input);

struct Measures {
  double params = 0;  // the network's trainable parameters, classifier head included
  double macs = 0;    // multiply-accumulates per sample
  double max_activation = 0;
  int nodes = 0;      // pre-order count, shared copies counted each
  int depth = 0;
  int terminals = 0;
  int convolutions = 0;  // im2col-linear-col2im routes built as Conv2d
};
Measures measure(const Grammar& grammar, const Node& tree, std::int64_t num_classes);

// The indented tree with each node's input and output shapes.
std::string tree_text(const Grammar& grammar, const Node& tree);
// The derivation tree as a Graphviz digraph (productions as nodes, terminals with their output
// shape); Error beyond `max_nodes` nodes, which no drawing would make readable.
std::string tree_dot(const Grammar& grammar, const Node& tree, std::size_t max_nodes = 400);

// Terminal usage counts (one per terminal production, grammar order), used by encode().
std::vector<double> terminal_counts(const Grammar& grammar, const Node& tree);

// A branch node whose one inner module stands for all of its branches (k > shared_above): each
// copy counts as a node and gets its own weights.
bool shares_inner(const Grammar& grammar, const Node& node);

// route(im2col, [computation(]linear[)], col2im): the inner linear node, else nullptr.
const Node* convolution_linear(const Grammar& grammar, const Node& route);

}  // namespace nascent::grammar
