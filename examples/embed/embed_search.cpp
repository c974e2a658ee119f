// nascent as a library: this program registers its own search space (a three-layer MLP whose
// activations are searched, "relu-tanh-gelu") and runs a regularised-evolution search from code,
// trained on synthetic data, with results in the SQLite file named on the command line.
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <iostream>

#include "core/error.hpp"
#include "core/network.hpp"
#include "core/registry.hpp"
#include "runner/search.hpp"

namespace {

using namespace nascent;

const std::array<const char*, 4> kActivations{"relu", "tanh", "gelu", "silu"};
constexpr std::size_t kLayers = 3;
constexpr std::int64_t kWidth = 32;

std::vector<std::string> parse(const std::string& text) {
  std::vector<std::string> layers;
  std::size_t start = 0;
  for (std::size_t end; start <= text.size(); start = end + 1) {
    end = std::min(text.find('-', start), text.size());
    const std::string name = text.substr(start, end - start);
    if (std::find(kActivations.begin(), kActivations.end(), name) == kActivations.end())
      throw ParseError(text, start, "expected relu, tanh, gelu or silu, got '" + name + "'");
    layers.push_back(name);
  }
  if (layers.size() != kLayers) throw ParseError(text, 0, "expected three activations joined by '-'");
  return layers;
}

std::string join(const std::vector<std::string>& layers) {
  std::string text;
  for (const auto& layer : layers) text += (text.empty() ? "" : "-") + layer;
  return text;
}

class ActivationMlp : public Network {
 public:
  ActivationMlp(std::vector<std::string> activations, const Task& task) : activations_(std::move(activations)) {
    std::int64_t inputs = 1;
    for (std::int64_t d : task.input_shape) inputs *= d;
    for (std::size_t i = 0; i < kLayers; ++i)
      hidden_.push_back(register_module("hidden" + std::to_string(i), torch::nn::Linear(i == 0 ? inputs : kWidth, kWidth)));
    head_ = register_module("head", torch::nn::Linear(kWidth, task.num_classes));
  }
  torch::Tensor forward(torch::Tensor x) override {
    x = x.flatten(1);
    for (std::size_t i = 0; i < kLayers; ++i) {
      x = hidden_[i]->forward(x);
      const std::string& a = activations_[i];
      x = a == "relu" ? torch::relu(x) : a == "tanh" ? torch::tanh(x) : a == "gelu" ? torch::gelu(x) : torch::silu(x);
    }
    return head_->forward(x);
  }

 private:
  std::vector<std::string> activations_;
  std::vector<torch::nn::Linear> hidden_;
  torch::nn::Linear head_{nullptr};
};

class ActivationSpace : public SearchSpace {
 public:
  std::string name() const override { return "activations"; }
  std::string sample(Rng& rng) const override {
    std::vector<std::string> layers;
    for (std::size_t i = 0; i < kLayers; ++i) layers.push_back(kActivations[uniform_index(rng, kActivations.size())]);
    return join(layers);
  }
  std::string mutate(const std::string& arch, Rng& rng) const override {
    std::vector<std::string> layers = parse(arch);
    const std::size_t at = uniform_index(rng, kLayers);
    std::string replacement;
    do replacement = kActivations[uniform_index(rng, kActivations.size())];
    while (replacement == layers[at]);
    layers[at] = replacement;
    return join(layers);
  }
  std::string canonical(const std::string& text) const override { return join(parse(text)); }
  std::vector<double> encode(const std::string& arch) const override {
    std::vector<double> features;
    for (const auto& layer : parse(arch))
      features.push_back(static_cast<double>(std::find(kActivations.begin(), kActivations.end(), layer) - kActivations.begin()));
    return features;
  }
  ArchGraph graph(const std::string& arch) const override {
    ArchGraph g;
    GraphVertex previous = add_op(g, "input");
    for (const auto& layer : parse(arch)) {
      const GraphVertex next = add_op(g, "linear_" + layer);
      add_data_edge(g, previous, next);
      previous = next;
    }
    add_data_edge(g, previous, add_op(g, "output"));
    return g;
  }
  Description describe(const std::string& arch, const Task& task) const override {
    Description d;
    double inputs = 1;
    for (std::int64_t dim : task.input_shape) inputs *= static_cast<double>(dim);
    d.params = (inputs + 1) * kWidth + 2 * (kWidth + 1) * kWidth + (kWidth + 1) * task.num_classes;
    d.flops = inputs * kWidth + 2.0 * kWidth * kWidth + static_cast<double>(kWidth) * task.num_classes;
    d.graph = graph(arch);
    return d;
  }
  std::shared_ptr<Network> build(const std::string& arch, const Task& task) const override {
    return std::make_shared<ActivationMlp>(parse(arch), task);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: embed_search RESULTS.db\n";
    return 2;
  }
  try {
    registries().spaces.add("activations", "three-layer MLP with searched activations", OptionTable(),
                            [](const Options&) -> std::unique_ptr<SearchSpace> { return std::make_unique<ActivationSpace>(); });
    SearchOptions options;
    options.config = Config::parse(R"(
seed: 1
space: {name: activations}
strategy: {name: evolution, population: 4, sample: 2}
evaluator:
  name: train
  steps: 30
  batch_size: 32
  latency: false
  dataset: {name: synthetic, shape: [1, 6, 6], classes: 3, train: 192, val: 96, test: 96}
budget: {evaluations: 6}
)");
    options.db_path = argv[1];
    options.quiet = true;
    const SearchSummary summary = run_search(options);
    std::cout << "run " << summary.run << " " << summary.status << ": " << summary.evaluations << " evaluations, best "
              << summary.best_arch << " val_acc " << summary.best_metrics.at("val_acc") << "\n";
    return summary.status == "finished" ? 0 : 1;
  } catch (const std::exception& error) {
    std::cerr << "embed_search: " << error.what() << "\n";
    return 1;
  }
}
