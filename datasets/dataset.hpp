#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "core/config.hpp"

namespace nascent {

// An in-memory image classification set: images N x C x H x W (float, normalised), labels N (int64).
struct ImageSet {
  torch::Tensor images;
  torch::Tensor labels;
  std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

struct DataSplits {
  ImageSet train, val, test;
  std::vector<std::int64_t> input_shape;  // C, H, W
  std::int64_t num_classes = 0;
  std::string name;
};

// `dataset` section of an evaluator config: name fashion-mnist (default) or synthetic.
// Throws Error (one line naming the file and the problem) on missing or corrupt data.
DataSplits load_dataset(const Config& config, const std::string& config_dir);

// Fashion-MNIST from its IDX files (gzipped or not) in `folder`. The 60,000 training images are
// split by a fixed permutation (independent of any run seed) into validation (the first
// `val_size`) and training (the rest; `train_subset` keeps the first N of those).
struct FashionMnistOptions {
  std::string folder = "/usr/share/datasets/fashion-mnist";
  std::int64_t val_size = 10000;
  std::int64_t train_subset = 0;  // 0: all
  std::int64_t val_subset = 0;
  std::int64_t test_subset = 0;
  std::int64_t resize = 0;    // 0: native 28x28; otherwise bilinear to resize x resize
  std::int64_t channels = 1;  // 1, or 3 to replicate the grey channel
};
DataSplits load_fashion_mnist(const FashionMnistOptions& options);

// Reads one IDX file (magic 0x0803 images or 0x0801 labels), gzipped or plain, as uint8.
torch::Tensor read_idx(const std::string& path);

// Learnable synthetic data for fast tests: each class is a fixed random pattern plus noise.
struct SyntheticOptions {
  std::vector<std::int64_t> shape{1, 8, 8};
  std::int64_t classes = 4;
  std::int64_t train = 512, val = 256, test = 256;
  std::uint64_t seed = 0;
  double noise = 1.0;
};
DataSplits make_synthetic(const SyntheticOptions& options);

}  // namespace nascent
