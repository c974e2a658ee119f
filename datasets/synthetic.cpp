#include "core/error.hpp"
#include "datasets/dataset.hpp"

namespace nascent {

DataSplits make_synthetic(const SyntheticOptions& options) {
  if (options.shape.size() != 3) throw Error("config: dataset.shape must be [channels, height, width]");
  for (std::int64_t d : options.shape)
    if (d < 1) throw Error("config: dataset.shape entries must be positive");
  if (options.classes < 2) throw Error("config: dataset.classes must be at least 2");
  if (options.train < 0 || options.val < 0 || options.test < 0)
    throw Error("config: dataset.train, val and test sizes must not be negative");
  if (!(options.noise >= 0)) throw Error("config: dataset.noise must not be negative");
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  std::vector<std::int64_t> prototype_shape{options.classes};
  prototype_shape.insert(prototype_shape.end(), options.shape.begin(), options.shape.end());
  const torch::Tensor prototypes = at::normal(0.0, 1.0, prototype_shape, generator);
  // Splits are drawn in a fixed order from one generator, so each split depends on the sizes of
  // the ones before it: changing `train` changes val and test too.
  const auto make = [&](std::int64_t n) {
    torch::Tensor labels = at::randint(options.classes, {n}, generator, torch::kInt64);
    std::vector<std::int64_t> shape{n};
    shape.insert(shape.end(), options.shape.begin(), options.shape.end());
    torch::Tensor images = prototypes.index_select(0, labels) + options.noise * at::normal(0.0, 1.0, shape, generator);
    return ImageSet{images.contiguous(), labels};
  };
  DataSplits splits;
  splits.name = "synthetic";
  splits.num_classes = options.classes;
  splits.input_shape = options.shape;
  splits.train = make(options.train);
  splits.val = make(options.val);
  splits.test = make(options.test);
  return splits;
}

}  // namespace nascent
