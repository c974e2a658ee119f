#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "datasets/formats.hpp"

namespace nascent {

namespace {

constexpr std::int64_t kPixels = 3 * 32 * 32;

struct RawCifar {
  torch::Tensor images;  // N x 3 x 32 x 32 uint8
  torch::Tensor labels;  // N int64
};

// The records of one batch file; `label_bytes` lead each record, `label_at` picks the one used.
RawCifar read_batch(const std::string& path, const std::string& dataset, int label_bytes, int label_at,
                    std::int64_t classes) {
  const std::string prefix = dataset + ": ";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(prefix + path + ": cannot open (no such file; " +
                (dataset == "cifar10" ? "the CIFAR-10 binary version has data_batch_1.bin .. data_batch_5.bin and test_batch.bin"
                                      : "the CIFAR-100 binary version has train.bin and test.bin") +
                "; set dataset.path)");
  const std::string bytes = read_file_bytes(path, prefix);
  const std::int64_t record = label_bytes + kPixels;
  const auto size = static_cast<std::int64_t>(bytes.size());
  if (size == 0) throw Error(prefix + path + ": empty file");
  if (size % record != 0)
    throw Error(prefix + path + ": truncated: " + std::to_string(size) + " bytes is not a whole number of " +
                std::to_string(record) + "-byte records");
  const std::int64_t n = size / record;
  RawCifar raw{torch::empty({n, 3, 32, 32}, torch::kUInt8), torch::empty({n}, torch::kInt64)};
  auto* pixels = raw.images.data_ptr<std::uint8_t>();
  auto* labels = raw.labels.data_ptr<std::int64_t>();
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  for (std::int64_t i = 0; i < n; ++i) {
    const unsigned char* at = data + i * record;
    const int label = at[label_at];
    if (label >= classes)
      throw Error(prefix + path + ": record " + std::to_string(i) + ": label " + std::to_string(label) +
                  " is out of range 0.." + std::to_string(classes - 1));
    labels[i] = label;
    // The record's plane order (R, G, B; rows of 32) is already channels-first.
    std::memcpy(pixels + i * kPixels, at + label_bytes, kPixels);
  }
  return raw;
}

// Non-empty lines; the published batches.meta.txt ends in blank lines.
std::vector<std::string> read_names(const std::string& path, const std::string& dataset, std::int64_t classes) {
  std::vector<std::string> names;
  std::ifstream in(path);
  if (!in) return names;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  if (static_cast<std::int64_t>(names.size()) != classes)
    throw Error(dataset + ": " + path + ": expected " + std::to_string(classes) + " class names, one a line, found " +
                std::to_string(names.size()));
  return names;
}

ImageSet select(const RawCifar& raw, const torch::Tensor& index) {
  // Selecting before converting keeps a small subset from costing a float copy of everything.
  return ImageSet{raw.images.index_select(0, index).to(torch::kFloat32).div_(255.0).contiguous(),
                  raw.labels.index_select(0, index)};
}

}  // namespace

DataSplits load_cifar(const CifarOptions& options) {
  const bool ten = options.classes == 10;
  const std::string dataset = ten ? "cifar10" : "cifar100";
  if (options.classes != 10 && options.classes != 100) throw Error("cifar: classes must be 10 or 100");
  if (!ten && options.labels != "fine" && options.labels != "coarse")
    throw Error("config: dataset.labels: expected fine or coarse, got '" + options.labels + "'");
  if (options.val_size < 0) throw Error("config: dataset.val_size must not be negative");
  if (options.train_subset < 0 || options.val_subset < 0 || options.test_subset < 0)
    throw Error("config: dataset.train_subset, val_subset and test_subset must not be negative (0 means all)");
  const bool coarse = !ten && options.labels == "coarse";
  const int label_bytes = ten ? 1 : 2;
  const int label_at = coarse ? 0 : label_bytes - 1;
  const std::int64_t classes = ten ? 10 : coarse ? 20 : 100;
  const std::string& dir = options.folder;

  std::vector<RawCifar> train_parts;
  if (ten) {
    for (int b = 1; b <= 5; ++b)
      train_parts.push_back(read_batch(dir + "/data_batch_" + std::to_string(b) + ".bin", dataset, label_bytes, label_at, classes));
  } else {
    train_parts.push_back(read_batch(dir + "/train.bin", dataset, label_bytes, label_at, classes));
  }
  const RawCifar test = read_batch(dir + (ten ? "/test_batch.bin" : "/test.bin"), dataset, label_bytes, label_at, classes);
  RawCifar train;
  {
    std::vector<torch::Tensor> images, labels;
    for (const auto& part : train_parts) images.push_back(part.images), labels.push_back(part.labels);
    train = RawCifar{torch::cat(images), torch::cat(labels)};
  }
  const std::int64_t n = train.labels.size(0);
  if (options.val_size >= n)
    throw Error("config: dataset.val_size: " + std::to_string(options.val_size) + " leaves no training images of the " +
                std::to_string(n) + " in " + dir);

  DataSplits splits;
  splits.name = coarse ? "cifar100-coarse" : dataset;
  splits.num_classes = classes;
  splits.input_shape = {3, 32, 32};
  const FixedSplit split = fixed_split(n, options.val_size);
  splits.train = select(train, subset_index(split.train, options.train_subset));
  splits.val = select(train, subset_index(split.val, options.val_subset));
  std::vector<std::int64_t> test_order(static_cast<std::size_t>(test.labels.size(0)));
  for (std::size_t i = 0; i < test_order.size(); ++i) test_order[i] = static_cast<std::int64_t>(i);
  splits.test = select(test, subset_index(test_order, options.test_subset));
  const std::string names = ten ? "batches.meta.txt" : coarse ? "coarse_label_names.txt" : "fine_label_names.txt";
  splits.class_names = read_names(dir + "/" + names, dataset, classes);
  return splits;
}

}  // namespace nascent
