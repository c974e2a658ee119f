#include "supernets/cell_supernet.hpp"

#include "core/error.hpp"
#include "core/registry.hpp"

namespace nascent {

std::shared_ptr<CellSupernet> make_nb201_supernet(const Options& options, const Task& task);
std::shared_ptr<CellSupernet> make_darts_supernet(const Options& options, const Task& task);

namespace {

void check_image_task(const Task& task) {
  if (task.input_shape.size() != 3) throw Error("supernet: input shape must be channels x height x width (an image task)");
}

}  // namespace

void register_builtin_supernets(Registries& registries) {
  registries.supernets.add("nb201_cell", "NAS-Bench-201's one-shot cell network (AutoDL's TinyNetworkDarts): 6 edges x 5 operations",
                           OptionTable()
                               .integer("channels", 16, "channels of the first stage").at_least(1)
                               .integer("cells_per_stage", 5, "search cells per stage").at_least(1),
                           [](const Options& options, const SupernetContext& context) -> std::shared_ptr<Network> {
                             check_image_task(context.task);
                             return make_nb201_supernet(options, context.task);
                           });
  registries.supernets.add("darts_cell", "DARTS's search network (quark0/darts): 14 edges x 8 primitives, normal and reduction cells",
                           OptionTable()
                               .integer("channels", 16, "initial channels (even)").at_least(2)
                               .integer("layers", 8, "cells").at_least(1)
                               .integer("steps", 4, "intermediate nodes per cell").at_least(1)
                               .optional("multiplier", OptionType::Integer, "nodes concatenated to a cell's output (default: steps)")
                               .integer("stem_multiplier", 3, "stem channels = stem_multiplier x channels").at_least(1),
                           [](const Options& options, const SupernetContext& context) -> std::shared_ptr<Network> {
                             check_image_task(context.task);
                             return make_darts_supernet(options, context.task);
                           });
}

void CellSupernet::set_alphas(std::vector<torch::Tensor> alphas) {
  const auto names = alpha_names();
  if (alphas.size() != names.size())
    throw Error("supernet: expected " + std::to_string(names.size()) + " alpha tensors, got " + std::to_string(alphas.size()));
  const auto rows = static_cast<std::int64_t>(edge_names().size());
  const auto cols = static_cast<std::int64_t>(op_names().size());
  for (const auto& a : alphas)
    if (a.dim() != 2 || a.size(0) != rows || a.size(1) != cols)
      throw Error("supernet: alpha tensors must be " + std::to_string(rows) + " x " + std::to_string(cols));
  alphas_ = std::move(alphas);
}

std::shared_ptr<CellSupernet> make_cell_supernet(const std::string& space, const Config& options, const Task& task) {
  if (space != "nb201" && space != "darts")
    throw Error("supernet: differentiable search needs a cell space with a supernet (nb201 or darts), not '" + space + "'");
  return make_cell_supernet(*registries().spaces.create(space, Config()), options, task);
}

std::shared_ptr<CellSupernet> make_cell_supernet(const SearchSpace& space, const Config& options, const Task& task) {
  const auto& cells = require_capability<CellSupernetSpace>(space, "a differentiable method", "builds no cell supernet");
  auto network = registries().supernets.create(cells.cell_supernet(), options, SupernetContext{space, task});
  auto supernet = std::dynamic_pointer_cast<CellSupernet>(network);
  if (!supernet) throw Error("supernet '" + cells.cell_supernet() + "' of space " + space.name() + " is not a cell supernet");
  return supernet;
}

SkipShare skip_share(const CellSupernet& supernet, const std::vector<torch::Tensor>& alphas) {
  SkipShare share;
  const auto ops = supernet.op_names();
  std::int64_t skip = -1;
  for (std::size_t o = 0; o < ops.size(); ++o)
    if (ops[o] == "skip_connect") skip = static_cast<std::int64_t>(o);
  const auto kept = supernet.kept_ops(alphas);
  for (const auto& op : kept) share.genotype_share += op == "skip_connect";
  if (!kept.empty()) share.genotype_share /= static_cast<double>(kept.size());
  if (skip >= 0) {
    torch::NoGradGuard no_grad;
    double sum = 0, edges = 0;
    for (const auto& a : alphas) {
      sum += torch::softmax(a.detach().to(torch::kFloat64), -1).select(1, skip).sum().item<double>();
      edges += static_cast<double>(a.size(0));
    }
    share.alpha_weight = edges > 0 ? sum / edges : 0;
  }
  return share;
}

}  // namespace nascent
