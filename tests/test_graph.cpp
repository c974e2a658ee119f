#include <gtest/gtest.h>

#include <algorithm>

#include "core/graph.hpp"

namespace nascent {
namespace {

ArchGraph diamond(const std::string& left, const std::string& right) {
  ArchGraph g;
  auto in = add_op(g, "input");
  auto a = add_op(g, left);
  auto b = add_op(g, right);
  auto sum = add_op(g, "add", true);
  add_data_edge(g, in, a);
  add_data_edge(g, in, b);
  add_data_edge(g, a, sum);
  add_data_edge(g, b, sum);
  return g;
}

TEST(Graph, FingerprintIgnoresBranchOrderOfCommutativeVertices) {
  EXPECT_EQ(fingerprint(diamond("conv", "pool")), fingerprint(diamond("pool", "conv")));
  EXPECT_NE(fingerprint(diamond("conv", "pool")), fingerprint(diamond("conv", "conv")));
}

TEST(Graph, NonCommutativeInputsKeepTheirSlots) {
  auto make = [](int first_slot) {
    ArchGraph g;
    auto in = add_op(g, "input");
    auto a = add_op(g, "conv");
    auto cat = add_op(g, "concat");
    add_data_edge(g, in, a);
    add_data_edge(g, in, cat, first_slot);
    add_data_edge(g, a, cat, 1 - first_slot);
    return g;
  };
  EXPECT_NE(fingerprint(make(0)), fingerprint(make(1)));
}

TEST(Graph, DotNamesEveryOpAndEdgeAndLabelsOrderedInputsOnly) {
  ArchGraph g = diamond("conv \"3x3\"", "pool");
  auto cat = add_op(g, "concat");
  add_data_edge(g, 3, cat, 1);
  add_data_edge(g, 1, cat, 0);
  const std::string dot = graph_to_dot(g);
  EXPECT_EQ(dot.rfind("digraph G {", 0), 0u) << dot;
  EXPECT_NE(dot.find("0[label=input]"), std::string::npos) << dot;
  EXPECT_NE(dot.find("1[label=\"conv \\\"3x3\\\"\"]"), std::string::npos) << dot;  // quotes escaped
  EXPECT_NE(dot.find("3->4 [label=1]"), std::string::npos) << dot;                     // concat takes slots
  EXPECT_NE(dot.find("1->4 [label=0]"), std::string::npos) << dot;
  EXPECT_NE(dot.find("1->3 ;"), std::string::npos) << dot;                             // the sum does not
  EXPECT_EQ(std::count(dot.begin(), dot.end(), '>'), 6) << dot;                         // every edge once
}

TEST(Graph, BranchesThatCannotReachTheOutputDoNotCount) {
  ArchGraph g = diamond("conv", "pool");
  auto out = add_op(g, "output");
  add_data_edge(g, 3, out);
  const std::string before = fingerprint(g);
  auto dangling = add_op(g, "conv");
  add_data_edge(g, 0, dangling);
  auto dead_end = add_op(g, "pool");
  add_data_edge(g, dangling, dead_end);
  EXPECT_EQ(fingerprint(g), before);
  // Without an explicit output every sink is one, so the same branch now changes the function.
  g[out].op = "softmax";
  EXPECT_NE(fingerprint(g), before);
  EXPECT_EQ(graph_features(g).at("depth"), 3);
}

}  // namespace
}  // namespace nascent
