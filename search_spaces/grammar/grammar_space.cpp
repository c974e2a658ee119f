#include "search_spaces/grammar/grammar_space.hpp"

#include <cmath>
#include <functional>

#include "core/error.hpp"
#include "core/input_shape.hpp"
#include "search_spaces/grammar/grammar_network.hpp"

namespace nascent {

using grammar::Kind;
using grammar::Node;
using grammar::OpKind;

grammar::Grammar apply_space_options(grammar::Grammar grammar, const Options& options, grammar::Shape& input) {
  const Config& section = options.config();
  if (options.given("input")) {
    if (section.node()["input"].IsSequence()) {
      const auto dims = section.get<std::vector<int>>("input");
      input.assign(dims.begin(), dims.end());
    } else {
      input = parse_input_shape(section.get<std::string>("input"), "config: " + section.full("input"));
    }
  }
  if (input.size() != 2 && input.size() != 3)
    throw Error("config: " + section.full("input") + ": expected CxHxW (image) or SxD (sequence), got " + format_shape(input));
  for (auto d : input)
    if (d < 1) throw Error("config: " + section.full("input") + ": dimensions must be positive");
  grammar.limits.params = options.maybe<double>("max_params").value_or(grammar.limits.params);
  grammar.limits.activation_elements = options.maybe<double>("max_activation").value_or(grammar.limits.activation_elements);
  grammar.max_depth = options.maybe<int>("max_depth").value_or(grammar.max_depth);
  grammar.limits.macs = options.maybe<double>("max_macs").value_or(grammar.limits.macs);
  if (!(grammar.limits.macs > 0)) throw Error("config: " + section.full("max_macs") + ": must be positive");
  if (!(grammar.limits.params > 0)) throw Error("config: " + section.full("max_params") + ": must be positive");
  if (!(grammar.limits.activation_elements > 0)) throw Error("config: " + section.full("max_activation") + ": must be positive");
  if (grammar.max_depth < 2) throw Error("config: " + section.full("max_depth") + ": must be at least 2");
  return grammar;
}

GrammarSpace::GrammarSpace(std::string name, grammar::Grammar grammar, const Options& options)
    : name_(std::move(name)), input_{1, 28, 28} {
  grammar_ = apply_space_options(std::move(grammar), options, input_);
}

std::unique_ptr<SearchSpace> GrammarSpace::from_options(const Options& options) {
  grammar::Grammar grammar = grammar::Grammar::load(options.get<std::string>("file"));
  const std::string name = grammar.name;
  return std::make_unique<GrammarSpace>(name, std::move(grammar), options);
}

std::string GrammarSpace::sample(Rng& rng) const { return grammar::print(grammar_, grammar::sample(grammar_, input_, rng)); }

std::string GrammarSpace::mutate(const std::string& arch, Rng& rng) const {
  return grammar::print(grammar_, grammar::mutate(grammar_, parse(arch), input_, rng));
}

std::string GrammarSpace::canonical(const std::string& text) const { return grammar::print(grammar_, parse(text)); }

std::vector<double> GrammarSpace::encode(const std::string& arch) const {
  const Node tree = parse(arch);
  std::vector<double> features = grammar::terminal_counts(grammar_, tree);
  const grammar::Measures m = grammar::measure(grammar_, tree, 1);
  features.push_back(m.nodes);
  features.push_back(m.depth);
  features.push_back(m.convolutions);
  features.push_back(std::log10(1 + m.params));
  features.push_back(std::log10(1 + m.macs));
  return features;
}

namespace {

// Data flow: identities vanish (so equivalent derivations share a fingerprint), clones fan out
// the same tensor, group chunks are distinct vertices, merges take their inputs by slot.
GraphVertex add_to_graph(const grammar::Grammar& g, const Node& node, ArchGraph& graph, GraphVertex input) {
  const grammar::Production& production = g.productions[node.production];
  switch (production.kind) {
    case Kind::terminal: {
      if (production.op.kind == OpKind::identity) return input;
      const GraphVertex vertex = add_op(graph, production.name);
      add_data_edge(graph, input, vertex);
      return vertex;
    }
    case Kind::sequence:
    case Kind::route:
      for (const Node& child : node.children) input = add_to_graph(g, child, graph, input);
      return input;
    case Kind::branch: {
      const Node& split = node.children.front();
      const grammar::Op& split_op = g.productions[split.production].op;
      const grammar::Op& merge_op = g.productions[node.children.back().production].op;
      const GraphVertex merge = add_op(graph, g.productions[node.children.back().production].name, merge_op.kind == OpKind::add);
      const bool shared = grammar::shares_inner(g, node);
      for (int i = 0; i < node.branches; ++i) {
        GraphVertex source = input;
        if (split_op.kind == OpKind::group) {
          source = add_op(graph, g.productions[split.production].name + "[" + std::to_string(i) + "]");
          add_data_edge(graph, input, source);
        }
        const GraphVertex out = add_to_graph(g, node.children[shared ? 1 : 1 + i], graph, source);
        add_data_edge(graph, out, merge, i);
      }
      return merge;
    }
  }
  return input;
}

ArchGraph graph_of(const grammar::Grammar& grammar, const Node& tree) {
  ArchGraph graph;
  const GraphVertex input = add_op(graph, "input");
  const GraphVertex out = add_to_graph(grammar, tree, graph, input);
  const GraphVertex head = add_op(graph, "head");
  add_data_edge(graph, out, head);
  const GraphVertex output = add_op(graph, "output");
  add_data_edge(graph, head, output);
  return graph;
}

}  // namespace

ArchGraph GrammarSpace::graph(const std::string& arch) const { return graph_of(grammar_, parse(arch)); }

Node GrammarSpace::parse_for(const std::string& arch, const Task& task) const {
  // A derivation is checked for the shape it will run on, which may differ from the space's.
  if (task.input_shape == input_) return parse(arch);
  return grammar::parse(grammar_, arch, task.input_shape);
}

Description GrammarSpace::describe(const std::string& arch, const Task& task) const {
  const Node tree = parse_for(arch, task);
  const grammar::Measures m = grammar::measure(grammar_, tree, task.num_classes);
  Description d;
  d.params = m.params;
  d.flops = m.macs;
  d.graph = graph_of(grammar_, tree);
  d.extra["nodes"] = m.nodes;
  d.extra["depth"] = m.depth;
  d.extra["terminals"] = m.terminals;
  d.extra["convolutions"] = m.convolutions;
  d.extra["max_activation"] = m.max_activation;
  return d;
}

std::shared_ptr<Network> GrammarSpace::build(const std::string& arch, const Task& task) const {
  return grammar::build_network(grammar_, parse_for(arch, task), task.num_classes);
}

std::string GrammarSpace::explain(const std::string& arch, const Task& task) const {
  return grammar::tree_text(grammar_, parse_for(arch, task));
}

}  // namespace nascent
