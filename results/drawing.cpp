#include "results/drawing.hpp"

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include <memory>
#include <mutex>

#include "core/error.hpp"

namespace nascent {

namespace {

// Graphviz's context and its plugin list are process-wide and not thread-safe; `serve` draws from
// its request threads.
std::mutex& graphviz_mutex() {
  static std::mutex mutex;
  return mutex;
}

GVC_t* graphviz_context() {
  static GVC_t* context = gvContext();
  return context;
}

// The report's look, placed before the graph's own statements so that they still override it.
std::string styled(const std::string& dot) {
  const std::size_t open = dot.find('{');
  if (open == std::string::npos) throw Error("drawing: not a Graphviz graph (no '{')");
  return dot.substr(0, open + 1) +
         "\ngraph [rankdir=TB, bgcolor=transparent, nodesep=0.25, ranksep=0.3, fontname=\"Helvetica\"];\n"
         "node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", color=\"#4c78a8\", fontname=\"Helvetica\", fontsize=10, height=0.3];\n"
         "edge [color=\"#666666\", arrowsize=0.6, fontname=\"Helvetica\", fontsize=9];\n" +
         dot.substr(open + 1);
}

}  // namespace

std::string dot_to_svg(const std::string& dot) {
  const std::string text = styled(dot);
  const std::lock_guard<std::mutex> lock(graphviz_mutex());
  GVC_t* context = graphviz_context();
  if (!context) throw Error("drawing: Graphviz could not start (gvContext failed)");
  const std::unique_ptr<Agraph_t, int (*)(Agraph_t*)> graph(agmemread(text.c_str()), &agclose);
  if (!graph) throw Error("drawing: Graphviz could not read the graph");
  if (gvLayout(context, graph.get(), "dot") != 0) throw Error("drawing: Graphviz's dot layout failed");
  char* data = nullptr;
  unsigned int length = 0;
  const int rendered = gvRenderData(context, graph.get(), "svg", &data, &length);
  std::string svg = rendered == 0 && data ? std::string(data, length) : std::string();
  gvFreeRenderData(data);
  gvFreeLayout(context, graph.get());
  if (svg.empty()) throw Error("drawing: Graphviz could not render SVG");
  // The page inlines the drawing: the XML prologue and DOCTYPE belong to standalone files only.
  const std::size_t start = svg.find("<svg");
  return start == std::string::npos ? svg : svg.substr(start);
}

}  // namespace nascent
