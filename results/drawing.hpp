#pragma once
// Architecture drawings for the report: Graphviz lays a DOT graph out and renders it as SVG.
#include <string>

namespace nascent {

// The SVG of `dot` (a Graphviz digraph, e.g. graph_to_dot's) laid out by Graphviz's dot engine,
// top to bottom, with the report's node style. Throws nascent::Error when Graphviz rejects the
// graph. Graphviz keeps global state: calls are serialised inside.
std::string dot_to_svg(const std::string& dot);

}  // namespace nascent
