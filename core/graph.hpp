#pragma once
#include <boost/graph/adjacency_list.hpp>
#include <cstdint>
#include <map>
#include <string>

namespace nascent {

// A computation graph: vertices are operations (or tensors such as the input), edges carry data.
// Spaces build this view from an architecture; it is what fingerprints and graph features use.
struct OpVertex {
  std::string op;
  // Commutative vertices (sums) ignore input order; the others take inputs by edge `slot`.
  bool commutative = false;
};

struct DataEdge {
  int slot = 0;
};

using ArchGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, OpVertex, DataEdge>;
using GraphVertex = boost::graph_traits<ArchGraph>::vertex_descriptor;

GraphVertex add_op(ArchGraph& graph, const std::string& op, bool commutative = false);
void add_data_edge(ArchGraph& graph, GraphVertex from, GraphVertex to, int slot = 0);

// Canonical form of the function the graph computes: every output (the vertices labelled
// "output", or else every sink) is expanded into an expression of its inputs (sorted for
// commutative vertices), so isomorphic graphs, and graphs that differ only in parts that cannot
// reach an output, print the same. Long sub-expressions are replaced
// by their digest to keep deep graphs linear in size. Throws nascent::Error on a cycle.
std::string canonical_expression(const ArchGraph& graph);

// 16 hex digits derived from canonical_expression (FNV-1a, stable across platforms and runs).
std::string fingerprint(const ArchGraph& graph);

// Counts of each op label, plus "vertices", "edges" and "depth" (longest path in edges).
std::map<std::string, double> graph_features(const ArchGraph& graph);

// Human-readable listing: one line per vertex, "id op <- inputs".
std::string graph_to_text(const ArchGraph& graph);

// Graphviz DOT (Boost.Graph's writer): vertices labelled with their op, edges into a vertex that
// takes ordered inputs labelled with their slot. `dot -Tsvg` draws it.
std::string graph_to_dot(const ArchGraph& graph);
// `text` as a DOT identifier: unchanged when it is one, else quoted with its quotes escaped.
std::string dot_id(const std::string& text);

std::uint64_t fnv1a(const std::string& text);

}  // namespace nascent
