#include "core/data_parallel.hpp"

#include "core/cluster.hpp"
#include "core/error.hpp"

namespace nascent {

namespace {

thread_local DataParallel* t_active_group = nullptr;
thread_local std::int64_t t_whole_batch_rows = 0;

class ProcessGroup final : public DataParallel {
 public:
  int rank() const override { return cluster::rank(); }
  int size() const override { return cluster::size(); }
  void sum(torch::Tensor& values) override {
    const bool direct = values.device().is_cpu() && values.is_contiguous() &&
                        (values.scalar_type() == torch::kFloat || values.scalar_type() == torch::kDouble);
    torch::Tensor host = direct ? values : values.to(torch::kCPU, values.scalar_type() == torch::kFloat ? torch::kFloat : torch::kDouble).contiguous();
    if (host.scalar_type() == torch::kFloat)
      cluster::sum_in_place(host.data_ptr<float>(), static_cast<std::size_t>(host.numel()));
    else
      cluster::sum_in_place(host.data_ptr<double>(), static_cast<std::size_t>(host.numel()));
    if (!direct) values.copy_(host);
  }
  std::string broadcast(const std::string& bytes) override { return cluster::broadcast_from_first(bytes); }
};

DataParallel& group_at(const c10::IValue& address) { return *reinterpret_cast<DataParallel*>(address.toInt()); }

const std::vector<std::int64_t> kReducedDims{0, 2, 3};

// BatchNorm's forward with the whole batch's statistics (computed outside, without gradient), and
// its backward in closed form: the input's gradient needs the whole batch's sums of the incoming
// gradient and of it times the normalised input, summed over the members in one collective (as
// the forward's statistics are), with double sums as LibTorch's CPU BatchNorm accumulates them.
// Differentiating the statistics' formula instead would take two collectives each way.
struct SynchronisedNormFunction : public torch::autograd::Function<SynchronisedNormFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* context, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, const torch::Tensor& mean, const torch::Tensor& invstd, const torch::Tensor& count,
                               std::int64_t group_address) {
    const std::int64_t c = x.size(1);
    const torch::Tensor scale = invstd.to(x.scalar_type()).view({1, c, 1, 1});
    const torch::Tensor normalised = (x - mean.to(x.scalar_type()).view({1, c, 1, 1})) * scale;
    context->save_for_backward({normalised, weight, invstd, count});
    context->saved_data["group"] = group_address;
    return normalised * weight.view({1, c, 1, 1}) + bias.view({1, c, 1, 1});
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context, torch::autograd::variable_list grads) {
    const auto saved = context->get_saved_variables();
    const torch::Tensor &normalised = saved[0], &weight = saved[1], &invstd = saved[2], &count = saved[3];
    const std::int64_t c = normalised.size(1);
    const torch::Tensor grad = grads[0].defined() ? grads[0] : torch::zeros_like(normalised);
    const torch::Tensor grad_normalised = grad * weight.view({1, c, 1, 1});
    torch::Tensor sums = torch::cat({grad_normalised.sum(kReducedDims, false, torch::kDouble),
                                     (grad_normalised * normalised).sum(kReducedDims, false, torch::kDouble)});
    group_at(context->saved_data["group"]).sum(sums);
    const torch::Tensor mean_grad = (sums.slice(0, 0, c) / count).to(normalised.scalar_type()).view({1, c, 1, 1});
    const torch::Tensor mean_grad_normalised = (sums.slice(0, c, 2 * c) / count).to(normalised.scalar_type()).view({1, c, 1, 1});
    const torch::Tensor grad_x =
        (grad_normalised - mean_grad - normalised * mean_grad_normalised) * invstd.to(normalised.scalar_type()).view({1, c, 1, 1});
    // The affine parameters' gradients are this member's part; the training sums them with the
    // other parameters' gradients.
    return {grad_x, (grad * normalised).sum(kReducedDims), grad.sum(kReducedDims), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

bool DataParallel::agree(bool mine) { return broadcast(mine ? "1" : "0") == "1"; }

std::unique_ptr<DataParallel> data_parallel_over_processes() {
  if (cluster::size() <= 1) return nullptr;
  return std::make_unique<ProcessGroup>();
}

std::pair<std::int64_t, std::int64_t> share_of_batch(std::int64_t n, const DataParallel& group) {
  const std::int64_t members = group.size(), rank = group.rank();
  return {n * rank / members, n * (rank + 1) / members};
}

void sum_gradients(std::vector<torch::Tensor>& grads, DataParallel& group) {
  if (grads.empty()) return;
  bool packable = true;
  for (const torch::Tensor& g : grads)
    packable = packable && g.defined() && g.scalar_type() == grads.front().scalar_type() && g.device() == grads.front().device();
  if (!packable) {
    for (torch::Tensor& g : grads)
      if (g.defined()) group.sum(g);
    return;
  }
  std::vector<torch::Tensor> flat;
  flat.reserve(grads.size());
  for (const torch::Tensor& g : grads) flat.push_back(g.detach().reshape({-1}));
  torch::Tensor packed = torch::cat(flat);
  group.sum(packed);
  std::int64_t offset = 0;
  for (torch::Tensor& g : grads) {
    const std::int64_t n = g.numel();
    g = packed.slice(0, offset, offset + n).view_as(g);
    offset += n;
  }
}

double sum_step(torch::nn::Module& module, double loss, DataParallel& group) {
  std::vector<torch::Tensor> with_gradients, gradients;
  for (const torch::Tensor& p : module.parameters())
    if (p.grad().defined()) with_gradients.push_back(p), gradients.push_back(p.grad());
  sum_gradients(gradients, group);
  for (std::size_t i = 0; i < gradients.size(); ++i) with_gradients[i].mutable_grad().copy_(gradients[i]);
  torch::Tensor summed = torch::tensor({loss}, torch::kDouble);
  group.sum(summed);
  return summed.item<double>();
}

DataParallelScope::DataParallelScope(DataParallel* group) : previous_(t_active_group) { t_active_group = group; }
DataParallelScope::~DataParallelScope() { t_active_group = previous_; }
DataParallel* active_data_parallel() { return t_active_group; }

torch::Tensor synchronised_batch_norm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                      torch::Tensor running_mean, torch::Tensor running_var, double momentum, double eps,
                                      DataParallel& group) {
  if (x.dim() != 4) throw Error("synchronised BatchNorm2d: expected N x C x H x W, got " + std::to_string(x.dim()) + " dimensions");
  const std::int64_t channels = x.size(1);
  torch::Tensor mean, invstd, count, variance;
  {
    // The sums travel together, and accumulate in double as LibTorch's CPU BatchNorm does; the
    // count too, since shares may differ by a row.
    torch::NoGradGuard no_grad;
    const torch::Tensor local_count =
        torch::full({1}, static_cast<double>(x.numel() / std::max<std::int64_t>(channels, 1)), x.options().dtype(torch::kDouble));
    torch::Tensor sums = torch::cat({x.sum(kReducedDims, false, torch::kDouble), x.pow(2).sum(kReducedDims, false, torch::kDouble), local_count});
    group.sum(sums);
    count = sums.slice(0, 2 * channels, 2 * channels + 1);
    mean = sums.slice(0, 0, channels) / count;
    variance = (sums.slice(0, channels, 2 * channels) / count - mean * mean).clamp_min(0);
    invstd = torch::rsqrt(variance + eps);
  }
  const torch::Tensor y = SynchronisedNormFunction::apply(x, weight.defined() ? weight : torch::ones({channels}, x.options()),
                                                          bias.defined() ? bias : torch::zeros({channels}, x.options()), mean, invstd,
                                                          count, reinterpret_cast<std::int64_t>(&group));
  if (running_mean.defined() && running_var.defined()) {
    torch::NoGradGuard no_grad;
    const double n = count.item<double>();
    const torch::Tensor unbiased = variance * (n / std::max(n - 1.0, 1.0));
    running_mean.mul_(1 - momentum).add_(mean.to(running_mean.scalar_type()), momentum);
    running_var.mul_(1 - momentum).add_(unbiased.to(running_var.scalar_type()), momentum);
  }
  return y;
}

torch::Tensor synchronised_batch_norm(torch::nn::BatchNorm2d& norm, const torch::Tensor& x, DataParallel& group) {
  const bool track = norm->options.track_running_stats() && norm->is_training();
  double momentum = norm->options.momentum().value_or(0.0);
  if (track && norm->num_batches_tracked.defined()) {
    torch::NoGradGuard no_grad;
    norm->num_batches_tracked += 1;
    if (!norm->options.momentum()) momentum = 1.0 / norm->num_batches_tracked.item<double>();
  }
  const bool affine = norm->options.affine();
  return synchronised_batch_norm(x, affine ? norm->weight : torch::Tensor(), affine ? norm->bias : torch::Tensor(),
                                 track ? norm->running_mean : torch::Tensor(), track ? norm->running_var : torch::Tensor(), momentum,
                                 norm->options.eps(), group);
}

void set_whole_batch_rows(std::int64_t rows) { t_whole_batch_rows = rows; }

torch::Tensor rand_for_rows(at::IntArrayRef sizes, at::Generator& generator, const torch::TensorOptions& options) {
  DataParallel* group = active_data_parallel();
  if (!group || sizes.empty()) return torch::rand(sizes, generator, options);
  std::vector<std::int64_t> whole(sizes.begin(), sizes.end());
  whole[0] = t_whole_batch_rows;
  const auto [begin, end] = share_of_batch(t_whole_batch_rows, *group);
  if (end - begin != sizes[0])
    throw Error("data-parallel draw: this process holds " + std::to_string(sizes[0]) + " rows of a batch of " +
                std::to_string(t_whole_batch_rows) + ", not its share of " + std::to_string(end - begin));
  return torch::rand(whole, generator, options).slice(0, begin, end);
}

}  // namespace nascent
