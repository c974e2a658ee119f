#pragma once
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/options.hpp"
#include "core/search_space.hpp"

namespace nascent {

// A DARTS genotype: per cell type, two (operation, input) pairs for each intermediate node, in node
// order; input 0 and 1 are the cell's two inputs (outputs of the cells two back and one back),
// input k >= 2 is intermediate node k - 2. `concat` lists the states the cell outputs.
struct DartsGenotype {
  struct Edge {
    int op = 0;     // index into kDartsOps (never 0, `none`)
    int input = 0;
    bool operator<(const Edge& other) const { return input != other.input ? input < other.input : op < other.op; }
    bool operator==(const Edge& other) const { return input == other.input && op == other.op; }
  };
  std::vector<Edge> normal, reduce;
  std::vector<int> normal_concat, reduce_concat;
};

// The DARTS CNN space (Liu et al., ICLR 2019): architectures are genotypes written exactly as the
// reference code prints them,
//   Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], normal_concat=[2, 3, 4, 5],
//            reduce=[...], reduce_concat=[2, 3, 4, 5])
// (`range(2, 6)` is read too). canonical() orders each node's two edges by (input, operation).
// build() is the reference's evaluation network (NetworkCIFAR) without the auxiliary head and drop
// path: stem conv3x3 to 3C + BN, `layers` cells with reduction cells at layers/3 and 2 layers/3
// (channels doubled), global pooling, linear classifier.
class DartsSpace : public SearchSpace, public CellSupernetSpace {
 public:
  std::string cell_supernet() const override { return "darts_cell"; }
  explicit DartsSpace(int channels = 16, int layers = 8, int steps = 4);
  // From the options declared in search_spaces/builtin.cpp.
  static std::unique_ptr<SearchSpace> from_options(const Options& options);

  std::string name() const override { return "darts"; }
  std::string sample(Rng& rng) const override;
  std::string mutate(const std::string& arch, Rng& rng) const override;
  std::string canonical(const std::string& text) const override;
  // Per cell type, node and predecessor, a count per operation (2 x 14 x 7 for 4 steps), then the
  // concat masks.
  std::vector<double> encode(const std::string& arch) const override;
  ArchGraph graph(const std::string& arch) const override;
  // params: the built network's; flops: multiply-accumulates of convolutions and the classifier.
  Description describe(const std::string& arch, const Task& task) const override;
  std::shared_ptr<Network> build(const std::string& arch, const Task& task) const override;

  DartsGenotype parse(const std::string& text) const;
  static std::string print(const DartsGenotype& genotype);

  int channels() const { return channels_; }
  int layers() const { return layers_; }
  int steps() const { return steps_; }

 private:
  int channels_, layers_, steps_;
};

}  // namespace nascent
