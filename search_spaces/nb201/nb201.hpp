#pragma once
#include <array>
#include <string>

#include "core/config.hpp"
#include "core/options.hpp"
#include "core/search_space.hpp"

namespace nascent {

// NAS-Bench-201 (Dong & Yang, ICLR 2020): a cell of 4 nodes and 6 edges, each edge one of five
// operations, stacked in a fixed macro network (stem, 3 stages of N cells at C, 2C, 4C channels
// joined by residual reduction blocks, BN-ReLU, global pooling, linear head).
class Nb201Space : public SearchSpace, public CellSupernetSpace, public CrossoverSpace {
 public:
  std::string cell_supernet() const override { return "nb201_cell"; }
  static constexpr int kEdges = 6;
  static constexpr int kNumOps = 5;
  static const std::array<const char*, kNumOps> kOps;  // none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3
  // Edge e connects kEdgeFrom[e] -> kEdgeTo[e], in the string's order (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2).
  static const std::array<int, kEdges> kEdgeFrom;
  static const std::array<int, kEdges> kEdgeTo;
  using Cell = std::array<int, kEdges>;  // op index per edge

  explicit Nb201Space(int channels = 16, int cells_per_stage = 5);
  // From the options declared in search_spaces/builtin.cpp.
  static std::unique_ptr<SearchSpace> from_options(const Options& options);

  std::string name() const override { return "nb201"; }
  std::string sample(Rng& rng) const override;
  std::string mutate(const std::string& arch, Rng& rng) const override;
  // Uniform crossover: each edge's operation from either parent with probability 1/2.
  std::string crossover(const std::string& a, const std::string& b, Rng& rng) const override;
  std::string canonical(const std::string& text) const override;
  std::vector<double> encode(const std::string& arch) const override;
  ArchGraph graph(const std::string& arch) const override;
  Description describe(const std::string& arch, const Task& task) const override;
  std::shared_ptr<Network> build(const std::string& arch, const Task& task) const override;
  std::vector<std::string> enumerate() const override;

  static Cell parse(const std::string& text);
  static std::string print(const Cell& cell);

  int channels() const { return channels_; }
  int cells_per_stage() const { return cells_per_stage_; }

 private:
  int channels_;
  int cells_per_stage_;
};

}  // namespace nascent
