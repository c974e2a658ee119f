// Training throughput on an image folder with augmentation against the same training on
// pre-decoded tensors without it (the target: at least 90%).
//   bench_data_loading [key=value ...]   keys (defaults):
//     images=2000  steps=40  batch=64  repeats=3  loader_threads=2  threads=2  channels=16  cells=5
//     folder=      (empty: write `images` PNG files to a temporary folder, removed afterwards)
// Data: a folder of 32x32 RGB PNG images in 10 class subfolders (class patterns plus noise,
// written here without compression by a minimal encoder), loaded through the registry's
// image_folder dataset with normalize: train and augment {crop_padding: 4, flip, cutout: 8}.
// Network: a NAS-Bench-201 network (C=`channels`, N=`cells`) with the best cell, trained by
// TrainingLoop for `steps` SGD steps of `batch` on `threads` LibTorch threads:
//   plain:     the same decoded tensors, no augmentation, batches gathered inline (loader_threads 0)
//   augmented: the folder's training split as configured, batches prepared on `loader_threads`
// Each is timed `repeats` times, alternating, after one warm-up; the medians and their ratio are
// printed, then the loader's per-batch cost alone (gather; gather plus augmentation) on one thread.
#include <ATen/Parallel.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_args.hpp"
#include "core/config.hpp"
#include "core/network.hpp"
#include "core/registry.hpp"
#include "datasets/batches.hpp"
#include "datasets/dataset.hpp"
#include "evaluators/training_loop.hpp"
#include "search_spaces/nb201/nb201.hpp"

using namespace nascent;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// PNG, 8-bit RGB, with the image data in stored (uncompressed) deflate blocks: valid for any
// decoder and needs no library; the bench measures decoding-free training, not file size.
std::uint32_t crc32(const std::string& bytes) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void put32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

void chunk(std::string& png, const char* type, const std::string& data) {
  put32(png, static_cast<std::uint32_t>(data.size()));
  const std::string body = type + data;
  png += body;
  put32(png, crc32(body));
}

// `rgb`: height x width x 3 bytes, row-major.
std::string encode_png(const std::uint8_t* rgb, std::uint32_t height, std::uint32_t width) {
  std::string raw;
  for (std::uint32_t y = 0; y < height; ++y) {
    raw.push_back(0);  // filter: none
    raw.append(reinterpret_cast<const char*>(rgb + y * width * 3), width * 3);
  }
  std::string zlib{"\x78\x01", 2};
  for (std::size_t at = 0; at < raw.size() || at == 0; at += 65535) {
    const std::size_t n = std::min<std::size_t>(65535, raw.size() - at);
    zlib.push_back(at + n >= raw.size() ? 1 : 0);  // BFINAL, BTYPE 00 (stored)
    for (std::uint16_t v : {static_cast<std::uint16_t>(n), static_cast<std::uint16_t>(~n)}) {
      zlib.push_back(static_cast<char>(v & 0xFF));
      zlib.push_back(static_cast<char>(v >> 8));
    }
    zlib.append(raw, at, n);
    if (n == 0) break;
  }
  std::uint32_t a = 1, b = 0;
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  put32(zlib, (b << 16) | a);
  std::string header;
  put32(header, width);
  put32(header, height);
  header += std::string{"\x08\x02\x00\x00\x00", 5};  // 8 bits, RGB, deflate, no filter set, no interlace
  std::string png{"\x89PNG\r\n\x1a\n", 8};
  chunk(png, "IHDR", header);
  chunk(png, "IDAT", zlib);
  chunk(png, "IEND", "");
  return png;
}

// `count` 32x32 images of 10 classes (a class pattern plus noise, as the synthetic dataset) in
// root/class<k>/<i>.png.
void write_image_folder(const std::filesystem::path& root, std::int64_t count) {
  SyntheticOptions synthetic;
  synthetic.shape = {3, 32, 32};
  synthetic.classes = 10;
  synthetic.train = count;
  synthetic.val = synthetic.test = 0;
  const DataSplits data = make_synthetic(synthetic);
  const torch::Tensor pixels =
      (0.5 + 0.2 * data.train.images).clamp(0, 1).mul(255).round().to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
  for (std::int64_t i = 0; i < count; ++i) {
    const std::filesystem::path folder = root / ("class" + std::to_string(data.train.labels[i].item<std::int64_t>()));
    std::filesystem::create_directories(folder);
    std::ofstream(folder / (std::to_string(i) + ".png"), std::ios::binary)
        << encode_png(pixels[i].data_ptr<std::uint8_t>(), 32, 32);
  }
}

struct Setup {
  std::int64_t steps, batch, channels, cells;
};

// Samples per second of training a freshly initialised network for setup.steps steps.
double training_throughput(const DataSplits& data, const Setup& setup, std::int64_t loader_threads) {
  const std::string cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|";
  Nb201Space space(static_cast<int>(setup.channels), static_cast<int>(setup.cells));
  std::shared_ptr<Network> net = space.build(cell, Task{data.input_shape, data.num_classes});
  auto generator = at::make_generator<at::CPUGeneratorImpl>(0);
  net->reset_parameters(generator);
  TrainingSettings settings;
  settings.steps = setup.steps;
  settings.batch_size = setup.batch;
  settings.loader_threads = loader_threads;
  TrainingLoop loop(*net, data, settings, 1, torch::kCPU);
  const auto start = Clock::now();
  std::int64_t samples = 0;
  while (!loop.done()) samples += loop.run_epoch().samples;
  return samples / seconds_since(start);
}

// Milliseconds per batch for one thread to gather (and augment) every batch of an epoch.
double loader_ms_per_batch(const DataSplits& data, std::int64_t batch, const Augmentation& augmentation) {
  const std::int64_t batches = (data.train.size() + batch - 1) / batch;
  const int epochs = 5;
  const auto start = Clock::now();
  for (int epoch = 0; epoch < epochs; ++epoch) {
    EpochBatches loader(data.train, torch::randperm(data.train.size(), torch::kInt64), batch, batches, augmentation, 0,
                        epoch, 0);
    Batch b;
    while (loader.next(b)) {
    }
  }
  return 1000.0 * seconds_since(start) / (epochs * batches);
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = parse_bench_args(argc, argv, "bench_data_loading",
                                     {{"images", "2000"}, {"steps", "40"}, {"batch", "64"}, {"repeats", "3"},
                                      {"loader_threads", "2"}, {"threads", "2"}, {"channels", "16"}, {"cells", "5"},
                                      {"folder", ""}});
  if (!args) return 2;
  const auto integer = [&](const char* key) { return std::stoll(args->at(key)); };
  const Setup setup{integer("steps"), integer("batch"), integer("channels"), integer("cells")};
  const std::int64_t loader_threads = integer("loader_threads");
  at::set_num_threads(static_cast<int>(integer("threads")));

  std::filesystem::path root = args->at("folder");
  const bool temporary = root.empty();
  if (temporary) {
    root = std::filesystem::temp_directory_path() / ("nascent-bench-data-loading-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root);
    write_image_folder(root, integer("images"));
  }
  const auto load_start = Clock::now();
  DataSplits augmented;
  try {
    augmented = load_dataset(Config::parse("name: image_folder\npath: " + root.string() +
                                           "\nval_fraction: 0.05\naugment: {crop_padding: 4, flip: true, cutout: 8}\n"),
                             "");
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_data_loading: %s\n", error.what());
    if (temporary) std::filesystem::remove_all(root);
    return 1;
  }
  const double load_seconds = seconds_since(load_start);
  if (temporary) std::filesystem::remove_all(root);
  DataSplits plain = augmented;
  plain.augmentation = Augmentation();
  std::printf("data: image_folder, %lld training images %lldx%lldx%lld, %lld classes, loaded (decoded) in %.2f s\n",
              static_cast<long long>(augmented.train.size()), static_cast<long long>(augmented.train.images.size(1)),
              static_cast<long long>(augmented.train.images.size(2)), static_cast<long long>(augmented.train.images.size(3)),
              static_cast<long long>(augmented.num_classes), load_seconds);

  training_throughput(plain, {std::min<std::int64_t>(setup.steps, 5), setup.batch, setup.channels, setup.cells}, 0);
  std::vector<double> plain_rates, augmented_rates;
  for (std::int64_t r = 0; r < integer("repeats"); ++r) {
    plain_rates.push_back(training_throughput(plain, setup, 0));
    augmented_rates.push_back(training_throughput(augmented, setup, loader_threads));
  }
  const double plain_rate = median(plain_rates), augmented_rate = median(augmented_rates);
  std::printf("NB201 C=%lld N=%lld, %lld steps x %lld, %d LibTorch threads (median of %zu):\n",
              static_cast<long long>(setup.channels), static_cast<long long>(setup.cells),
              static_cast<long long>(setup.steps), static_cast<long long>(setup.batch), at::get_num_threads(),
              plain_rates.size());
  std::printf("  pre-decoded tensors, no augmentation, loader_threads 0: %8.1f samples/s\n", plain_rate);
  std::printf("  crop 4 + flip + cutout 8, loader_threads %lld:          %8.1f samples/s\n",
              static_cast<long long>(loader_threads), augmented_rate);
  std::printf("  ratio: %.3f (target >= 0.90)\n", augmented_rate / plain_rate);

  const double gather_ms = loader_ms_per_batch(plain, setup.batch, Augmentation());
  const double augment_ms = loader_ms_per_batch(augmented, setup.batch, augmented.augmentation);
  std::printf("loader, one thread, per batch of %lld: gather %.3f ms, gather + augmentation %.3f ms (augmentation %.3f ms)\n",
              static_cast<long long>(setup.batch), gather_ms, augment_ms, augment_ms - gather_ms);
  return 0;
}
