#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "datasets/dataset.hpp"
#include "datasets/formats.hpp"

namespace nascent {

namespace {

namespace fs = std::filesystem;

constexpr double kMean = 0.2860;
constexpr double kStd = 0.3530;
constexpr std::int64_t kTrainCount = 60000;
constexpr std::int64_t kTestCount = 10000;
constexpr std::int64_t kSide = 28;

std::uint32_t big_endian(const unsigned char* bytes) {
  return (std::uint32_t(bytes[0]) << 24) | (std::uint32_t(bytes[1]) << 16) | (std::uint32_t(bytes[2]) << 8) | bytes[3];
}

std::string hex32(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

std::vector<unsigned char> read_plain(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (!in || ec) throw Error(path + ": cannot open" + (ec ? " (" + ec.message() + ")" : std::string()));
  std::vector<unsigned char> data(size);
  if (!in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size())))
    throw Error(path + ": read error");
  return data;
}

std::vector<unsigned char> read_gzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw Error(path + ": cannot open");
  std::vector<unsigned char> data;
  std::vector<unsigned char> buffer(1 << 16);
  int n;
  while ((n = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0)
    data.insert(data.end(), buffer.begin(), buffer.begin() + n);
  int code = Z_OK;
  const char* message = gzerror(file, &code);
  // Copied before gzclose frees it.
  const std::string detail = message && *message ? message : "unknown error";
  gzclose(file);
  // zlib reports a stream cut short as Z_BUF_ERROR ("unexpected end of file").
  if (code == Z_BUF_ERROR) throw Error(path + ": truncated gzip data (zlib: " + detail + ")");
  if (n < 0 || (code != Z_OK && code != Z_STREAM_END)) throw Error(path + ": corrupt gzip data (zlib: " + detail + ")");
  return data;
}

}  // namespace

torch::Tensor read_idx(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": cannot open (no such file)");
  if (!fs::is_regular_file(path, ec)) throw Error(path + ": not a regular file");
  unsigned char head[2] = {0, 0};
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw Error(path + ": cannot open (permission denied?)");
    probe.read(reinterpret_cast<char*>(head), 2);
  }
  const bool gzipped = head[0] == 0x1f && head[1] == 0x8b;
  const std::vector<unsigned char> data = gzipped ? read_gzip(path) : read_plain(path);
  const std::string what = gzipped ? " (after decompression)" : "";

  if (data.size() < 4) throw Error(path + ": truncated header: " + std::to_string(data.size()) + " bytes" + what);
  const std::uint32_t magic = big_endian(data.data());
  const int dims = data[3];
  if (data[0] != 0 || data[1] != 0 || data[2] != 0x08 || dims < 1 || dims > 4)
    throw Error(path + ": bad magic number " + hex32(magic) +
                " (expected 0x00000801 labels or 0x00000803 images: an IDX file of unsigned bytes)");
  const std::size_t offset = 4 + 4u * dims;
  if (data.size() < offset) throw Error(path + ": truncated header: " + std::to_string(data.size()) + " bytes" + what);
  std::vector<std::int64_t> shape;
  std::uint64_t count = 1;
  for (int d = 0; d < dims; ++d) {
    shape.push_back(big_endian(&data[4 + 4 * d]));
    count *= static_cast<std::uint64_t>(shape.back());
    // Stops a corrupt header's product from overflowing; no real IDX file is this large.
    if (count > (std::uint64_t(1) << 40)) throw Error(path + ": implausible dimensions in the header");
  }
  const std::uint64_t payload = data.size() - offset;
  if (payload < count)
    throw Error(path + ": truncated: the header promises " + std::to_string(count) + " data bytes, found " +
                std::to_string(payload) + what);
  if (payload > count)
    throw Error(path + ": " + std::to_string(payload - count) + " bytes of trailing data after the " +
                std::to_string(count) + " the header promises" + what);
  torch::Tensor result = torch::empty(shape, torch::kUInt8);
  if (count > 0) std::memcpy(result.data_ptr<std::uint8_t>(), data.data() + offset, count);
  return result;
}

namespace {

std::string find_idx(const std::string& folder, const std::string& stem) {
  for (const std::string& candidate : {folder + "/" + stem + ".gz", folder + "/" + stem})
    if (fs::exists(candidate)) return candidate;
  throw Error(folder + "/" + stem + "(.gz): not found (Fashion-MNIST needs its four IDX files there; set dataset.path)");
}

std::string shape_text(const torch::Tensor& t) {
  std::string text;
  for (std::int64_t d = 0; d < t.dim(); ++d) text += (d ? " x " : "") + std::to_string(t.size(d));
  return text;
}

torch::Tensor read_images(const std::string& folder, const std::string& stem, std::int64_t n) {
  const std::string path = find_idx(folder, stem);
  torch::Tensor t = read_idx(path);
  if (t.dim() != 3) throw Error(path + ": expected an image file (3 dimensions), found " + std::to_string(t.dim()));
  if (t.size(0) != n || t.size(1) != kSide || t.size(2) != kSide)
    throw Error(path + ": expected " + std::to_string(n) + " x 28 x 28 images, found " + shape_text(t));
  return t;
}

torch::Tensor read_labels(const std::string& folder, const std::string& stem, std::int64_t n) {
  const std::string path = find_idx(folder, stem);
  torch::Tensor t = read_idx(path);
  if (t.dim() != 1) throw Error(path + ": expected a label file (1 dimension), found " + std::to_string(t.dim()));
  if (t.size(0) != n) throw Error(path + ": expected " + std::to_string(n) + " labels, found " + std::to_string(t.size(0)));
  const torch::Tensor bad = (t >= 10).nonzero();
  if (bad.size(0) > 0) {
    const std::int64_t at = bad[0][0].item<std::int64_t>();
    throw Error(path + ": label " + std::to_string(t[at].item<int>()) + " at index " + std::to_string(at) +
                " is out of range 0..9");
  }
  return t.to(torch::kInt64);
}

struct RawFashionMnist {
  torch::Tensor train_images, train_labels, test_images, test_labels;  // uint8 images, int64 labels
};

// Parallel evaluations and repeated loads share one decoded copy per folder. The lock is held
// while reading, so a second caller waits for the first instead of reading the same files again.
const RawFashionMnist& raw_fashion_mnist(const std::string& folder) {
  static std::mutex mutex;
  static std::map<std::string, RawFashionMnist> cache;
  std::error_code ec;
  std::string key = fs::weakly_canonical(folder, ec).string();
  if (ec || key.empty()) key = folder;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  RawFashionMnist raw;
  // Labels first: they are small, so a bad label file is reported without decoding the images.
  raw.train_labels = read_labels(folder, "train-labels-idx1-ubyte", kTrainCount);
  raw.test_labels = read_labels(folder, "t10k-labels-idx1-ubyte", kTestCount);
  raw.train_images = read_images(folder, "train-images-idx3-ubyte", kTrainCount);
  raw.test_images = read_images(folder, "t10k-images-idx3-ubyte", kTestCount);
  return cache.emplace(key, std::move(raw)).first->second;
}

// Selecting before converting keeps a small subset from costing a float copy of all 60,000 images.
ImageSet prepare(const torch::Tensor& images, const torch::Tensor& labels, const torch::Tensor& index,
                 std::int64_t resize, std::int64_t pad, std::int64_t channels) {
  check_decoded_size(index.size(0), channels, resize > 0 ? resize : std::max(pad, kSide), "fashion-mnist: ", resize > 0 ? "dataset.resize" : "dataset.pad");
  torch::Tensor x = images.index_select(0, index).to(torch::kFloat32).div_(255.0).sub_(kMean).div_(kStd).unsqueeze(1);
  if (resize > 0 && resize != kSide) {
    namespace F = torch::nn::functional;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<std::int64_t>{resize, resize})
                              .mode(torch::kBilinear)
                              .align_corners(false));
  }
  if (pad > kSide) {
    // Black borders, as the garments' own background: raw 0, normalised.
    const std::int64_t before = (pad - kSide) / 2, after = pad - kSide - before;
    x = torch::constant_pad_nd(x, {before, after, before, after}, (0.0 - kMean) / kStd);
  }
  if (channels == 3) x = x.expand({-1, 3, -1, -1});
  return ImageSet{x.contiguous(), labels.index_select(0, index)};
}

torch::Tensor first(const torch::Tensor& index, std::int64_t limit) {
  return limit > 0 && limit < index.size(0) ? index.slice(0, 0, limit) : index;
}

}  // namespace

DataSplits load_fashion_mnist(const FashionMnistOptions& options) {
  if (options.channels != 1 && options.channels != 3)
    throw Error("config: dataset.channels must be 1 or 3, got " + std::to_string(options.channels));
  if (options.val_size < 0 || options.val_size >= kTrainCount)
    throw Error("config: dataset.val_size must be between 0 and 59999, got " + std::to_string(options.val_size));
  if (options.resize < 0) throw Error("config: dataset.resize must be 0 (native 28) or a positive size");
  if (options.pad != 0 && options.pad < kSide) throw Error("config: dataset.pad must be 0 or a size of at least 28");
  if (options.pad > 0 && options.resize > 0) throw Error("config: dataset.pad and dataset.resize exclude each other");
  if (options.train_subset < 0 || options.val_subset < 0 || options.test_subset < 0)
    throw Error("config: dataset.train_subset, val_subset and test_subset must not be negative (0 means all)");
  const RawFashionMnist& raw = raw_fashion_mnist(options.folder);

  Rng rng(0);
  const torch::Tensor permutation = torch::tensor(shuffled_indices(kTrainCount, rng), torch::kInt64);
  const torch::Tensor val_index = permutation.slice(0, 0, options.val_size);
  const torch::Tensor train_index = permutation.slice(0, options.val_size);

  DataSplits splits;
  splits.name = "fashion-mnist";
  splits.num_classes = 10;
  splits.train = prepare(raw.train_images, raw.train_labels, first(train_index, options.train_subset), options.resize,
                         options.pad, options.channels);
  splits.val = prepare(raw.train_images, raw.train_labels, first(val_index, options.val_subset), options.resize,
                       options.pad, options.channels);
  splits.test = prepare(raw.test_images, raw.test_labels,
                        first(torch::arange(kTestCount, torch::kInt64), options.test_subset), options.resize,
                        options.pad, options.channels);
  const std::int64_t side = options.resize > 0 ? options.resize : options.pad > 0 ? options.pad : kSide;
  splits.input_shape = {options.channels, side, side};
  return splits;
}

}  // namespace nascent
