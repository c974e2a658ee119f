#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <sstream>

#include "core/error.hpp"
#include "core/graph.hpp"
#include "core/input_shape.hpp"
#include "search_spaces/grammar/grammar.hpp"

namespace nascent::grammar {

namespace {

double numel(const Shape& shape) {
  double n = 1;
  for (auto d : shape) n *= static_cast<double>(d);
  return n;
}

bool is_image(const Shape& shape) { return shape.size() == 3; }

// Every sample is drawn with a fixed work budget, so that a derivation stuck in endless
// backtracking restarts (deterministically, unlike the authors' 300 s wall-clock timeout).
constexpr long kExpansionBudget = 200000;
constexpr int kSampleRestarts = 1000;
constexpr int kMutationAttempts = 500;
constexpr int kMaxNesting = 5000;

// How a rule's children are fed (shared by the sampler and the parser).
// children[0, index) are derived already.
State sequence_child_state(const Production& rule, const State& in, const std::vector<Node>& children, std::size_t index) {
  State state;
  state.shape = index == 0 ? in.shape : children[index - 1].out;
  state.fold = in.fold;
  // route: the last child undoes the first child's im2col; the middle keeps the enclosing one.
  if (rule.kind == Kind::route && index > 0 && index + 1 == rule.children.size()) state.fold = children.front().out_fold;
  return state;
}

int branch_inner_count(const Production& rule, int branches) { return branches <= rule.shared_above ? branches : 1; }

// Past max_depth a symbol with an `at_max_depth` production offers only that one.
bool at_depth_limit(const Grammar& grammar, const Symbol& symbol, int depth) {
  return depth >= grammar.max_depth && symbol.at_max_depth >= 0;
}

// Roulette-wheel draw of an index with probability proportional to `weights`.
std::size_t draw_weighted(Rng& rng, const std::vector<double>& weights) {
  double total = 0;
  for (double w : weights) total += w;
  double draw = uniform_real(rng) * total;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    draw -= weights[i];
    if (draw < 0) return i;
  }
  return weights.size() - 1;
}

State inner_state(const State& in, const Node& split) {
  State state;
  state.shape = split.out;
  state.fold = in.fold;
  return state;
}

// children: [split, inner..., (merge)]; `inners` of them are derived inner modules.
State merge_state(const State& in, const std::vector<Node>& children, int inners, int branches) {
  State state;
  state.fold = in.fold;
  state.shape = children[1].out;
  for (int i = 1; i < branches; ++i) state.others.push_back(children[1 + (inners == 1 ? 0 : i)].out);
  return state;
}

class Sampler {
 public:
  Sampler(const Grammar& grammar, Rng& rng) : grammar_(grammar), rng_(rng) {}

  bool exhausted() const { return budget_ < 0; }

  bool expand(int symbol_index, const State& in, int depth, int exclude, Node& node) {
    if (--budget_ < 0) return false;
    // Deeper than the parser reads, and a grammar that rarely ends would otherwise recurse until
    // the stack runs out: the attempt is given up like one over its work budget.
    if (depth > kMaxNesting) {
      budget_ = -1;
      return false;
    }
    const Symbol& symbol = grammar_.symbols[symbol_index];
    std::vector<int> options;
    std::vector<double> fixed;
    if (at_depth_limit(grammar_, symbol, depth)) {
      options = {symbol.at_max_depth};
      fixed = {-1};
    } else {
      options = symbol.productions;
      fixed = symbol.probability;
    }
    // Filters first: terminals that cannot take this input never enter the draw.
    std::vector<OpResult> results(options.size());
    std::size_t kept = 0;
    for (std::size_t i = 0; i < options.size(); ++i) {
      if (options[i] == exclude) continue;
      const Production& production = grammar_.productions[options[i]];
      if (production.kind == Kind::terminal) {
        auto result = apply_op(production.op, in, grammar_.limits, nullptr, /*sampling=*/true);
        if (!result) continue;
        results[kept] = std::move(*result);
      }
      options[kept] = options[i];
      fixed[kept] = fixed[i];
      ++kept;
    }
    options.resize(kept);
    fixed.resize(kept);
    results.resize(kept);
    while (!options.empty()) {
      const std::size_t chosen = choose(fixed);
      if (instantiate(options[chosen], symbol_index, in, depth, results[chosen], node)) return true;
      if (exhausted()) return false;
      options.erase(options.begin() + chosen);
      fixed.erase(fixed.begin() + chosen);
      results.erase(results.begin() + chosen);
    }
    return false;
  }

 private:
  // Fixed probabilities as given; the other options share what they leave equally.
  std::size_t choose(const std::vector<double>& fixed) {
    double fixed_total = 0;
    std::size_t shared = 0;
    for (double p : fixed) (p < 0 ? ++shared : (fixed_total += p, 0));
    const double share = shared ? std::max(0.0, 1.0 - fixed_total) / shared : 0.0;
    std::vector<double> weights;
    for (double p : fixed) weights.push_back(p < 0 ? share : p);
    return draw_weighted(rng_, weights);
  }

  bool instantiate(int production_index, int symbol_index, const State& in, int depth, const OpResult& result, Node& node) {
    const Production& production = grammar_.productions[production_index];
    node = Node{};
    node.symbol = symbol_index;
    node.production = production_index;
    node.depth = depth;
    node.in = in;
    switch (production.kind) {
      case Kind::terminal:
        node.out = result.shape;
        node.out_fold = result.fold;
        node.branches = result.branches;
        return true;
      case Kind::sequence:
      case Kind::route:
        for (int child_symbol : production.children) {
          Node child;
          if (!expand(child_symbol, sequence_child_state(production, in, node.children, node.children.size()), depth + 1, -1, child))
            return false;
          node.children.push_back(std::move(child));
        }
        node.out = node.children.back().out;
        return true;
      case Kind::branch: {
        Node split;
        if (!expand(production.children[0], in, depth + 1, -1, split)) return false;
        const int branches = split.branches;
        node.children.push_back(std::move(split));
        const int inners = branch_inner_count(production, branches);
        for (int i = 0; i < inners; ++i) {
          Node inner;
          if (!expand(production.children[1], inner_state(in, node.children[0]), depth + 1, -1, inner)) return false;
          node.children.push_back(std::move(inner));
        }
        Node merge;
        if (!expand(production.children[2], merge_state(in, node.children, inners, branches), depth + 1, -1, merge)) return false;
        node.out = merge.out;
        node.branches = branches;
        node.children.push_back(std::move(merge));
        return true;
      }
    }
    return false;
  }

  const Grammar& grammar_;
  Rng& rng_;
  long budget_ = kExpansionBudget;
};

// ---------------------------------------------------------------------------------------------
// Parsing: text -> skeleton (names and positions) -> bind (slots, shapes, limits).

class Parser {
 public:
  Parser(const Grammar& grammar, const std::string& text) : grammar_(grammar), text_(text) {}

  Node skeleton() {
    skip_space();
    Node root = node();
    skip_space();
    if (at_ < text_.size()) fail(at_, "unexpected '" + std::string(1, text_[at_]) + "' after the derivation");
    return root;
  }

  [[noreturn]] void fail(std::size_t position, const std::string& what) const { throw ParseError(text_, position, what); }

 private:
  void skip_space() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }

  Node node(int nesting = 0) {
    const std::size_t start = at_;
    // Bounded recursion: a pathological string must be an error, not a stack overflow.
    if (nesting > kMaxNesting) fail(start, "nested deeper than " + std::to_string(kMaxNesting) + " levels");
    while (at_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[at_])) || text_[at_] == '_')) ++at_;
    if (at_ == start) fail(start, at_ < text_.size() ? "expected a production name, got '" + std::string(1, text_[at_]) + "'" : "expected a production name, got the end");
    const std::string name = text_.substr(start, at_ - start);
    Node result;
    result.position = start;
    result.production = grammar_.find_production(name);
    if (result.production < 0) fail(start, "'" + name + "' is not a production of grammar " + grammar_.name);
    skip_space();
    if (at_ < text_.size() && text_[at_] == '(') {
      ++at_;
      while (true) {
        skip_space();
        result.children.push_back(node(nesting + 1));
        skip_space();
        if (at_ < text_.size() && text_[at_] == ',') {
          ++at_;
          continue;
        }
        if (at_ < text_.size() && text_[at_] == ')') {
          ++at_;
          break;
        }
        fail(at_, "expected ',' or ')'");
      }
    }
    return result;
  }

  const Grammar& grammar_;
  const std::string& text_;
  std::size_t at_ = 0;
};

class Binder {
 public:
  Binder(const Grammar& grammar, const Parser& parser) : grammar_(grammar), parser_(parser) {}

  void bind(Node& node, int symbol_index, const State& in, int depth) {
    const Symbol& symbol = grammar_.symbols[symbol_index];
    const Production& production = grammar_.productions[node.production];
    node.symbol = symbol_index;
    node.depth = depth;
    node.in = in;
    const bool limited = at_depth_limit(grammar_, symbol, depth);
    const bool listed = limited ? node.production == symbol.at_max_depth
                                : std::count(symbol.productions.begin(), symbol.productions.end(), node.production) > 0 ||
                                      std::count(symbol.also_accepts.begin(), symbol.also_accepts.end(), node.production) > 0;
    if (!listed) {
      if (limited)
        parser_.fail(node.position, "at depth " + std::to_string(depth) + " (the grammar's max_depth) " + symbol.name + " must be " +
                                        grammar_.productions[symbol.at_max_depth].name);
      std::string options;
      for (int index : symbol.productions) options += (options.empty() ? "" : ", ") + grammar_.productions[index].name;
      parser_.fail(node.position, "'" + production.name + "' cannot stand where a " + symbol.name + " is expected (one of: " + options + ")");
    }
    auto arity = [&](std::size_t expected, const std::string& what) {
      if (node.children.size() != expected)
        parser_.fail(node.position, "'" + production.name + "' takes " + what + ", got " + std::to_string(node.children.size()));
    };
    switch (production.kind) {
      case Kind::terminal: {
        arity(0, "no arguments");
        const char* why = "";
        auto result = apply_op(production.op, in, grammar_.limits, &why);
        if (!result) parser_.fail(node.position, "'" + production.name + "' cannot take a " + format_shape(in.shape) + " input: " + why);
        node.out = result->shape;
        node.out_fold = result->fold;
        node.branches = result->branches;
        return;
      }
      case Kind::sequence:
      case Kind::route: {
        arity(production.children.size(), std::to_string(production.children.size()) + " arguments");
        for (std::size_t i = 0; i < node.children.size(); ++i)
          bind(node.children[i], production.children[i], sequence_child_state(production, in, node.children, i), depth + 1);
        node.out = node.children.back().out;
        return;
      }
      case Kind::branch: {
        if (node.children.size() < 3) arity(3, "a split, inner modules and a merge");
        bind(node.children[0], production.children[0], in, depth + 1);
        const int branches = node.children[0].branches;
        const int inners = branch_inner_count(production, branches);
        arity(2 + inners, inners == 1 ? "a split, one inner module (shared by the " + std::to_string(branches) + " branches) and a merge"
                                       : "a split, " + std::to_string(inners) + " inner modules and a merge");
        for (int i = 1; i <= inners; ++i) bind(node.children[i], production.children[1], inner_state(in, node.children[0]), depth + 1);
        bind(node.children.back(), production.children[2], merge_state(in, node.children, inners, branches), depth + 1);
        node.out = node.children.back().out;
        node.branches = branches;
        return;
      }
    }
  }

 private:
  const Grammar& grammar_;
  const Parser& parser_;
};

void print_into(const Grammar& grammar, const Node& node, std::string& out) {
  const Production& production = grammar.productions[node.production];
  out += production.name;
  if (production.kind == Kind::terminal) return;
  out += '(';
  for (std::size_t i = 0; i < node.children.size(); ++i) {
    if (i) out += ", ";
    print_into(grammar, node.children[i], out);
  }
  out += ')';
}

// Visits every node with its multiplicity: a shared inner module stands for k copies.
void visit(const Grammar& grammar, const Node& node, double copies, const std::function<void(const Node&, double)>& fn) {
  fn(node, copies);
  const bool shared = shares_inner(grammar, node);
  for (std::size_t i = 0; i < node.children.size(); ++i)
    visit(grammar, node.children[i], shared && i == 1 ? copies * node.branches : copies, fn);
}

// Why the whole derivation is over the grammar's size guards, or "" when it is within them.
std::string over_limits(const Grammar& grammar, const Node& tree) {
  const Measures measures = measure(grammar, tree, 0);
  auto over = [](const char* what, double value, double limit, const char* option) {
    return "derivation has " + std::to_string(static_cast<long long>(value)) + " " + what + ", above the limit of " +
           std::to_string(static_cast<long long>(limit)) + " (space option " + option + ")";
  };
  if (measures.params > grammar.limits.params) return over("parameters", measures.params, grammar.limits.params, "max_params");
  if (measures.macs > grammar.limits.macs) return over("multiply-accumulates", measures.macs, grammar.limits.macs, "max_macs");
  return "";
}

}  // namespace

bool shares_inner(const Grammar& grammar, const Node& node) {
  const Production& production = grammar.productions[node.production];
  return production.kind == Kind::branch && node.branches > production.shared_above;
}

std::optional<OpResult> apply_op(const Op& op, const State& in, const Limits& limits, const char** why, bool sampling) {
  auto reject = [&](const char* reason) -> std::optional<OpResult> {
    if (why) *why = reason;
    return std::nullopt;
  };
  const Shape& shape = in.shape;
  OpResult result;
  result.shape = shape;
  result.fold = in.fold;
  switch (op.kind) {
    case OpKind::identity:
    case OpKind::norm:
    case OpKind::leaky_relu:
    case OpKind::softmax:
    case OpKind::positional_encoding:
      break;
    case OpKind::clone:
      result.branches = op.copies;
      break;
    case OpKind::group: {
      if (op.dim > static_cast<int>(shape.size())) return reject("the input has no such dimension");
      for (auto d : shape)
        if (d < op.copies) return reject("a dimension is smaller than the number of chunks");
      if (shape[op.dim - 1] % op.copies != 0) return reject("the dimension does not divide into that many chunks");
      result.shape[op.dim - 1] /= op.copies;
      result.branches = op.copies;
      break;
    }
    case OpKind::im2col: {
      if (!is_image(shape)) return reject("im2col needs an image-mode CxHxW input");
      const std::int64_t margin = sampling ? 0 : 2 * op.padding;
      if (shape[1] + margin < op.kernel || shape[2] + margin < op.kernel) return reject("the image is smaller than the kernel");
      const std::int64_t h = (shape[1] + 2 * op.padding - op.kernel) / op.stride + 1;
      const std::int64_t w = (shape[2] + 2 * op.padding - op.kernel) / op.stride + 1;
      result.shape = {h * w, shape[0] * op.kernel * op.kernel};
      result.fold = Fold{h, w};
      break;
    }
    case OpKind::col2im: {
      if (is_image(shape)) return reject("col2im needs a column-mode SxD input");
      if (!in.fold) return reject("there is no enclosing im2col to undo");
      const std::int64_t grid = (*in.fold)[0] * (*in.fold)[1];
      if ((shape[0] * shape[1]) % grid != 0) return reject("the elements do not fill the im2col grid");
      result.shape = {shape[0] * shape[1] / grid, (*in.fold)[0], (*in.fold)[1]};
      break;
    }
    case OpKind::permute:
      if (op.order.size() != shape.size()) return reject("the permutation is for a different number of dimensions");
      for (std::size_t i = 0; i < op.order.size(); ++i) result.shape[i] = shape[op.order[i] - 1];
      break;
    case OpKind::linear:
      if (op.width > 0) {
        result.shape.back() = op.width;
      } else {
        const double width = static_cast<double>(shape.back()) * op.scale;
        if (width < 1 || width != std::floor(width)) return reject("the scaled width is not a whole number");
        result.shape.back() = static_cast<std::int64_t>(width);
      }
      break;
    case OpKind::dot_product: {
      if (in.others.size() != 1) return reject("a dot product needs exactly two branches");
      const Shape& other = in.others[0];
      if (other.size() != shape.size()) return reject("the branches have different ranks");
      if (is_image(shape)) {
        if (shape[0] != other[0] || shape[2] != other[1]) return reject("the branches' shapes do not multiply");
        result.shape = {shape[0], shape[1], other[2]};
      } else {
        if (shape[1] != other[0]) return reject("the branches' shapes do not multiply");
        result.shape = {shape[0], other[1]};
      }
      break;
    }
    case OpKind::add:
      if (in.others.empty()) return reject("a merge needs at least two branches");
      for (const Shape& other : in.others)
        if (other != shape) return reject("the branches' shapes differ");
      break;
    case OpKind::cat: {
      if (in.others.empty()) return reject("a merge needs at least two branches");
      const int inputs = static_cast<int>(in.others.size()) + 1;
      if (inputs > 2 && op.inputs != inputs) return reject("the concatenation is written for a different branch count");
      if (op.dim > static_cast<int>(shape.size())) return reject("the input has no such dimension");
      for (const Shape& other : in.others) {
        if (other.size() != shape.size()) return reject("the branches have different ranks");
        for (std::size_t d = 0; d < shape.size(); ++d)
          if (static_cast<int>(d) != op.dim - 1 && other[d] != shape[d]) return reject("the branches differ outside the concatenated dimension");
        result.shape[op.dim - 1] += other[op.dim - 1];
      }
      break;
    }
  }
  if (numel(result.shape) > limits.activation_elements) return reject("the output would exceed the activation limit (space option max_activation)");
  return result;
}

Node sample(const Grammar& grammar, const Shape& input, Rng& rng) {
  State in;
  in.shape = input;
  for (int attempt = 0; attempt < kSampleRestarts; ++attempt) {
    Sampler sampler(grammar, rng);
    Node root;
    if (!sampler.expand(grammar.start, in, 0, -1, root)) continue;
    if (!over_limits(grammar, root).empty()) continue;
    return root;
  }
  throw Error("grammar " + grammar.name + ": found no valid derivation for a " + format_shape(input) + " input in " +
              std::to_string(kSampleRestarts) + " attempts");
}

Node parse(const Grammar& grammar, const std::string& text, const Shape& input) {
  std::string trimmed = text;
  trimmed.erase(0, trimmed.find_first_not_of(" \t\n"));
  if (!trimmed.empty() && trimmed[0] == '@') {
    const std::string name = trimmed.substr(1, trimmed.find_last_not_of(" \t\n"));
    auto found = grammar.seeds.find(name);
    if (found == grammar.seeds.end()) {
      std::string names;
      for (const auto& [seed, unused] : grammar.seeds) names += (names.empty() ? "" : ", ") + seed;
      throw ParseError(text, 0, "no seed architecture named '" + name + "' (known: " + names + ")");
    }
    return parse(grammar, found->second, input);
  }
  Parser parser(grammar, text);
  Node root = parser.skeleton();
  State in;
  in.shape = input;
  Binder(grammar, parser).bind(root, grammar.start, in, 0);
  const std::string over = over_limits(grammar, root);
  if (!over.empty()) throw Error(over);
  return root;
}

std::string print(const Grammar& grammar, const Node& tree) {
  std::string out;
  print_into(grammar, tree, out);
  return out;
}

Node mutate(const Grammar& grammar, const Node& tree, const Shape& input, Rng& rng) {
  const std::string original = print(grammar, tree);
  for (int attempt = 0; attempt < kMutationAttempts; ++attempt) {
    // Pre-order numbering where each shared copy counts: pick the node, then find it by path.
    struct Entry {
      std::vector<std::size_t> path;
      double copies;
    };
    std::vector<Entry> entries;
    std::function<void(const Node&, std::vector<std::size_t>&, double)> collect = [&](const Node& node, std::vector<std::size_t>& path,
                                                                                       double copies) {
      entries.push_back({path, copies});
      const bool shared = shares_inner(grammar, node);
      for (std::size_t i = 0; i < node.children.size(); ++i) {
        path.push_back(i);
        collect(node.children[i], path, shared && i == 1 ? copies * node.branches : copies);
        path.pop_back();
      }
    };
    std::vector<std::size_t> path;
    collect(tree, path, 1.0);
    std::vector<double> weights;
    for (const auto& entry : entries) weights.push_back(entry.copies);
    const std::size_t chosen = draw_weighted(rng, weights);
    Node child = tree;
    Node* target = &child;
    for (std::size_t step : entries[chosen].path) target = &target->children[step];
    Sampler sampler(grammar, rng);
    Node replacement;
    if (!sampler.expand(target->symbol, target->in, target->depth, target->production, replacement)) continue;
    *target = std::move(replacement);
    const std::string text = print(grammar, child);
    if (text == original) continue;
    // Shapes downstream of the change may no longer fit: re-derive every state from the root.
    try {
      return parse(grammar, text, input);
    } catch (const Error&) {
    }
  }
  throw Error("grammar " + grammar.name + ": found no valid mutation of '" + original.substr(0, 80) + "...' in " +
              std::to_string(kMutationAttempts) + " attempts");
}

const Node* convolution_linear(const Grammar& grammar, const Node& route) {
  if (grammar.productions[route.production].kind != Kind::route || route.children.size() != 3) return nullptr;
  auto op_of = [&](const Node& node) -> const Op* {
    const Production& production = grammar.productions[node.production];
    return production.kind == Kind::terminal ? &production.op : nullptr;
  };
  const Op* first = op_of(route.children[0]);
  const Op* last = op_of(route.children[2]);
  if (!first || !last || first->kind != OpKind::im2col || last->kind != OpKind::col2im) return nullptr;
  const Node* middle = &route.children[1];
  while (grammar.productions[middle->production].kind == Kind::sequence && middle->children.size() == 1) middle = &middle->children[0];
  const Op* op = op_of(*middle);
  return op && op->kind == OpKind::linear ? middle : nullptr;
}

Measures measure(const Grammar& grammar, const Node& tree, std::int64_t num_classes) {
  Measures m;
  visit(grammar, tree, 1.0, [&](const Node& node, double copies) {
    const Production& production = grammar.productions[node.production];
    m.nodes += static_cast<int>(copies);
    m.depth = std::max(m.depth, node.depth);
    if (production.kind == Kind::route && convolution_linear(grammar, node)) m.convolutions += static_cast<int>(copies);
    if (production.kind != Kind::terminal) return;
    m.terminals += static_cast<int>(copies);
    m.max_activation = std::max(m.max_activation, numel(node.out));
    const Shape& in = node.in.shape;
    switch (production.op.kind) {
      case OpKind::linear: {
        const double fan_in = static_cast<double>(in.back()), fan_out = static_cast<double>(node.out.back());
        m.params += copies * (fan_in * fan_out + fan_out);
        m.macs += copies * numel(in) * fan_out;
        break;
      }
      case OpKind::norm:
        m.params += copies * 2.0 * static_cast<double>(is_image(in) ? in[0] : in.back());
        break;
      case OpKind::positional_encoding:
        m.params += copies * numel(in);
        break;
      case OpKind::dot_product:
        m.macs += copies * numel(node.out) * static_cast<double>(in.back());
        break;
      default:
        break;
    }
  });
  // The classifier: pooled channels (image mode) or tokens averaged over features (column mode).
  const double pooled = static_cast<double>(tree.out[0]);
  m.params += pooled * num_classes + num_classes;
  m.macs += pooled * num_classes;
  return m;
}

std::string tree_text(const Grammar& grammar, const Node& tree) {
  std::string out;
  std::function<void(const Node&, const std::string&, bool, bool)> line = [&](const Node& node, const std::string& prefix, bool last,
                                                                              bool root) {
    const Production& production = grammar.productions[node.production];
    std::string label = (root ? "" : prefix + (last ? "`- " : "|- ")) + production.name;
    if (shares_inner(grammar, node))
      label += " (" + std::to_string(node.branches) + " copies of one inner module)";
    if (convolution_linear(grammar, node)) label += " = conv";
    const std::string shapes = format_shape(node.in.shape) + " -> " + format_shape(node.out);
    out += label + std::string(label.size() < 64 ? 64 - label.size() : 1, ' ') + shapes + "\n";
    const std::string child_prefix = root ? "" : prefix + (last ? "   " : "|  ");
    for (std::size_t i = 0; i < node.children.size(); ++i) line(node.children[i], child_prefix, i + 1 == node.children.size(), false);
  };
  line(tree, "", true, true);
  return out;
}

std::string tree_dot(const Grammar& grammar, const Node& tree, std::size_t max_nodes) {
  std::ostringstream out;
  out << "digraph derivation {\nnode [shape=box];\n";
  std::size_t count = 0;
  std::function<std::size_t(const Node&)> emit = [&](const Node& node) -> std::size_t {
    const std::size_t id = count++;
    if (count > max_nodes) throw Error("derivation of more than " + std::to_string(max_nodes) + " nodes: too large to draw");
    const Production& production = grammar.productions[node.production];
    std::string label = production.name;
    if (production.kind == Kind::terminal) label += "\n" + format_shape(node.out);
    if (shares_inner(grammar, node)) label += "\n(" + std::to_string(node.branches) + " copies)";
    out << id << " [label=" << dot_id(label) << (production.kind == Kind::terminal ? "" : ", fillcolor=\"#ffffff\"") << "];\n";
    for (const Node& child : node.children) {
      const std::size_t child_id = emit(child);  // writes the child's own statements first
      out << id << " -> " << child_id << ";\n";
    }
    return id;
  };
  emit(tree);
  out << "}\n";
  return out.str();
}

std::vector<double> terminal_counts(const Grammar& grammar, const Node& tree) {
  std::vector<int> column(grammar.productions.size(), -1);
  int columns = 0;
  for (std::size_t i = 0; i < grammar.productions.size(); ++i)
    if (grammar.productions[i].kind == Kind::terminal) column[i] = columns++;
  std::vector<double> counts(columns, 0.0);
  visit(grammar, tree, 1.0, [&](const Node& node, double copies) {
    if (column[node.production] >= 0) counts[column[node.production]] += copies;
  });
  return counts;
}

}  // namespace nascent::grammar
