#include "supernets/cell_supernet.hpp"

#include "core/error.hpp"

namespace nascent {

std::shared_ptr<CellSupernet> make_nb201_supernet(const Config& options, const Task& task);
std::shared_ptr<CellSupernet> make_darts_supernet(const Config& options, const Task& task);

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
  if (task.input_shape.size() != 3) throw Error("supernet: input shape must be channels x height x width (an image task)");
  if (space == "nb201") return make_nb201_supernet(options, task);
  if (space == "darts") return make_darts_supernet(options, task);
  throw Error("supernet: differentiable search needs a cell space with a supernet (nb201 or darts), not '" + space + "'");
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
