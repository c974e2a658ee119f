// The example plugin's dataset: grey images of stripes, horizontal (class 0), vertical (1) or
// diagonal (2), at a random phase plus Gaussian noise. Everything comes from its seed.
#include <torch/torch.h>

#include "core/registry.hpp"
#include "datasets/dataset.hpp"

namespace nascent {
namespace {

ImageSet make_stripes(std::int64_t count, std::int64_t size, double noise, at::Generator& generator) {
  const auto labels = torch::randint(0, 3, {count}, generator, torch::kInt64);
  const auto phase = torch::randint(0, 4, {count, 1, 1}, generator, torch::kFloat32);
  const auto rows = torch::arange(size, torch::kFloat32).view({1, size, 1});
  const auto cols = torch::arange(size, torch::kFloat32).view({1, 1, size});
  const auto label = labels.to(torch::kFloat32).view({count, 1, 1});
  // Position along the stripes' normal: rows, columns or their sum, by class.
  const auto along = torch::where(label == 0, rows.expand({count, size, size}),
                                  torch::where(label == 1, cols.expand({count, size, size}), (rows + cols).expand({count, size, size})));
  auto images = torch::sin((along + phase) * (3.14159265 / 2)).unsqueeze(1);
  images = images + noise * torch::randn(images.sizes(), generator);
  return {images.contiguous(), labels};
}

}  // namespace

namespace example_plugin {

void register_stripes(Registries& registries) {
  registries.datasets.add("stripes", "example plugin: noisy horizontal, vertical or diagonal stripes (3 classes, 1 channel)",
                          OptionTable()
                              .integer("size", 8, "image height and width").at_least(2)
                              .integer("train", 256, "training images").at_least(1)
                              .integer("val", 128, "validation images").at_least(1)
                              .integer("test", 128, "test images").at_least(0)
                              .number("noise", 0.5, "noise standard deviation").at_least(0)
                              .integer("seed", 0, "the data's seed").at_least(0),
                          [](const Options& options, const std::string&) -> std::shared_ptr<const DataSplits> {
                            at::Generator generator = at::detail::createCPUGenerator(options.get<unsigned long>("seed"));
                            const std::int64_t size = options.get<long long>("size");
                            const double noise = options.get<double>("noise");
                            auto data = std::make_shared<DataSplits>();
                            data->train = make_stripes(options.get<long long>("train"), size, noise, generator);
                            data->val = make_stripes(options.get<long long>("val"), size, noise, generator);
                            data->test = make_stripes(options.get<long long>("test"), size, noise, generator);
                            data->input_shape = {1, size, size};
                            data->num_classes = 3;
                            data->class_names = {"horizontal", "vertical", "diagonal"};
                            data->name = "stripes";
                            return data;
                          });
}

}  // namespace example_plugin
}  // namespace nascent
