#include "datasets/dataset.hpp"

#include <zlib.h>

#include <filesystem>
#include <map>
#include <mutex>

#include "core/error.hpp"
#include "core/rng.hpp"

namespace nascent {

namespace {

std::uint32_t big_endian(const unsigned char* bytes) {
  return (std::uint32_t(bytes[0]) << 24) | (std::uint32_t(bytes[1]) << 16) | (std::uint32_t(bytes[2]) << 8) | bytes[3];
}

// Fashion-MNIST training-set statistics, so inputs are roughly zero-mean, unit-variance.
constexpr double kMean = 0.2860;
constexpr double kStd = 0.3530;

}  // namespace

torch::Tensor read_idx(const std::string& path) {
  // gzread reads plain files transparently, so one code path serves both forms.
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw Error(path + ": cannot open");
  std::vector<unsigned char> data;
  unsigned char buffer[1 << 16];
  int n;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0) data.insert(data.end(), buffer, buffer + n);
  int zerror = 0;
  const char* message = gzerror(file, &zerror);
  const std::string error_text = message ? message : "";
  gzclose(file);
  if (n < 0 || (zerror != Z_OK && zerror != Z_STREAM_END)) throw Error(path + ": corrupt compressed data (" + error_text + ")");
  if (data.size() < 4 || data[0] != 0 || data[1] != 0 || data[2] != 0x08)
    throw Error(path + ": not an IDX file of unsigned bytes (bad magic number)");
  const int dims = data[3];
  if (dims < 1 || dims > 3) throw Error(path + ": unexpected IDX dimension count " + std::to_string(dims));
  if (data.size() < 4 + 4u * dims) throw Error(path + ": truncated header");
  std::vector<std::int64_t> shape;
  std::int64_t count = 1;
  for (int d = 0; d < dims; ++d) {
    shape.push_back(big_endian(&data[4 + 4 * d]));
    count *= shape.back();
  }
  const std::size_t offset = 4 + 4u * dims;
  if (data.size() - offset != static_cast<std::size_t>(count))
    throw Error(path + ": expected " + std::to_string(count) + " data bytes, found " + std::to_string(data.size() - offset) +
                " (truncated or corrupt file)");
  return torch::from_blob(data.data() + offset, shape, torch::kUInt8).clone();
}

namespace {

std::string find_idx(const std::string& folder, const std::string& stem) {
  for (const std::string& candidate : {folder + "/" + stem + ".gz", folder + "/" + stem})
    if (std::filesystem::exists(candidate)) return candidate;
  throw Error("Fashion-MNIST: " + folder + "/" + stem + "(.gz) not found (install dataset-fashion-mnist or set dataset.path)");
}

struct RawFashionMnist {
  torch::Tensor train_images, train_labels, test_images, test_labels;
};

// Parallel evaluations share one decoded copy per folder.
const RawFashionMnist& raw_fashion_mnist(const std::string& folder) {
  static std::mutex mutex;
  static std::map<std::string, RawFashionMnist> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(folder);
  if (it != cache.end()) return it->second;
  RawFashionMnist raw;
  const auto images = [&](const std::string& stem, std::int64_t n) {
    const std::string path = find_idx(folder, stem);
    torch::Tensor t = read_idx(path);
    if (t.dim() != 3 || t.size(0) != n || t.size(1) != 28 || t.size(2) != 28)
      throw Error(path + ": expected " + std::to_string(n) + " images of 28x28");
    return t;
  };
  const auto labels = [&](const std::string& stem, std::int64_t n) {
    const std::string path = find_idx(folder, stem);
    torch::Tensor t = read_idx(path);
    if (t.dim() != 1 || t.size(0) != n) throw Error(path + ": expected " + std::to_string(n) + " labels");
    if (t.max().item<int>() > 9) throw Error(path + ": label out of range 0..9");
    return t.to(torch::kInt64);
  };
  raw.train_images = images("train-images-idx3-ubyte", 60000);
  raw.train_labels = labels("train-labels-idx1-ubyte", 60000);
  raw.test_images = images("t10k-images-idx3-ubyte", 10000);
  raw.test_labels = labels("t10k-labels-idx1-ubyte", 10000);
  return cache.emplace(folder, std::move(raw)).first->second;
}

torch::Tensor prepare_images(const torch::Tensor& raw, std::int64_t resize, std::int64_t channels) {
  torch::Tensor x = raw.to(torch::kFloat32).div_(255.0).sub_(kMean).div_(kStd).unsqueeze(1);
  if (resize > 0 && resize != x.size(2)) {
    namespace F = torch::nn::functional;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<std::int64_t>{resize, resize})
                              .mode(torch::kBilinear)
                              .align_corners(false));
  }
  if (channels == 3) x = x.repeat({1, 3, 1, 1});
  return x.contiguous();
}

ImageSet take(const torch::Tensor& images, const torch::Tensor& labels, const torch::Tensor& index, std::int64_t limit) {
  torch::Tensor chosen = limit > 0 && limit < index.size(0) ? index.slice(0, 0, limit) : index;
  return ImageSet{images.index_select(0, chosen), labels.index_select(0, chosen)};
}

}  // namespace

DataSplits load_fashion_mnist(const FashionMnistOptions& options) {
  if (options.channels != 1 && options.channels != 3) throw Error("dataset.channels must be 1 or 3");
  if (options.val_size < 0 || options.val_size >= 60000) throw Error("dataset.val_size must be between 0 and 59999");
  if (options.resize < 0) throw Error("dataset.resize must not be negative");
  const RawFashionMnist& raw = raw_fashion_mnist(options.folder);
  // A fixed permutation (seed 0) makes the split the same for every run and every seed.
  Rng rng(0);
  std::vector<std::int64_t> order(60000);
  for (std::int64_t i = 0; i < 60000; ++i) order[i] = i;
  for (std::int64_t i = 59999; i > 0; --i) std::swap(order[i], order[uniform_index(rng, i + 1)]);
  torch::Tensor permutation = torch::tensor(order, torch::kInt64);
  torch::Tensor val_index = permutation.slice(0, 0, options.val_size);
  torch::Tensor train_index = permutation.slice(0, options.val_size);

  DataSplits splits;
  splits.name = "fashion-mnist";
  splits.num_classes = 10;
  torch::Tensor train_images = prepare_images(raw.train_images, options.resize, options.channels);
  splits.train = take(train_images, raw.train_labels, train_index, options.train_subset);
  splits.val = take(train_images, raw.train_labels, val_index, options.val_subset);
  torch::Tensor test_images = prepare_images(raw.test_images, options.resize, options.channels);
  splits.test = take(test_images, raw.test_labels, torch::arange(10000, torch::kInt64), options.test_subset);
  splits.input_shape = {options.channels, train_images.size(2), train_images.size(3)};
  return splits;
}

DataSplits make_synthetic(const SyntheticOptions& options) {
  if (options.shape.size() != 3) throw Error("dataset.shape must be [channels, height, width]");
  if (options.classes < 2) throw Error("dataset.classes must be at least 2");
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  std::vector<std::int64_t> prototype_shape{options.classes};
  prototype_shape.insert(prototype_shape.end(), options.shape.begin(), options.shape.end());
  torch::Tensor prototypes = at::normal(0.0, 1.0, prototype_shape, generator);
  const auto make = [&](std::int64_t n) {
    torch::Tensor labels = at::randint(options.classes, {n}, generator, torch::kInt64);
    std::vector<std::int64_t> shape{n};
    shape.insert(shape.end(), options.shape.begin(), options.shape.end());
    torch::Tensor images = prototypes.index_select(0, labels) + options.noise * at::normal(0.0, 1.0, shape, generator);
    return ImageSet{images, labels};
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

DataSplits load_dataset(const Config& config, const std::string& config_dir) {
  const std::string name = config.get<std::string>("name", "fashion-mnist");
  if (name == "fashion-mnist") {
    config.check_keys({"name", "path", "val_size", "train_subset", "val_subset", "test_subset", "resize", "channels"});
    FashionMnistOptions options;
    options.folder = resolve_path(config.get<std::string>("path", options.folder), config_dir);
    options.val_size = config.get<long long>("val_size", options.val_size);
    options.train_subset = config.get<long long>("train_subset", 0);
    options.val_subset = config.get<long long>("val_subset", 0);
    options.test_subset = config.get<long long>("test_subset", 0);
    options.resize = config.get<long long>("resize", 0);
    options.channels = config.get<long long>("channels", 1);
    return load_fashion_mnist(options);
  }
  if (name == "synthetic") {
    config.check_keys({"name", "shape", "classes", "train", "val", "test", "seed", "noise"});
    SyntheticOptions options;
    if (config.has("shape")) {
      options.shape.clear();
      for (int d : config.get<std::vector<int>>("shape")) options.shape.push_back(d);
    }
    options.classes = config.get<long long>("classes", options.classes);
    options.train = config.get<long long>("train", options.train);
    options.val = config.get<long long>("val", options.val);
    options.test = config.get<long long>("test", options.test);
    options.seed = config.get<unsigned long>("seed", 0);
    options.noise = config.get<double>("noise", options.noise);
    return make_synthetic(options);
  }
  throw Error("config: " + config.full("name") + ": unknown dataset '" + name + "' (expected fashion-mnist or synthetic)");
}

}  // namespace nascent
