// The DARTS search network (quark0/darts model_search.py): normal and reduction cells of `steps`
// nodes, each node summing mixed operations from all earlier states (14 edges for 4 steps).
#include <algorithm>
#include <numeric>

#include "core/options.hpp"
#include "core/error.hpp"
#include "core/probe.hpp"
#include "search_spaces/darts/darts.hpp"
#include "search_spaces/darts/darts_ops.hpp"
#include "supernets/cell_supernet.hpp"

namespace nascent {

namespace {

class MixedOpImpl : public torch::nn::Module {
 public:
  MixedOpImpl(std::int64_t channels, int stride) {
    // `none` (index 0) contributes w * 0 and is not built.
    for (int op = 1; op < kDartsNumOps; ++op)
      ops_.push_back(register_module(kDartsOps[op], DartsOp(op, channels, stride, /*affine=*/false, /*pool_norm=*/true)));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& weights) {
    torch::Tensor sum;
    for (std::size_t k = 0; k < ops_.size(); ++k) {
      torch::Tensor term = weights[static_cast<std::int64_t>(k) + 1] * ops_[k]->forward(x);
      sum = sum.defined() ? sum + term : term;
    }
    return sum;
  }

 private:
  std::vector<DartsOp> ops_;
};
TORCH_MODULE(MixedOp);

class DartsSearchCellImpl : public torch::nn::Module {
 public:
  DartsSearchCellImpl(int steps, int multiplier, std::int64_t c_prev_prev, std::int64_t c_prev, std::int64_t c, bool reduction,
                 bool reduction_prev)
      : steps_(steps), multiplier_(multiplier) {
    if (reduction_prev) reduce0_ = register_module("preprocess0", FactorizedReduce(c_prev_prev, c, false));
    else preprocess0_ = register_module("preprocess0", DartsReLUConvBN(c_prev_prev, c, 1, 1, 0, false));
    preprocess1_ = register_module("preprocess1", DartsReLUConvBN(c_prev, c, 1, 1, 0, false));
    for (int node = 0; node < steps; ++node)
      for (int input = 0; input < node + 2; ++input)
        ops_.push_back(register_module("edge" + std::to_string(ops_.size()), MixedOp(c, reduction && input < 2 ? 2 : 1)));
  }
  torch::Tensor forward(const torch::Tensor& s0, const torch::Tensor& s1, const torch::Tensor& weights) {
    std::vector<torch::Tensor> states{reduce0_ ? reduce0_->forward(s0) : preprocess0_->forward(s0), preprocess1_->forward(s1)};
    std::int64_t edge = 0;
    for (int node = 0; node < steps_; ++node) {
      torch::Tensor sum;
      for (int input = 0; input < node + 2; ++input, ++edge) {
        torch::Tensor term = ops_[static_cast<std::size_t>(edge)]->forward(states[static_cast<std::size_t>(input)], weights[edge]);
        sum = sum.defined() ? sum + term : term;
      }
      states.push_back(sum);
    }
    return torch::cat(std::vector<torch::Tensor>(states.end() - multiplier_, states.end()), 1);
  }

 private:
  int steps_, multiplier_;
  // s0's preprocessing: FactorizedReduce after a reduction cell, ReLU-conv1x1-BN otherwise.
  FactorizedReduce reduce0_{nullptr};
  DartsReLUConvBN preprocess0_{nullptr}, preprocess1_{nullptr};
  std::vector<MixedOp> ops_;
};
TORCH_MODULE(DartsSearchCell);

class DartsSupernet : public CellSupernet {
 public:
  DartsSupernet(int channels, int layers, int steps, int multiplier, int stem_multiplier, const Task& task)
      : steps_(steps), multiplier_(multiplier) {
    const std::int64_t stem = static_cast<std::int64_t>(stem_multiplier) * channels;
    stem_conv_ = register_module("stem_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(task.input_shape.at(0), stem, 3).padding(1).bias(false)));
    stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(stem));
    std::int64_t c_prev_prev = stem, c_prev = stem, c = channels;
    bool reduction_prev = false;
    for (int i = 0; i < layers; ++i) {
      const bool reduction = i == layers / 3 || i == 2 * layers / 3;
      if (reduction) c *= 2;
      cells_.push_back(register_module("cell" + std::to_string(i),
                                       DartsSearchCell(steps, multiplier, c_prev_prev, c_prev, c, reduction, reduction_prev)));
      reduction_.push_back(reduction);
      reduction_prev = reduction;
      c_prev_prev = c_prev;
      c_prev = static_cast<std::int64_t>(multiplier) * c;
    }
    classifier_ = register_module("classifier", torch::nn::Linear(c_prev, task.num_classes));
  }

  std::int64_t edges() const { return static_cast<std::int64_t>(steps_) * (steps_ + 3) / 2; }

  std::vector<torch::Tensor> initial_alphas(at::Generator& generator) const override {
    return {1e-3 * torch::randn({edges(), kDartsNumOps}, generator), 1e-3 * torch::randn({edges(), kDartsNumOps}, generator)};
  }

  torch::Tensor features(torch::Tensor input) override {
    if (alphas_.empty()) throw Error("supernet: set_alphas() before forward()");
    const torch::Tensor normal = torch::softmax(alphas_[0], -1).to(input.dtype());
    const torch::Tensor reduce = torch::softmax(alphas_[1], -1).to(input.dtype());
    torch::Tensor s0 = probe_norm(stem_bn_, probe_conv(stem_conv_, input));
    torch::Tensor s1 = s0;
    for (std::size_t i = 0; i < cells_.size(); ++i) {
      torch::Tensor next = cells_[i]->forward(s0, s1, reduction_[i] ? reduce : normal);
      s0 = s1;
      s1 = next;
    }
    return s1;
  }
  torch::Tensor forward(torch::Tensor input) override {
    return probe_linear(classifier_, torch::adaptive_avg_pool2d(features(input), {1, 1}).flatten(1));
  }

  // DARTS's derivation: per node, the two incoming edges whose strongest operation other than
  // `none` weighs most, each with that operation.
  DartsGenotype derive(const std::vector<torch::Tensor>& alphas) const {
    DartsGenotype g;
    for (int cell = 0; cell < 2; ++cell) {
      const torch::Tensor weights = torch::softmax(alphas.at(cell).detach().to(torch::kCPU, torch::kFloat64), -1);
      auto& edges = cell == 0 ? g.normal : g.reduce;
      std::int64_t start = 0;
      for (int node = 0; node < steps_; ++node) {
        const int inputs = node + 2;
        std::vector<double> strength(inputs);
        std::vector<int> best_op(inputs);
        for (int j = 0; j < inputs; ++j) {
          const torch::Tensor row = weights[start + j];
          strength[j] = -1;
          for (int op = 1; op < kDartsNumOps; ++op) {
            const double value = row[op].item<double>();
            if (value > strength[j]) {
              strength[j] = value;
              best_op[j] = op;
            }
          }
        }
        std::vector<int> order(inputs);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return strength[a] > strength[b]; });
        for (int k = 0; k < 2 && k < inputs; ++k) edges.push_back({best_op[order[k]], order[k]});
        start += inputs;
      }
    }
    for (int s = 2 + steps_ - multiplier_; s < steps_ + 2; ++s) {
      g.normal_concat.push_back(s);
      g.reduce_concat.push_back(s);
    }
    return g;
  }
  std::string genotype(const std::vector<torch::Tensor>& alphas) const override { return DartsSpace::print(derive(alphas)); }
  std::vector<std::string> kept_ops(const std::vector<torch::Tensor>& alphas) const override {
    const DartsGenotype g = derive(alphas);
    std::vector<std::string> ops;
    for (const auto* edges : {&g.normal, &g.reduce})
      for (const auto& edge : *edges) ops.push_back(kDartsOps[edge.op]);
    return ops;
  }
  std::string space_name() const override { return "darts"; }
  std::vector<std::string> alpha_names() const override { return {"normal", "reduce"}; }
  std::vector<std::string> edge_names() const override {
    std::vector<std::string> names;
    for (int node = 0; node < steps_; ++node)
      for (int input = 0; input < node + 2; ++input) names.push_back(std::to_string(node + 2) + "<-" + std::to_string(input));
    return names;
  }
  std::vector<std::string> op_names() const override { return {kDartsOps.begin(), kDartsOps.end()}; }

 private:
  int steps_, multiplier_;
  torch::nn::Conv2d stem_conv_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  std::vector<DartsSearchCell> cells_;
  std::vector<bool> reduction_;
  torch::nn::Linear classifier_{nullptr};
};

}  // namespace

std::shared_ptr<CellSupernet> make_darts_supernet(const Options& options, const Task& task) {
  const int channels = options.get<int>("channels");
  const int layers = options.get<int>("layers");
  const int steps = options.get<int>("steps");
  const int multiplier = options.maybe<int>("multiplier").value_or(steps);
  const int stem_multiplier = options.get<int>("stem_multiplier");
  if (channels < 2 || channels % 2 != 0) throw Error("config: strategy.supernet.channels must be even and at least 2");
  if (layers < 1 || steps < 1 || stem_multiplier < 1)
    throw Error("config: strategy.supernet.layers, steps and stem_multiplier must be at least 1");
  if (multiplier < 1 || multiplier > steps) throw Error("config: strategy.supernet.multiplier must be between 1 and steps");
  return std::make_shared<DartsSupernet>(channels, layers, steps, multiplier, stem_multiplier, task);
}

}  // namespace nascent
