#include "core/graph.hpp"

#include <algorithm>
#include <boost/graph/graphviz.hpp>
#include <boost/graph/topological_sort.hpp>
#include <cstdio>
#include <sstream>
#include <vector>

#include "core/error.hpp"

namespace nascent {

GraphVertex add_op(ArchGraph& graph, const std::string& op, bool commutative) {
  return boost::add_vertex(OpVertex{op, commutative}, graph);
}

void add_data_edge(ArchGraph& graph, GraphVertex from, GraphVertex to, int slot) {
  boost::add_edge(from, to, DataEdge{slot}, graph);
}

std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

static std::string hex16(std::uint64_t value) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(value));
  return buffer;
}

static std::vector<GraphVertex> topological_order(const ArchGraph& graph) {
  std::vector<GraphVertex> reversed;
  try {
    boost::topological_sort(graph, std::back_inserter(reversed));
  } catch (const boost::not_a_dag&) {
    throw Error("architecture graph has a cycle");
  }
  return {reversed.rbegin(), reversed.rend()};
}

std::string canonical_expression(const ArchGraph& graph) {
  constexpr std::size_t kMaxInline = 4096;
  std::vector<std::string> expr(boost::num_vertices(graph));
  for (GraphVertex v : topological_order(graph)) {
    std::vector<std::pair<int, std::string>> inputs;
    for (auto [e, end] = boost::in_edges(v, graph); e != end; ++e)
      inputs.emplace_back(graph[*e].slot, expr[boost::source(*e, graph)]);
    const OpVertex& vertex = graph[v];
    std::string text;
    if (inputs.empty()) {
      text = vertex.op;
    } else if (vertex.commutative) {
      // A sum of one term is that term; otherwise the sorted '+' join. This is the convention
      // behind NAS-Bench-201's count of 6,466 unique cells.
      std::vector<std::string> terms;
      for (auto& input : inputs) terms.push_back(input.second);
      std::sort(terms.begin(), terms.end());
      for (std::size_t i = 0; i < terms.size(); ++i) text += (i ? "+" : "") + terms[i];
    } else {
      std::stable_sort(inputs.begin(), inputs.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      text = "(";
      for (std::size_t i = 0; i < inputs.size(); ++i) text += (i ? "," : "") + inputs[i].second;
      text += ")@" + vertex.op;
    }
    if (text.size() > kMaxInline) text = "#" + hex16(fnv1a(text));
    expr[v] = std::move(text);
  }
  // Vertices labelled "output" are the graph's outputs; without any, every sink is one.
  bool has_output = false;
  for (auto [v, end] = boost::vertices(graph); v != end; ++v) has_output = has_output || graph[*v].op == "output";
  std::vector<std::string> sinks;
  for (auto [v, end] = boost::vertices(graph); v != end; ++v) {
    const bool is_output = has_output ? graph[*v].op == "output"
                                      : boost::out_degree(*v, graph) == 0 && boost::in_degree(*v, graph) > 0;
    if (is_output) sinks.push_back(expr[*v]);
  }
  std::sort(sinks.begin(), sinks.end());
  std::string result;
  for (std::size_t i = 0; i < sinks.size(); ++i) result += (i ? ";" : "") + sinks[i];
  return result;
}

std::string fingerprint(const ArchGraph& graph) { return hex16(fnv1a(canonical_expression(graph))); }

std::map<std::string, double> graph_features(const ArchGraph& graph) {
  std::map<std::string, double> features;
  std::vector<int> depth(boost::num_vertices(graph), 0);
  int longest = 0;
  for (GraphVertex v : topological_order(graph)) {
    features["op:" + graph[v].op] += 1;
    for (auto [e, end] = boost::out_edges(v, graph); e != end; ++e) {
      GraphVertex w = boost::target(*e, graph);
      depth[w] = std::max(depth[w], depth[v] + 1);
      longest = std::max(longest, depth[w]);
    }
  }
  features["vertices"] = static_cast<double>(boost::num_vertices(graph));
  features["edges"] = static_cast<double>(boost::num_edges(graph));
  features["depth"] = longest;
  return features;
}

std::string graph_to_dot(const ArchGraph& graph) {
  std::ostringstream out;
  const auto vertex_label = [&graph](std::ostream& os, GraphVertex v) {
    os << "[label=" << boost::escape_dot_string(graph[v].op) << "]";
  };
  const auto edge_label = [&graph](std::ostream& os, const boost::graph_traits<ArchGraph>::edge_descriptor& e) {
    const GraphVertex target = boost::target(e, graph);
    if (!graph[target].commutative && boost::in_degree(target, graph) > 1) os << "[label=" << graph[e].slot << "]";
  };
  boost::write_graphviz(out, graph, vertex_label, edge_label);
  return out.str();
}

std::string dot_id(const std::string& text) { return boost::escape_dot_string(text); }

std::string graph_to_text(const ArchGraph& graph) {
  std::ostringstream out;
  for (auto [v, end] = boost::vertices(graph); v != end; ++v) {
    out << *v << ' ' << graph[*v].op;
    bool first = true;
    for (auto [e, eend] = boost::in_edges(*v, graph); e != eend; ++e) {
      out << (first ? " <- " : ", ") << boost::source(*e, graph);
      first = false;
    }
    out << '\n';
  }
  return out.str();
}

}  // namespace nascent
