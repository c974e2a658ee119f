// The NAS-Bench-201 supernet of DARTS on that space (AutoDL-Projects' TinyNetworkDarts): stem,
// three stages of searchable cells joined by residual reduction blocks, one alpha for all cells.
#include "core/options.hpp"
#include "core/error.hpp"
#include "core/probe.hpp"
#include "search_spaces/nb201/nb201.hpp"
#include "search_spaces/nb201/nb201_modules.hpp"
#include "supernets/cell_supernet.hpp"

namespace nascent {

namespace {

enum Nb201Op { kNone = 0, kSkip = 1, kConv1 = 2, kConv3 = 3, kPool = 4 };


// Search cells use BN without affine parameters, as the reference does.
class Nb201SearchCellImpl : public torch::nn::Module {
 public:
  explicit Nb201SearchCellImpl(std::int64_t channels) {
    for (int e = 0; e < Nb201Space::kEdges; ++e) {
      conv1_[e] = register_module("edge" + std::to_string(e) + "_conv1x1", Nb201ReLUConvBN(channels, channels, 1, 1, 0, true, /*affine=*/false));
      conv3_[e] = register_module("edge" + std::to_string(e) + "_conv3x3", Nb201ReLUConvBN(channels, channels, 3, 1, 1, true, /*affine=*/false));
    }
  }
  // weights: 6 x 5 softmax of the shared alpha.
  torch::Tensor forward(const torch::Tensor& input, const torch::Tensor& weights) {
    std::array<torch::Tensor, 4> node;
    node[0] = input;
    for (int to = 1, e = 0; to <= 3; ++to) {
      torch::Tensor sum;
      for (int from = 0; from < to; ++from, ++e) {
        const torch::Tensor& x = node[from];
        torch::Tensor w = weights[e];
        // `none` adds w * 0: nothing to compute.
        torch::Tensor mixed = w[kSkip] * x + w[kConv1] * conv1_[e]->forward(x) + w[kConv3] * conv3_[e]->forward(x) +
                              w[kPool] * torch::avg_pool2d(x, 3, 1, 1, /*ceil_mode=*/false, /*count_include_pad=*/false);
        sum = sum.defined() ? sum + mixed : mixed;
      }
      node[to] = sum;
    }
    return node[3];
  }

 private:
  std::array<Nb201ReLUConvBN, Nb201Space::kEdges> conv1_{nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
  std::array<Nb201ReLUConvBN, Nb201Space::kEdges> conv3_{nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
};
TORCH_MODULE(Nb201SearchCell);


class Nb201Supernet : public CellSupernet {
 public:
  Nb201Supernet(int channels, int cells_per_stage, const Task& task) {
    stem_conv_ = register_module("stem_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(task.input_shape.at(0), channels, 3).padding(1).bias(false)));
    stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(channels));
    std::int64_t width = channels;
    for (int stage = 0; stage < 3; ++stage) {
      if (stage > 0) {
        blocks_.push_back(register_module("reduce" + std::to_string(stage), Nb201ResidualBlock(width, width * 2)));
        width *= 2;
      } else {
        blocks_.push_back(nullptr);
      }
      for (int c = 0; c < cells_per_stage; ++c)
        cells_.push_back(register_module("stage" + std::to_string(stage) + "_cell" + std::to_string(c), Nb201SearchCell(width)));
    }
    cells_per_stage_ = cells_per_stage;
    last_bn_ = register_module("last_bn", torch::nn::BatchNorm2d(width));
    classifier_ = register_module("classifier", torch::nn::Linear(width, task.num_classes));
  }

  std::vector<torch::Tensor> initial_alphas(at::Generator& generator) const override {
    return {1e-3 * torch::randn({Nb201Space::kEdges, Nb201Space::kNumOps}, generator)};
  }

  torch::Tensor features(torch::Tensor input) override {
    if (alphas_.empty()) throw Error("supernet: set_alphas() before forward()");
    const torch::Tensor weights = torch::softmax(alphas_[0], -1).to(input.dtype());
    torch::Tensor x = probe_norm(stem_bn_, probe_conv(stem_conv_, input));
    for (int stage = 0; stage < 3; ++stage) {
      if (blocks_[stage]) x = blocks_[stage]->forward(x);
      for (int c = 0; c < cells_per_stage_; ++c) x = cells_[stage * cells_per_stage_ + c]->forward(x, weights);
    }
    return probe_relu(probe_norm(last_bn_, x));
  }
  torch::Tensor forward(torch::Tensor input) override {
    return probe_linear(classifier_, torch::adaptive_avg_pool2d(features(input), {1, 1}).flatten(1));
  }

  // NAS-Bench-201's derivation: the argmax over all five operations of each edge, `none` included.
  std::string genotype(const std::vector<torch::Tensor>& alphas) const override {
    const torch::Tensor best = alphas.at(0).detach().argmax(1).to(torch::kCPU);
    Nb201Space::Cell cell{};
    for (int e = 0; e < Nb201Space::kEdges; ++e) cell[e] = static_cast<int>(best[e].item<std::int64_t>());
    return Nb201Space::print(cell);
  }
  std::vector<std::string> kept_ops(const std::vector<torch::Tensor>& alphas) const override {
    const Nb201Space::Cell cell = Nb201Space::parse(genotype(alphas));
    std::vector<std::string> ops;
    for (int op : cell) ops.push_back(Nb201Space::kOps[op]);
    return ops;
  }
  std::string space_name() const override { return "nb201"; }
  std::vector<std::string> alpha_names() const override { return {"cell"}; }
  std::vector<std::string> edge_names() const override {
    std::vector<std::string> names;
    for (int e = 0; e < Nb201Space::kEdges; ++e)
      names.push_back(std::to_string(Nb201Space::kEdgeTo[e]) + "<-" + std::to_string(Nb201Space::kEdgeFrom[e]));
    return names;
  }
  std::vector<std::string> op_names() const override { return {Nb201Space::kOps.begin(), Nb201Space::kOps.end()}; }

 private:
  int cells_per_stage_ = 0;
  torch::nn::Conv2d stem_conv_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  std::vector<Nb201ResidualBlock> blocks_;
  std::vector<Nb201SearchCell> cells_;
  torch::nn::BatchNorm2d last_bn_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};

}  // namespace

std::shared_ptr<CellSupernet> make_nb201_supernet(const Options& options, const Task& task) {
  return std::make_shared<Nb201Supernet>(options.get<int>("channels"), options.get<int>("cells_per_stage"), task);
}

}  // namespace nascent
