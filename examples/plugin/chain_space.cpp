// The example plugin's search space: a plain chain of 3x3 convolutions whose widths are searched
// ("16-32-32"). plugin.cpp registers it with the plugin's strategy and dataset.
#include <torch/torch.h>

#include "core/error.hpp"
#include "core/network.hpp"
#include "core/probe.hpp"
#include "core/registry.hpp"

namespace nascent {
namespace {

const std::vector<int> kWidths = {8, 16, 32, 64};
constexpr std::size_t kMaxLayers = 4;

std::vector<int> parse_widths(const std::string& text) {
  std::vector<int> widths;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t dash = std::min(text.find('-', pos), text.size());
    const std::string token = text.substr(pos, dash - pos);
    int width = 0;
    try {
      std::size_t used = 0;
      width = std::stoi(token, &used);
      if (used != token.size()) throw std::invalid_argument(token);
    } catch (const std::exception&) {
      throw ParseError(text, pos, "expected a layer width, got '" + token + "'");
    }
    if (std::find(kWidths.begin(), kWidths.end(), width) == kWidths.end())
      throw ParseError(text, pos, "width must be 8, 16, 32 or 64");
    widths.push_back(width);
    pos = dash + 1;
  }
  if (widths.size() > kMaxLayers) throw ParseError(text, 0, "at most 4 layers");
  return widths;
}

std::string print_widths(const std::vector<int>& widths) {
  std::string text;
  for (std::size_t i = 0; i < widths.size(); ++i) text += (i ? "-" : "") + std::to_string(widths[i]);
  return text;
}

class ChainNetwork : public Network {
 public:
  ChainNetwork(const std::vector<int>& widths, const Task& task) {
    body_ = register_module("body", torch::nn::Sequential());
    std::int64_t channels = task.input_shape.at(0);
    for (int width : widths) {
      body_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, width, 3).stride(2).padding(1).bias(false)));
      body_->push_back(torch::nn::BatchNorm2d(width));
      body_->push_back(ProbedReLU());  // visible to NASWOT and the other probe-based predictors
      channels = width;
    }
    body_->push_back(torch::nn::AdaptiveAvgPool2d(1));
    body_->push_back(torch::nn::Flatten());
    body_->push_back(torch::nn::Linear(channels, task.num_classes));
  }
  torch::Tensor forward(torch::Tensor input) override { return body_->forward(input); }

 private:
  torch::nn::Sequential body_{nullptr};
};

class ChainSpace : public SearchSpace {
 public:
  std::string name() const override { return "chain"; }

  std::string sample(Rng& rng) const override {
    std::vector<int> widths(1 + uniform_index(rng, kMaxLayers));
    for (int& width : widths) width = pick(rng, kWidths);
    return print_widths(widths);
  }

  std::string mutate(const std::string& arch, Rng& rng) const override {
    std::vector<int> widths = parse_widths(arch);
    for (;;) {
      std::vector<int> child = widths;
      switch (uniform_index(rng, 3)) {
        case 0: child[uniform_index(rng, child.size())] = pick(rng, kWidths); break;
        case 1: if (child.size() < kMaxLayers) child.push_back(pick(rng, kWidths)); break;
        default: if (child.size() > 1) child.erase(child.begin() + uniform_index(rng, child.size())); break;
      }
      if (child != widths) return print_widths(child);
    }
  }

  std::string canonical(const std::string& text) const override { return print_widths(parse_widths(text)); }

  std::vector<double> encode(const std::string& arch) const override {
    const auto widths = parse_widths(arch);
    std::vector<double> features(kMaxLayers, 0.0);
    for (std::size_t i = 0; i < widths.size(); ++i) features[i] = widths[i];
    return features;
  }

  ArchGraph graph(const std::string& arch) const override {
    ArchGraph g;
    GraphVertex previous = add_op(g, "input");
    for (int width : parse_widths(arch)) {
      GraphVertex conv = add_op(g, "conv3x3_" + std::to_string(width));
      add_data_edge(g, previous, conv);
      previous = conv;
    }
    add_data_edge(g, previous, add_op(g, "output"));
    return g;
  }

  Description describe(const std::string& arch, const Task& task) const override {
    Description d;
    std::int64_t channels = task.input_shape.at(0), h = task.input_shape.at(1), w = task.input_shape.at(2);
    for (int width : parse_widths(arch)) {
      h = (h - 1) / 2 + 1;
      w = (w - 1) / 2 + 1;
      d.params += 9.0 * channels * width + 2.0 * width;
      d.flops += 9.0 * channels * width * h * w;
      channels = width;
    }
    d.params += static_cast<double>(channels) * task.num_classes + task.num_classes;
    d.flops += static_cast<double>(channels) * task.num_classes;
    d.graph = graph(arch);
    return d;
  }

  std::shared_ptr<Network> build(const std::string& arch, const Task& task) const override {
    return std::make_shared<ChainNetwork>(parse_widths(arch), task);
  }
};

}  // namespace

namespace example_plugin {

void register_chain_space(Registries& registries) {
  registries.spaces.add("chain", "example plugin: a chain of strided 3x3 convolutions with searched widths", OptionTable(),
                        [](const Options&) -> std::unique_ptr<SearchSpace> { return std::make_unique<ChainSpace>(); });
}

}  // namespace example_plugin

}  // namespace nascent
