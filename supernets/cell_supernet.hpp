#pragma once
// Mixed-operation cell supernets for differentiable search (DARTS, RARTS): every edge of a cell
// computes the softmax(alpha)-weighted sum of all candidate operations.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/network.hpp"
#include "core/search_space.hpp"

namespace nascent {

// The architecture weights are kept outside the module (they are not in parameters()), so that
// optimisers of network weights never touch them and two supernets (RARTS's w and y) can share
// one set: forward() reads the tensors last given to set_alphas().
class CellSupernet : public Network {
 public:
  // One tensor per cell type (NB201: one shared by every cell; DARTS: normal, reduce), each
  // edges x operations, drawn as 1e-3 * N(0, 1) like the reference code.
  virtual std::vector<torch::Tensor> initial_alphas(at::Generator& generator) const = 0;
  void set_alphas(std::vector<torch::Tensor> alphas);
  const std::vector<torch::Tensor>& alphas() const { return alphas_; }

  // The discretised architecture, in the string format of space_name()'s space.
  virtual std::string genotype(const std::vector<torch::Tensor>& alphas) const = 0;
  virtual std::string space_name() const = 0;
  // The operations of the genotype's kept edges, in order.
  virtual std::vector<std::string> kept_ops(const std::vector<torch::Tensor>& alphas) const = 0;
  // Labels for logging: per alpha tensor ("cell"; "normal", "reduce"), per row ("1<-0": edge
  // into node 1 from node 0), per column (operation names, in the space's order).
  virtual std::vector<std::string> alpha_names() const = 0;
  virtual std::vector<std::string> edge_names() const = 0;
  virtual std::vector<std::string> op_names() const = 0;

 protected:
  std::vector<torch::Tensor> alphas_;
};

// The supernet for `space` ("nb201" or "darts") with the `supernet` options of a strategy config:
//   nb201: channels (16), cells_per_stage (5)              (NAS-Bench-201's TinyNetworkDarts)
//   darts: channels (16), layers (8), steps (4), multiplier (4), stem_multiplier (3)
// The stem reads task.input_shape's channels, so 1x28x28 Fashion-MNIST needs no resizing.
// Unknown spaces and options are one-line Errors.
std::shared_ptr<CellSupernet> make_cell_supernet(const std::string& space, const Config& options, const Task& task);
// The same for any space that implements CellSupernetSpace (core/search_space.hpp).
std::shared_ptr<CellSupernet> make_cell_supernet(const SearchSpace& space, const Config& options, const Task& task);

// Shares of the derived genotype and of the softmaxed alphas that are skip_connect: the fraction
// of kept edges whose operation is skip_connect, and the mean softmax weight of skip_connect
// over all edges.
struct SkipShare {
  double genotype_share = 0;
  double alpha_weight = 0;
};
SkipShare skip_share(const CellSupernet& supernet, const std::vector<torch::Tensor>& alphas);

}  // namespace nascent
