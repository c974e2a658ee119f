// The file-format datasets (datasets/formats.hpp) on small files written here in the real formats.
#include <gtest/gtest.h>

// jpeglib.h needs FILE and size_t declared first.
#include <cstddef>
#include <cstdio>

#include <jpeglib.h>
#include <png.h>
#include <sqlite3.h>
#include <tbb/task_arena.h>
#include <zip.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/registry.hpp"
#include "core/rng.hpp"
#include "datasets/formats.hpp"
#include "evaluators/train_evaluator.hpp"
#include "search_spaces/flexibert/flexibert.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;
using Bytes = std::string;

std::vector<std::int64_t> fixed_order(std::int64_t n) {
  Rng rng(0);
  return shuffled_indices(n, rng);
}

std::vector<std::int64_t> to_vector(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kInt64).contiguous();
  return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
}

// ---------------------------------------------------------------------------------------------
// CIFAR

// Record i's pixel at channel c, row y, column x: unique enough to catch a swapped plane, row or
// column, and its first red pixel is i itself.
std::uint8_t cifar_pixel(int i, int c, int y, int x) { return static_cast<std::uint8_t>((i + 97 * c + 31 * y + 7 * x) % 256); }

Bytes cifar_records(int first, int count, const std::function<Bytes(int)>& labels_of) {
  Bytes out;
  for (int i = first; i < first + count; ++i) {
    out += labels_of(i);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) out += static_cast<char>(cifar_pixel(i, c, y, x));
  }
  return out;
}

Bytes cifar10_label(int i) { return Bytes(1, static_cast<char>((i * 3) % 10)); }

class DatasetFormats : public ScratchDirTest {
 protected:
  // CIFAR-10's six batch files with 20 records each: training records 0..99, test 150..169.
  std::string write_cifar10(const std::string& name) {
    for (int b = 1; b <= 5; ++b) write(name + "/data_batch_" + std::to_string(b) + ".bin", cifar_records(20 * (b - 1), 20, cifar10_label));
    write(name + "/test_batch.bin", cifar_records(150, 20, cifar10_label));
    return path(name);
  }
  DataSplits load(const std::string& yaml) { return load_dataset(Config::parse(yaml), dir_.string()); }
};

// The record index behind each image (its first red pixel).
std::vector<std::int64_t> cifar_indices(const ImageSet& set) {
  return to_vector(set.images.select(1, 0).select(1, 0).select(1, 0).mul(255).round());
}

TEST_F(DatasetFormats, Cifar10PlacesEveryPixelAndSplitsAFixedValidationSet) {
  CifarOptions options;
  options.folder = write_cifar10("cifar");
  options.val_size = 30;
  write("cifar/batches.meta.txt", "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n\n");
  const DataSplits data = load_cifar(options);
  EXPECT_EQ(data.name, "cifar10");
  EXPECT_EQ(data.num_classes, 10);
  EXPECT_EQ(data.input_shape, (std::vector<std::int64_t>{3, 32, 32}));
  EXPECT_EQ(data.class_names.size(), 10u);
  EXPECT_EQ(data.class_names[9], "truck");
  ASSERT_EQ(data.train.images.sizes(), (std::vector<std::int64_t>{70, 3, 32, 32}));
  ASSERT_EQ(data.val.size(), 30);
  ASSERT_EQ(data.test.size(), 20);

  // Validation is the first 30 of the fixed shuffle of all 100 training records, training the rest.
  const std::vector<std::int64_t> order = fixed_order(100);
  EXPECT_EQ(cifar_indices(data.val), std::vector<std::int64_t>(order.begin(), order.begin() + 30));
  EXPECT_EQ(cifar_indices(data.train), std::vector<std::int64_t>(order.begin() + 30, order.end()));
  // The test split keeps file order.
  std::vector<std::int64_t> test(20);
  for (int i = 0; i < 20; ++i) test[i] = 150 + i;
  EXPECT_EQ(cifar_indices(data.test), test);

  // Red, green, blue planes, rows top to bottom, columns left to right, as the format lays them out.
  for (const ImageSet* set : {&data.train, &data.val, &data.test}) {
    const std::vector<std::int64_t> indices = cifar_indices(*set);
    const std::vector<std::int64_t> labels = to_vector(set->labels);
    for (std::size_t k = 0; k < indices.size(); k += 7) {
      const int i = static_cast<int>(indices[k]);
      EXPECT_EQ(labels[k], (i * 3) % 10);
      torch::Tensor expected = torch::empty({3, 32, 32});
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 32; ++y)
          for (int x = 0; x < 32; ++x) expected[c][y][x] = cifar_pixel(i, c, y, x) / 255.0f;
      EXPECT_TRUE(torch::equal(set->images[k], expected)) << "record " << i;
    }
  }

  // Subsets are prefixes of the same order.
  options.train_subset = 10;
  options.val_subset = 5;
  options.test_subset = 3;
  const DataSplits subset = load_cifar(options);
  EXPECT_EQ(cifar_indices(subset.train), std::vector<std::int64_t>(order.begin() + 30, order.begin() + 40));
  EXPECT_EQ(cifar_indices(subset.val), std::vector<std::int64_t>(order.begin(), order.begin() + 5));
  EXPECT_EQ(cifar_indices(subset.test), std::vector<std::int64_t>(test.begin(), test.begin() + 3));
}

TEST_F(DatasetFormats, Cifar10FileProblemsAreOneLineErrorsNamingTheFile) {
  CifarOptions options;
  options.folder = write_cifar10("cifar");
  options.val_size = 30;
  const std::string batch3 = options.folder + "/data_batch_3.bin";
  write("cifar/data_batch_3.bin", cifar_records(40, 20, cifar10_label).substr(0, 20 * 3073 - 1));
  EXPECT_ERROR(load_cifar(options), "cifar10: " + batch3 + ": truncated: 61459 bytes is not a whole number of 3073-byte records");
  write("cifar/data_batch_3.bin", "");
  EXPECT_ERROR(load_cifar(options), batch3 + ": empty file");
  write("cifar/data_batch_3.bin", cifar_records(40, 20, cifar10_label));

  write("cifar/test_batch.bin", cifar_records(150, 20, [](int i) { return Bytes(1, static_cast<char>(i == 155 ? 10 : 0)); }));
  EXPECT_ERROR(load_cifar(options), "cifar10: " + options.folder + "/test_batch.bin: record 5: label 10 is out of range 0..9");
  write("cifar/test_batch.bin", cifar_records(150, 20, cifar10_label));

  fs::remove(options.folder + "/data_batch_4.bin");
  EXPECT_ERROR(load_cifar(options), "cifar10: " + options.folder + "/data_batch_4.bin: cannot open (no such file; the CIFAR-10 binary version has");
  write("cifar/data_batch_4.bin", cifar_records(60, 20, cifar10_label));

  write("cifar/batches.meta.txt", "airplane\nautomobile\n");
  EXPECT_ERROR(load_cifar(options), "batches.meta.txt: expected 10 class names, one a line, found 2");
  fs::remove(options.folder + "/batches.meta.txt");
  options.val_size = 100;
  EXPECT_ERROR(load_cifar(options), "dataset.val_size: 100 leaves no training images of the 100");
}

TEST_F(DatasetFormats, Cifar100FineOrCoarseLabels) {
  // Record i: coarse label i % 20, fine label (7 i) % 100.
  const auto labels = [](int i) { return Bytes{static_cast<char>(i % 20), static_cast<char>((7 * i) % 100)}; };
  write("c100/train.bin", cifar_records(0, 40, labels));
  write("c100/test.bin", cifar_records(200, 10, labels));
  Bytes fine_names, coarse_names;
  for (int i = 0; i < 100; ++i) fine_names += "fine" + std::to_string(i) + "\n";
  for (int i = 0; i < 20; ++i) coarse_names += "coarse" + std::to_string(i) + "\n";
  write("c100/fine_label_names.txt", fine_names);
  write("c100/coarse_label_names.txt", coarse_names);
  CifarOptions options;
  options.folder = path("c100");
  options.classes = 100;
  options.val_size = 8;
  const DataSplits fine = load_cifar(options);
  EXPECT_EQ(fine.num_classes, 100);
  EXPECT_EQ(fine.class_names[42], "fine42");
  ASSERT_EQ(fine.train.size(), 32);
  for (const ImageSet* set : {&fine.train, &fine.val, &fine.test}) {
    const std::vector<std::int64_t> indices = cifar_indices(*set), got = to_vector(set->labels);
    for (std::size_t k = 0; k < indices.size(); ++k) EXPECT_EQ(got[k], (7 * indices[k]) % 100);
    // The second label byte is not mistaken for a pixel.
    EXPECT_EQ(set->images[0][2][31][31].item<float>(), cifar_pixel(static_cast<int>(indices[0]), 2, 31, 31) / 255.0f);
  }
  options.labels = "coarse";
  const DataSplits coarse = load_cifar(options);
  EXPECT_EQ(coarse.num_classes, 20);
  EXPECT_EQ(coarse.class_names[3], "coarse3");
  EXPECT_TRUE(torch::equal(coarse.val.images, fine.val.images));
  const std::vector<std::int64_t> indices = cifar_indices(coarse.test), got = to_vector(coarse.test.labels);
  for (std::size_t k = 0; k < indices.size(); ++k) EXPECT_EQ(got[k], indices[k] % 20);

  write("c100/test.bin", cifar_records(200, 10, [](int i) { return Bytes{0, static_cast<char>(i == 203 ? 100 : 1)}; }));
  options.labels = "fine";
  EXPECT_ERROR(load_cifar(options), "cifar100: " + path("c100/test.bin") + ": record 3: label 100 is out of range 0..99");
  write("c100/test.bin", cifar_records(200, 10, labels).substr(0, 3074 * 3 + 100));
  EXPECT_ERROR(load_cifar(options), "truncated: 9322 bytes is not a whole number of 3074-byte records");
}

TEST_F(DatasetFormats, CifarThroughTheRegistryNormalisesAndReadsItsKeys) {
  write_cifar10("data/cifar");
  const DataSplits raw = load("{name: cifar10, path: data/cifar, val_size: 30, normalize: none, augment: {flip: true, crop_padding: 4}}");
  EXPECT_GE(raw.train.images.min().item<float>(), 0.0f);
  EXPECT_LE(raw.train.images.max().item<float>(), 1.0f);
  EXPECT_TRUE(raw.augmentation.flip);
  EXPECT_EQ(raw.augmentation.crop_padding, 4);
  const DataSplits normalised = load("{name: cifar10, path: data/cifar, val_size: 30}");
  ASSERT_EQ(normalised.mean.size(), 3u);
  for (std::int64_t c = 0; c < 3; ++c) {
    const torch::Tensor channel = normalised.train.images.select(1, c).to(torch::kFloat64);
    EXPECT_NEAR(channel.mean().item<double>(), 0.0, 1e-4);
    EXPECT_NEAR(channel.std(/*unbiased=*/false).item<double>(), 1.0, 1e-3);
  }
  EXPECT_ERROR(load("{name: cifar10, path: data/cifar, labels: coarse}"), "dataset cifar10: unknown key 'labels'");
  // Means that would be ignored (the training split's statistics normalise by default).
  EXPECT_ERROR(load("{name: cifar10, path: data/cifar, val_size: 30, mean: [0.5, 0.5, 0.5]}"), "is used only with normalize: given (normalize is train)");
  EXPECT_ERROR(load("{name: cifar100, path: data/cifar, labels: medium}"), "labels");
  EXPECT_ERROR(load("{name: cifar100, path: data/cifar, val_size: 1}"), "cifar100: " + path("data/cifar") + "/train.bin: cannot open (no such file");
}

// ---------------------------------------------------------------------------------------------
// Image folders

// Writes an 8-bit PNG with 1 (grey), 3 (RGB) or 4 (RGBA) interleaved channels.
void write_png(const std::string& file, int width, int height, int channels, const std::vector<std::uint8_t>& pixels) {
  fs::create_directories(fs::path(file).parent_path());
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  ASSERT_TRUE(png_image_write_to_file(&image, file.c_str(), 0, pixels.data(), 0, nullptr)) << image.message;
}

// An RGB (3) or grey (1) JPEG at quality 100.
Bytes jpeg_bytes(int width, int height, int channels, const std::vector<std::uint8_t>& pixels) {
  jpeg_compress_struct info;
  jpeg_error_mgr errors;
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = width;
  info.image_height = height;
  info.input_components = channels;
  info.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, 100, TRUE);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<std::uint8_t*>(pixels.data()) + info.next_scanline * width * channels;
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  Bytes out(reinterpret_cast<char*>(buffer), size);
  jpeg_destroy_compress(&info);
  std::free(buffer);
  return out;
}

// A width x height RGB image whose pixel (x, y) is f(x, y).
std::vector<std::uint8_t> rgb_image(int width, int height, const std::function<std::array<int, 3>(int, int)>& f) {
  std::vector<std::uint8_t> pixels;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int v : f(x, y)) pixels.push_back(static_cast<std::uint8_t>(v));
  return pixels;
}

// Images are told apart by their blue channel: blue 10 k + 5 is image k.
std::vector<std::int64_t> blue_ids(const ImageSet& set) {
  return to_vector(set.images.select(1, 2).select(1, 0).select(1, 0).mul(255).sub(5).div(10).round());
}

TEST_F(DatasetFormats, ImageFolderPlacesPixelsCropsAndResizes) {
  // 32 x 32: no resampling at all, so every pixel is exact.
  write_png(path("root/a/exact.png"), 32, 32, 3, rgb_image(32, 32, [](int x, int y) { return std::array<int, 3>{8 * x, 8 * y, 105}; }));
  // 48 wide, 32 tall: the shorter side is already 32, so only the centre 32 columns (8..39) stay.
  write_png(path("root/b/wide.png"), 48, 32, 3, rgb_image(48, 32, [](int x, int y) { return std::array<int, 3>{5 * x, y, 115}; }));
  // 64 x 64 in four flat quadrants, halved: pixels away from the quadrant borders keep their colour.
  write_png(path("root/c/quadrants.png"), 64, 64, 3, rgb_image(64, 64, [](int x, int y) {
              return std::array<int, 3>{x < 32 ? 200 : 20, y < 32 ? 150 : 50, 125};
            }));
  // 16 x 16 horizontal ramp, doubled: bilinear between pixel centres.
  write_png(path("root/d/ramp.png"), 16, 16, 3, rgb_image(16, 16, [](int x, int) { return std::array<int, 3>{16 * x, 0, 135}; }));
  write("root/d/notes.txt", "not an image: ignored");
  ImageFolderOptions options;
  options.folder = path("root");
  options.val_fraction = 0;
  const DataSplits data = load_image_folder(options);
  EXPECT_EQ(data.class_names, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(data.num_classes, 4);
  EXPECT_EQ(data.input_shape, (std::vector<std::int64_t>{3, 32, 32}));
  ASSERT_EQ(data.train.images.sizes(), (std::vector<std::int64_t>{4, 3, 32, 32}));
  EXPECT_EQ(data.val.size(), 0);
  EXPECT_EQ(data.test.size(), 0);
  const std::vector<std::int64_t> ids = blue_ids(data.train), labels = to_vector(data.train.labels);
  const auto image = [&](std::int64_t id) {
    const auto at = std::find(ids.begin(), ids.end(), id) - ids.begin();
    EXPECT_EQ(labels[at], id - 10);  // a = 0 (blue 105, id 10), b = 1 (blue 115, id 11), ...
    return data.train.images[at];
  };
  const torch::Tensor exact = image(10), wide = image(11), quadrants = image(12), ramp = image(13);
  for (int y = 0; y < 32; y += 3)
    for (int x = 0; x < 32; x += 5) {
      EXPECT_FLOAT_EQ(exact[0][y][x].item<float>(), 8 * x / 255.0f);
      EXPECT_FLOAT_EQ(exact[1][y][x].item<float>(), 8 * y / 255.0f);
      EXPECT_FLOAT_EQ(exact[2][y][x].item<float>(), 105 / 255.0f);
      EXPECT_FLOAT_EQ(wide[0][y][x].item<float>(), 5 * (x + 8) / 255.0f);
      EXPECT_FLOAT_EQ(wide[1][y][x].item<float>(), y / 255.0f);
    }
  for (const auto& [y, x] : {std::pair<int, int>{2, 2}, {2, 29}, {29, 2}, {29, 29}}) {
    EXPECT_NEAR(quadrants[0][y][x].item<float>() * 255, x < 16 ? 200 : 20, 1e-3);
    EXPECT_NEAR(quadrants[1][y][x].item<float>() * 255, y < 16 ? 150 : 50, 1e-3);
  }
  // Output column 2 is centred on input column 0.75: a quarter of column 0, three quarters of column 1.
  EXPECT_NEAR(ramp[0][7][2].item<float>() * 255, 12, 1e-3);
  EXPECT_NEAR(ramp[0][7][0].item<float>() * 255, 0, 1e-3);   // clamped at the edge
  EXPECT_NEAR(ramp[0][7][31].item<float>() * 255, 240, 1e-3);

  // resize 64, size 32: the shorter side goes to 64 first, then the centre 32 x 32 is cut out.
  options.size = 32;
  options.resize = 64;
  const DataSplits zoomed = load_image_folder(options);
  const auto zoomed_at = std::find(ids.begin(), ids.end(), 12) - ids.begin();
  EXPECT_NEAR(zoomed.train.images[zoomed_at][0][0][0].item<float>() * 255, 200, 1e-3);   // quadrants at full size: centre crop
  EXPECT_NEAR(zoomed.train.images[zoomed_at][0][0][31].item<float>() * 255, 20, 1e-3);
}

TEST_F(DatasetFormats, ImageFolderConvertsGreyAlphaAndJpeg) {
  write_png(path("root/grey/g.png"), 32, 32, 1, std::vector<std::uint8_t>(32 * 32, 77));
  std::vector<std::uint8_t> rgba;
  for (int i = 0; i < 32 * 32; ++i) rgba.insert(rgba.end(), {255, 0, 0, static_cast<std::uint8_t>(i % 256)});
  write_png(path("root/rgba/r.png"), 32, 32, 4, rgba);
  write("root/jpeg/flat.JPG", jpeg_bytes(40, 32, 3, rgb_image(40, 32, [](int, int) { return std::array<int, 3>{30, 140, 220}; })));
  write("root/jpeg/grey.jpeg", jpeg_bytes(32, 32, 1, std::vector<std::uint8_t>(32 * 32, 180)));
  ImageFolderOptions options;
  options.folder = path("root");
  options.val_fraction = 0;
  const DataSplits data = load_image_folder(options);
  ASSERT_EQ(data.class_names, (std::vector<std::string>{"grey", "jpeg", "rgba"}));
  const std::vector<std::int64_t> labels = to_vector(data.train.labels);
  for (std::int64_t k = 0; k < data.train.size(); ++k) {
    const torch::Tensor image = data.train.images[k].mul(255);
    const torch::Tensor r = image[0], g = image[1], b = image[2];
    if (labels[k] == 0) {  // grey PNG: replicated
      EXPECT_TRUE(torch::allclose(image, torch::full_like(image, 77), 0, 1e-3));
    } else if (labels[k] == 2) {  // RGBA: alpha dropped, colour kept whatever the transparency
      EXPECT_NEAR(r.min().item<float>(), 255, 1e-3);
      EXPECT_NEAR(g.max().item<float>(), 0, 1e-3);
    } else if (std::abs(r.mean().item<float>() - 180) < 3) {  // grey JPEG: the three channels equal
      EXPECT_TRUE(torch::equal(r, g));
      EXPECT_TRUE(torch::equal(r, b));
    } else {  // lossy, but a flat colour survives quality 100 closely
      EXPECT_NEAR(r.mean().item<float>(), 30, 3);
      EXPECT_NEAR(g.mean().item<float>(), 140, 3);
      EXPECT_NEAR(b.mean().item<float>(), 220, 3);
    }
  }
  options.channels = 1;
  const DataSplits grey = load_image_folder(options);
  EXPECT_EQ(grey.input_shape, (std::vector<std::int64_t>{1, 32, 32}));
  for (std::int64_t k = 0; k < grey.train.size(); ++k)
    if (to_vector(grey.train.labels)[k] == 2) {
      EXPECT_NEAR(grey.train.images[k][0][5][5].item<float>(), 0.299f, 1e-5);  // pure red: ITU-R 601's red weight
    }
}

TEST_F(DatasetFormats, ImageFolderDecodesAdobeCmykJpeg) {
  // Photoshop's convention, which libjpeg marks with an Adobe segment: inverted ink values, so red
  // (no cyan, full magenta and yellow, no black) is stored as 255, 0, 0, 255.
  jpeg_compress_struct info;
  jpeg_error_mgr errors;
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = 16;
  info.image_height = 16;
  info.input_components = 4;
  info.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, 100, TRUE);
  jpeg_start_compress(&info, TRUE);
  std::vector<std::uint8_t> row;
  for (int x = 0; x < 16; ++x) row.insert(row.end(), {255, 0, 0, 255});
  while (info.next_scanline < info.image_height) {
    JSAMPROW pointer = row.data();
    jpeg_write_scanlines(&info, &pointer, 1);
  }
  jpeg_finish_compress(&info);
  write("root/red/cmyk.jpg", Bytes(reinterpret_cast<char*>(buffer), size));
  jpeg_destroy_compress(&info);
  std::free(buffer);
  write_png(path("root/zz_other/grey.png"), 16, 16, 1, std::vector<std::uint8_t>(256, 128));  // a second class, listed after red
  ImageFolderOptions options;
  options.folder = path("root");
  options.val_fraction = 0;
  options.size = 8;
  const DataSplits data = load_image_folder(options);
  ASSERT_EQ(data.train.size(), 2);
  const std::int64_t red = data.train.labels[0].item<std::int64_t>() == 0 ? 0 : 1;  // class 0: the CMYK image
  EXPECT_NEAR(data.train.images[red][0].mean().item<float>() * 255, 255, 3);
  EXPECT_NEAR(data.train.images[red][1].mean().item<float>() * 255, 0, 3);
  EXPECT_NEAR(data.train.images[red][2].mean().item<float>() * 255, 0, 3);
}

TEST_F(DatasetFormats, ImageFolderSplitsAreFixedDisjointAndIndependentOfThreads) {
  // 2 classes x 12 images, listed a/00..11, b/00..11; image k (in listing order) has blue 10 k + 5.
  for (int k = 0; k < 24; ++k) {
    char name[32];
    std::snprintf(name, sizeof name, "root/%s/%02d.png", k < 12 ? "a" : "b", k % 12);
    write_png(path(name), 20, 24, 3, rgb_image(20, 24, [k](int x, int y) { return std::array<int, 3>{x * 12, y * 10, 10 * k + 5}; }));
  }
  ImageFolderOptions options;
  options.folder = path("root");
  options.val_fraction = 0.25;
  const DataSplits data = load_image_folder(options);
  const std::vector<std::int64_t> order = fixed_order(24);
  EXPECT_EQ(blue_ids(data.val), std::vector<std::int64_t>(order.begin(), order.begin() + 6));
  EXPECT_EQ(blue_ids(data.train), std::vector<std::int64_t>(order.begin() + 6, order.end()));
  for (std::int64_t k = 0; k < data.train.size(); ++k) EXPECT_EQ(data.train.labels[k].item<std::int64_t>(), blue_ids(data.train)[k] / 12);
  DataSplits serial;
  tbb::task_arena one_thread(1);
  one_thread.execute([&] { serial = load_image_folder(options); });
  EXPECT_TRUE(torch::equal(serial.train.images, data.train.images));
  EXPECT_TRUE(torch::equal(serial.val.images, data.val.images));
  options.train_subset = 5;
  EXPECT_EQ(blue_ids(load_image_folder(options).train), std::vector<std::int64_t>(order.begin() + 6, order.begin() + 11));

  // train/, val/ and test/ folders: val and test come from their folders.
  fs::rename(path("root"), path("split_root_train"));
  fs::create_directories(path("split/val/b"));
  fs::create_directories(path("split/test/a"));
  fs::rename(path("split_root_train"), path("split/train"));
  write_png(path("split/val/b/v.png"), 32, 32, 3, rgb_image(32, 32, [](int, int) { return std::array<int, 3>{0, 0, 255}; }));
  write_png(path("split/test/a/t1.png"), 32, 32, 3, rgb_image(32, 32, [](int, int) { return std::array<int, 3>{0, 0, 245}; }));
  write_png(path("split/test/a/t2.png"), 32, 32, 3, rgb_image(32, 32, [](int, int) { return std::array<int, 3>{0, 0, 235}; }));
  options.folder = path("split");
  options.train_subset = 0;
  const DataSplits split = load_image_folder(options);
  EXPECT_EQ(split.train.size(), 24);  // nothing carved off: val/ exists
  ASSERT_EQ(split.val.size(), 1);
  EXPECT_EQ(split.val.labels[0].item<std::int64_t>(), 1);
  ASSERT_EQ(split.test.size(), 2);
  EXPECT_EQ(to_vector(split.test.labels), (std::vector<std::int64_t>{0, 0}));
  write_png(path("split/val/zebra/z.png"), 8, 8, 1, std::vector<std::uint8_t>(64, 0));
  EXPECT_ERROR(load_image_folder(options), "image_folder: " + path("split/val/zebra") + ": class 'zebra' is not among the training classes");
}

TEST_F(DatasetFormats, ImageFolderFileProblemsAreOneLineErrorsNamingTheFile) {
  ImageFolderOptions options;
  options.folder = path("root");
  options.val_fraction = 0;
  fs::create_directories(path("root"));
  EXPECT_ERROR(load_image_folder(options), "image_folder: " + path("root") + ": no class folders");
  fs::create_directories(path("root/empty"));
  write("root/empty/readme.txt", "no images here");
  EXPECT_ERROR(load_image_folder(options), "image_folder: " + path("root/empty") + ": no .jpg, .jpeg or .png images in the class folder");
  fs::remove_all(path("root/empty"));

  const Bytes jpeg = jpeg_bytes(64, 64, 3, rgb_image(64, 64, [](int x, int y) { return std::array<int, 3>{x * 4, y * 4, (x * y) % 256}; }));
  write("root/cats/good.jpg", jpeg);
  EXPECT_ERROR(load_image_folder(options), "image_folder: " + path("root") + ": one class folder ('cats'); classification needs at least two");
  write("root/dogs/good.jpg", jpeg);
  EXPECT_EQ(load_image_folder(options).train.size(), 2);
  write("root/cats/cut.jpg", jpeg.substr(0, jpeg.size() / 2));
  EXPECT_ERROR(load_image_folder(options), "image_folder: " + path("root/cats/cut.jpg") + ": corrupt or truncated JPEG (libjpeg: ");
  fs::remove(path("root/cats/cut.jpg"));

  write_png(path("png/x.png"), 64, 64, 3, rgb_image(64, 64, [](int x, int y) { return std::array<int, 3>{x, y, x ^ y}; }));
  std::ifstream in(path("png/x.png"), std::ios::binary);
  const Bytes png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write("root/cats/cut.png", png.substr(0, png.size() - 40));
  EXPECT_ERROR(load_image_folder(options), "image_folder: " + path("root/cats/cut.png") + ": corrupt or truncated PNG (libpng: ");
  fs::remove(path("root/cats/cut.png"));

  write("root/cats/text.jpg", "this is not a JPEG");
  EXPECT_ERROR(load_image_folder(options), "image_folder: " + path("root/cats/text.jpg") + ": not a JPEG or PNG image");
  fs::remove(path("root/cats/text.jpg"));
  options.resize = 16;
  EXPECT_ERROR(load_image_folder(options), "dataset.resize must be 0 (the size) or at least dataset.size");
}

// ---------------------------------------------------------------------------------------------
// NumPy

// A .npy file: header padded with spaces to a multiple of 64 bytes, as numpy writes it.
Bytes npy(const std::string& descr, const std::vector<std::int64_t>& shape, const Bytes& data, int version = 1,
          const std::string& fortran = "False") {
  std::string dims;
  for (std::int64_t d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': (" + dims + "), }";
  const std::size_t prefix = version == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  Bytes out = Bytes("\x93NUMPY", 6) + static_cast<char>(version) + '\0';
  for (int b = 0; b < (version == 1 ? 2 : 4); ++b) out += static_cast<char>((header.size() >> (8 * b)) & 0xff);
  return out + header + data;
}

template <typename T>
Bytes raw(const std::vector<T>& values) {
  return Bytes(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// A .npz (zip) of named .npy entries, deflated or stored.
void write_npz(const std::string& file, const std::vector<std::pair<std::string, Bytes>>& arrays, bool deflate) {
  fs::create_directories(fs::path(file).parent_path());
  int code = 0;
  zip_t* archive = zip_open(file.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  ASSERT_NE(archive, nullptr);
  for (const auto& [name, bytes] : arrays) {
    zip_source_t* source = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
    const zip_int64_t index = zip_file_add(archive, (name + ".npy").c_str(), source, ZIP_FL_OVERWRITE);
    ASSERT_GE(index, 0);
    zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  ASSERT_EQ(zip_close(archive), 0);
}

TEST_F(DatasetFormats, NpyHeadersDtypesAndTheirErrors) {
  const NpyArray floats = parse_npy(npy("<f4", {2, 3}, raw(std::vector<float>{1, 2, 3, 4, 5, 6.5f})), "a.npy");
  EXPECT_EQ(floats.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(floats.data.scalar_type(), torch::kFloat32);
  EXPECT_FLOAT_EQ(floats.data[1][2].item<float>(), 6.5f);
  EXPECT_FLOAT_EQ(floats.data[0][1].item<float>(), 2.0f);  // C order: row by row
  const NpyArray v2 = parse_npy(npy("<i8", {3}, raw(std::vector<std::int64_t>{7, -1, 1LL << 40}), 2), "b.npy");
  EXPECT_EQ(to_vector(v2.data), (std::vector<std::int64_t>{7, -1, 1LL << 40}));
  EXPECT_EQ(parse_npy(npy("<u2", {2}, raw(std::vector<std::uint16_t>{65535, 3}), 3), "c.npy").data[0].item<std::int64_t>(), 65535);
  EXPECT_EQ(parse_npy(npy("|u1", {}, Bytes(1, '\x05')), "scalar.npy").data.item<int>(), 5);

  EXPECT_ERROR(parse_npy(npy("<f4", {2, 2}, raw(std::vector<float>(4)), 1, "True"), "f.npy"), "f.npy: Fortran-ordered arrays are not supported");
  EXPECT_ERROR(parse_npy(npy(">f4", {1}, Bytes(4, '\0')), "big.npy"), "big.npy: big-endian dtype '>f4' is not supported");
  EXPECT_ERROR(parse_npy(npy("<c8", {1}, Bytes(8, '\0')), "c.npy"), "c.npy: unsupported dtype '<c8'");
  EXPECT_ERROR(parse_npy(npy("<f4", {10}, Bytes(12, '\0')), "cut.npy"), "cut.npy: truncated: the header promises 40 data bytes (10 of <f4), found 12");
  EXPECT_ERROR(parse_npy(npy("<f4", {1}, Bytes(8, '\0')), "long.npy"), "long.npy: 4 bytes of trailing data");
  EXPECT_ERROR(parse_npy("PK\x03\x04 a zip", "zip.npy"), "zip.npy: not a .npy file");
  EXPECT_ERROR(parse_npy(npy("<f4", {4}, Bytes(16, '\0')).substr(0, 30), "short.npy"), "short.npy: truncated .npy header");
  Bytes structured = Bytes("\x93NUMPY\x01\x00", 8);
  const std::string header = "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }\n";
  structured += static_cast<char>(header.size()) + Bytes(1, '\0') + header;
  EXPECT_ERROR(parse_npy(structured, "s.npy"), "s.npy: bad .npy header: structured dtypes");
}

TEST_F(DatasetFormats, NumpyImagesSplitAndNormalise) {
  // 20 grey 4 x 5 images (N x H x W, uint8): image i is filled with i; label i % 3.
  Bytes images, labels;
  for (int i = 0; i < 20; ++i) images += Bytes(20, static_cast<char>(i)), labels += static_cast<char>(i % 3);
  write_npz(path("d/train.npz"), {{"x", npy("|u1", {20, 4, 5}, images)}, {"y", npy("|u1", {20}, labels)}}, /*deflate=*/true);
  NumpyOptions options;
  options.train.archive = path("d/train.npz");
  options.val_fraction = 0.25;
  const DataSplits data = load_numpy(options);
  EXPECT_EQ(data.input_shape, (std::vector<std::int64_t>{1, 4, 5}));
  EXPECT_EQ(data.num_classes, 3);
  ASSERT_EQ(data.train.images.sizes(), (std::vector<std::int64_t>{15, 1, 4, 5}));
  const std::vector<std::int64_t> order = fixed_order(20);
  const auto ids = [](const ImageSet& set) { return to_vector(set.images.select(1, 0).select(1, 3).select(1, 4).mul(255).round()); };
  EXPECT_EQ(ids(data.val), std::vector<std::int64_t>(order.begin(), order.begin() + 5));
  EXPECT_EQ(ids(data.train), std::vector<std::int64_t>(order.begin() + 5, order.end()));
  for (std::int64_t k = 0; k < 15; ++k) EXPECT_EQ(data.train.labels[k].item<std::int64_t>(), ids(data.train)[k] % 3);
  EXPECT_EQ(data.test.size(), 0);

  // Separate .npy files for validation and a stored (uncompressed) .npz for test, float32 N x C x H x W.
  std::vector<float> test_pixels(2 * 1 * 4 * 5, 0.5f);
  write_npz(path("d/test.npz"), {{"inputs", npy("<f4", {2, 1, 4, 5}, raw(test_pixels))}, {"targets", npy("<i8", {2}, raw(std::vector<std::int64_t>{2, 5}))}}, false);
  options.test.archive = path("d/test.npz");
  options.inputs_key = "inputs";
  EXPECT_ERROR(load_numpy(options), "numpy: " + path("d/train.npz") + ": no array 'inputs' (arrays: x, y)");
  options.inputs_key = "x";
  options.labels_key = "y";
  EXPECT_ERROR(load_numpy(options), "numpy: " + path("d/test.npz") + ": no array 'x' (arrays: inputs, targets)");
  write_npz(path("d/test.npz"), {{"x", npy("<f4", {2, 1, 4, 5}, raw(test_pixels))}, {"y", npy("<i8", {2}, raw(std::vector<std::int64_t>{2, 5}))}}, false);
  write("d/val_x.npy", npy("|u1", {3, 4, 5}, Bytes(60, '\xff')));
  write("d/val_y.npy", npy("<i4", {3}, raw(std::vector<std::int32_t>{0, 1, 2})));
  options.val.inputs = path("d/val_x.npy");
  options.val.labels = path("d/val_y.npy");
  const DataSplits full = load_numpy(options);
  EXPECT_EQ(full.train.size(), 20);  // nothing carved off: validation has its own files
  EXPECT_EQ(full.num_classes, 6);    // the test split's label 5
  EXPECT_TRUE(torch::equal(full.val.images, torch::ones({3, 1, 4, 5})));
  EXPECT_TRUE(torch::equal(full.test.images, torch::full({2, 1, 4, 5}, 0.5f)));
  options.scale = false;
  EXPECT_EQ(load_numpy(options).val.images.max().item<float>(), 255.0f);
  options.scale = true;
  options.classes = 4;
  EXPECT_ERROR(load_numpy(options), "numpy: " + path("d/test.npz") + ": y: label 5 at index 1 is out of range for classes: 4");
  options.classes = 0;
  write("d/val_y.npy", npy("<i4", {2}, raw(std::vector<std::int32_t>{0, 1})));
  EXPECT_ERROR(load_numpy(options), "numpy: " + path("d/val_y.npy") + ": 2 labels for 3 inputs");
  write("d/val_y.npy", npy("<f4", {3}, raw(std::vector<float>{0, 1, 2})));
  EXPECT_ERROR(load_numpy(options), "labels must be integers, found dtype '<f4'");
  write("d/val_x.npy", npy("|u1", {3, 5, 4}, Bytes(60, '\xff')));
  write("d/val_y.npy", npy("<i4", {3}, raw(std::vector<std::int32_t>{0, 1, 2})));
  EXPECT_ERROR(load_numpy(options), "numpy: " + path("d/val_x.npy") + ": inputs of shape 3 x 1 x 5 x 4 (Float) do not match the training inputs' 20 x 1 x 4 x 5 (Float)");

  // Through the registry: paths relative to `path`, image options applied.
  write("d/val_x.npy", npy("|u1", {3, 4, 5}, Bytes(60, '\x10')));
  const DataSplits registered = load_dataset(Config::parse("{name: numpy, path: d, train: train.npz, val_inputs: val_x.npy, val_labels: val_y.npy}"), dir_.string());
  ASSERT_EQ(registered.mean.size(), 1u);
  EXPECT_NEAR(registered.mean[0], 9.5 / 255, 1e-6);
  EXPECT_NEAR(registered.train.images.mean().item<double>(), 0.0, 1e-5);
  EXPECT_ERROR(load_dataset(Config::parse("{name: numpy, path: d, val: train.npz}"), dir_.string()), "dataset.train (an .npz) or dataset.train_inputs and train_labels (.npy) are required");
  EXPECT_ERROR(load_dataset(Config::parse("{name: numpy, path: d, train: train.npz, train_inputs: val_x.npy}"), dir_.string()), "exclude each other");
}

TEST_F(DatasetFormats, NumpyTokensFeaturesAndDamagedArchives) {
  std::vector<std::int64_t> tokens;
  for (int i = 0; i < 10 * 6; ++i) tokens.push_back(i % 6 == 5 ? 0 : (i * 7) % 40);
  write_npz(path("t/train.npz"), {{"x", npy("<i8", {10, 6}, raw(tokens))}, {"y", npy("<i8", {10}, raw(std::vector<std::int64_t>(10, 1)))}}, true);
  NumpyOptions options;
  options.train.archive = path("t/train.npz");
  options.val_fraction = 0.2;
  const DataSplits text = load_numpy(options);
  EXPECT_EQ(text.input_shape, (std::vector<std::int64_t>{6}));
  EXPECT_EQ(text.train.images.scalar_type(), torch::kInt64);
  EXPECT_EQ(text.vocabulary_size, *std::max_element(tokens.begin(), tokens.end()) + 1);
  EXPECT_EQ(text.num_classes, 2);
  EXPECT_ERROR(load_dataset(Config::parse("{name: numpy, train: " + path("t/train.npz") + ", normalize: train}"), ""),
               "normalize: needs image inputs (N x C x H x W or N x H x W floats), found 1-dimensional samples");

  // 2-D float features are kept as they are, without normalisation by default.
  write_npz(path("f/train.npz"), {{"x", npy("<f8", {4, 3}, raw(std::vector<double>(12, 2.5)))}, {"y", npy("<i8", {4}, raw(std::vector<std::int64_t>{0, 1, 0, 1}))}}, false);
  const DataSplits features = load_dataset(Config::parse("{name: numpy, train: " + path("f/train.npz") + ", val_fraction: 0.25}"), "");
  EXPECT_EQ(features.input_shape, (std::vector<std::int64_t>{3}));
  EXPECT_TRUE(torch::equal(features.train.images, torch::full({3, 3}, 2.5f)));

  // Channels-last images (N x H x W x C) are turned channels-first; value c 100 + y 10 + x.
  std::vector<float> hwc;
  for (int n = 0; n < 4; ++n)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x)
        for (int c = 0; c < 3; ++c) hwc.push_back(static_cast<float>(c * 100 + y * 10 + x));
  write_npz(path("hwc/train.npz"), {{"x", npy("<f4", {4, 2, 3, 3}, raw(hwc))}, {"y", npy("<i8", {4}, raw(std::vector<std::int64_t>{0, 1, 0, 1}))}}, false);
  const DataSplits channels_first = load_dataset(
      Config::parse("{name: numpy, train: " + path("hwc/train.npz") + ", channels_last: true, normalize: none, val_fraction: 0.25}"), "");
  EXPECT_EQ(channels_first.input_shape, (std::vector<std::int64_t>{3, 2, 3}));
  EXPECT_EQ(channels_first.train.images[0][2][1][0].item<float>(), 210.0f);
  EXPECT_EQ(channels_first.train.images[2][1][0][2].item<float>(), 102.0f);
  EXPECT_ERROR(load_dataset(Config::parse("{name: numpy, train: " + path("f/train.npz") + ", channels_last: true}"), ""),
               "channels_last needs N x H x W x C image inputs, found 4 x 3");

  // A damaged deflate stream, a cut archive, a missing file.
  std::ifstream in(path("t/train.npz"), std::ios::binary);
  Bytes archive((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Bytes damaged = archive;
  for (std::size_t i = 60; i < 90; ++i) damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
  write("t/damaged.npz", damaged);
  options.train.archive = path("t/damaged.npz");
  EXPECT_ERROR(load_numpy(options), "numpy: " + path("t/damaged.npz") + ": x.npy: ");
  write("t/cut.npz", archive.substr(0, archive.size() / 2));
  options.train.archive = path("t/cut.npz");
  EXPECT_ERROR(load_numpy(options), "numpy: " + path("t/cut.npz") + ": not a readable .npz (zip) archive");
  options.train.archive = path("t/missing.npz");
  EXPECT_ERROR(load_numpy(options), "numpy: " + path("t/missing.npz") + ": cannot open (no such file)");
}

// ---------------------------------------------------------------------------------------------
// Text

TEST_F(DatasetFormats, DelimitedFilesQuotingAndLineEnds) {
  const DelimitedRows csv = parse_delimited("\xEF\xBB\xBFtext,label\r\n\"hello, world\",pos\r\n\r\n\"say \"\"hi\"\"\nthere\",neg\nplain \"quoted\" word,x", ',', true, "t.csv");
  ASSERT_EQ(csv.rows.size(), 4u);
  EXPECT_EQ(csv.rows[0], (std::vector<std::string>{"text", "label"}));
  EXPECT_EQ(csv.rows[1], (std::vector<std::string>{"hello, world", "pos"}));
  EXPECT_EQ(csv.rows[2], (std::vector<std::string>{"say \"hi\"\nthere", "neg"}));
  EXPECT_EQ(csv.rows[3], (std::vector<std::string>{"plain \"quoted\" word", "x"}));
  EXPECT_EQ(csv.lines, (std::vector<std::size_t>{1, 2, 4, 6}));
  // GLUE's TSV files are unquoted: a quote is text.
  const DelimitedRows tsv = parse_delimited("sentence\tlabel\n\"it 's\tfine\n", '\t', false, "t.tsv");
  EXPECT_EQ(tsv.rows[1], (std::vector<std::string>{"\"it 's", "fine"}));
  EXPECT_ERROR(parse_delimited("a,b\n\"open,1\n", ',', true, "u.csv"), "u.csv:2: unterminated quote");
  EXPECT_ERROR(parse_delimited("a,b\n\"x\"y,1\n", ',', true, "v.csv"), "v.csv:2: text after a closing quote");
}

TEST_F(DatasetFormats, TextTsvUsesTheWordNetTokenizerAndMapsLabels) {
  write("glue/train.tsv",
        "sentence\tlabel\n"
        "the cat sat\t1\n"
        "the dog ran\t0\n"
        "The cat ran .\t1\n"
        "a bird\t0\n");
  write("glue/dev.tsv", "sentence\tlabel\nthe zebra sat\t1\nthe\t2\n");
  TextOptions options;
  options.train = path("glue/train.tsv");
  options.val = path("glue/dev.tsv");
  options.max_length = 5;
  const DataSplits data = load_text(options);
  // Counts: the 3, cat 2, ran 2, then the singletons in byte order.
  EXPECT_EQ(data.token_strings, (std::vector<std::string>{"the", "cat", "ran", ".", "a", "bird", "dog", "sat"}));
  EXPECT_EQ(data.mask_id, 2);
  EXPECT_EQ(data.vocabulary_size, 3 + 8);
  EXPECT_EQ(data.num_classes, 3);  // labels are numbers: the largest + 1
  EXPECT_TRUE(data.class_names.empty());
  EXPECT_EQ(data.input_shape, (std::vector<std::int64_t>{5}));
  // Validation in file order; "zebra" is unknown (1); padding 0.
  ASSERT_EQ(data.val.size(), 2);
  EXPECT_EQ(to_vector(data.val.images[0]), (std::vector<std::int64_t>{3, 1, 10, 0, 0}));
  EXPECT_EQ(to_vector(data.val.labels), (std::vector<std::int64_t>{1, 2}));
  // Training rows in the fixed shuffle; "The" was lower-cased.
  const std::vector<std::int64_t> order = fixed_order(4);
  const std::vector<std::vector<std::int64_t>> rows{{3, 4, 10, 0, 0}, {3, 9, 5, 0, 0}, {3, 4, 5, 6, 0}, {7, 8, 0, 0, 0}};
  for (std::size_t k = 0; k < 4; ++k) EXPECT_EQ(to_vector(data.train.images[k]), rows[order[k]]) << k;
  EXPECT_EQ(decode_wordnet_tokens(data, data.val.images[0]), "the ? sat");

  // Characters: the WordNet character ids (from 2, most frequent first).
  options.tokens = "characters";
  const DataSplits characters = load_text(options);
  EXPECT_EQ(characters.mask_id, 1);
  EXPECT_EQ(characters.token_characters.substr(0, 2), " a");  // 8 spaces; 'a' and 't' 6 each, ties in byte order
  EXPECT_EQ(characters.vocabulary_size, 2 + static_cast<std::int64_t>(characters.token_characters.size()));

  options.tokens = "bytes";
  EXPECT_ERROR(load_text(options), "dataset.tokens: expected characters or words, got 'bytes'");
  options.tokens = "words";
  options.sentence_column = "text";
  EXPECT_ERROR(load_text(options), "text: " + path("glue/train.tsv") + ": no column 'text' (columns: sentence, label)");
  options.sentence_column = "sentence";
  // Numbers are class indices: a sparse one would make an output per number up to it.
  write("glue/train.tsv", "sentence\tlabel\nok\t0\nfar\t1000000\n");
  EXPECT_ERROR(load_text(options), "text: " + path("glue/train.tsv") + ": the labels are whole numbers up to 1000000 but only 4 distinct ones");
  write("glue/train.tsv", "sentence\tsentence\tlabel\na\tb\t1\n");
  EXPECT_ERROR(load_text(options), "text: " + path("glue/train.tsv") + ": the header names column 'sentence' twice");
  write("glue/train.tsv", "sentence\tlabel\nok\t1\nmissing a label\n");
  EXPECT_ERROR(load_text(options), "text: " + path("glue/train.tsv") + ":3: expected 2 fields (as the header), found 1");
  options.train = path("glue/nothing.tsv");
  EXPECT_ERROR(load_text(options), "text: " + path("glue/nothing.tsv") + ": cannot open (no such file)");
}

TEST_F(DatasetFormats, TextCsvPairsWithStringLabels) {
  write("nli/train.csv",
        "premise,hypothesis,label\n"
        "\"a man, a plan\",\"a canal\",entailment\n"
        "one two three four five six,x,contradiction\n"
        "\"he said \"\"no\"\"\",he agreed,contradiction\n"
        "short,y,neutral\n");
  const DataSplits data = load_dataset(
      Config::parse("{name: text, path: nli, train: train.csv, val: '', val_fraction: 0.25, sentence: premise, sentence2: hypothesis, max_length: 6}"),
      dir_.string());
  EXPECT_EQ(data.class_names, (std::vector<std::string>{"contradiction", "entailment", "neutral"}));
  EXPECT_EQ(data.num_classes, 3);
  EXPECT_EQ(data.train.size(), 3);
  EXPECT_EQ(data.val.size(), 1);
  const std::int64_t separator = data.vocabulary_size - 1;
  EXPECT_EQ(data.token_strings.back(), "[SEP]");
  // Every row, whichever split it landed in: one separator, labels by class name order.
  const std::vector<std::int64_t> order = fixed_order(4);
  const std::vector<std::int64_t> labels_in_file{1, 0, 0, 2};
  EXPECT_EQ(data.val.labels[0].item<std::int64_t>(), labels_in_file[order[0]]);
  for (std::int64_t k = 0; k < 3; ++k) EXPECT_EQ(data.train.labels[k].item<std::int64_t>(), labels_in_file[order[k + 1]]);
  for (const ImageSet* set : {&data.val, &data.train})
    for (std::int64_t k = 0; k < set->size(); ++k) EXPECT_EQ(set->images[k].eq(separator).sum().item<std::int64_t>(), 1);

  // With a validation file every training row is in the vocabulary; pairs too long for
  // max_length lose tokens from the longer side's end.
  write("nli/dev.csv", "premise,hypothesis,label\nx,y,neutral\n");
  const DataSplits all = load_dataset(
      Config::parse("{name: text, path: nli, train: train.csv, val: dev.csv, sentence: premise, sentence2: hypothesis, max_length: 6}"),
      dir_.string());
  const std::vector<std::string> texts{"a man , [SEP] a canal", "one two three four [SEP] x", "he said \" [SEP] he agreed",
                                       "short [SEP] y"};
  for (std::int64_t k = 0; k < 4; ++k) {
    EXPECT_EQ(decode_wordnet_tokens(all, all.train.images[k]), texts[order[k]]);
    EXPECT_EQ(all.train.labels[k].item<std::int64_t>(), labels_in_file[order[k]]);
  }
  EXPECT_EQ(decode_wordnet_tokens(all, all.val.images[0]), "x [SEP] y");
  EXPECT_ERROR(load_dataset(Config::parse("{name: text, path: nli, train: train.csv, sentence: premise, delimiter: tab}"), dir_.string()),
               "no column 'premise' (columns: premise,hypothesis,label); is dataset.delimiter right?");
}

TEST_F(DatasetFormats, FlexibertTrainsOnATsvDataset) {
  // A learnable toy task: sentences about animals (1) or vehicles (0).
  const std::vector<std::string> animals{"cat", "dog", "bird", "horse"}, vehicles{"car", "bus", "train", "bike"};
  std::string train = "sentence\tlabel\n", dev = "sentence\tlabel\n";
  for (int i = 0; i < 96; ++i) {
    const bool animal = i % 2 == 0;
    const std::string& noun = (animal ? animals : vehicles)[(i / 2) % 4];
    (i < 80 ? train : dev) += "i saw a " + noun + " today\t" + (animal ? "1" : "0") + "\n";
  }
  write("toy/train.tsv", train);
  write("toy/dev.tsv", dev);
  const std::string yaml = R"(
name: train
dataset: {name: text, path: toy, max_length: 8}
optimizer: adamw
lr: 0.001
steps: 4
batch_size: 16
pretrain_steps: 2
latency: false
)";
  EvaluatorContext context;
  context.config_dir = dir_.string();
  auto evaluator = make_evaluator(Config::parse(yaml), context);
  static FlexibertSpace space(FlexibertSpace::Options{});
  const Evaluation evaluation = evaluator->evaluate(space, "sa_wma_h128_n2_f512|c_5_h128_n2_f512", 3);
  ASSERT_TRUE(evaluation.ok) << evaluation.error;
  EXPECT_TRUE(std::isfinite(evaluation.metrics.at("val_loss")));
  EXPECT_TRUE(std::isfinite(evaluation.metrics.at("pretrain_loss")));
  EXPECT_GE(evaluation.metrics.at("val_acc"), 0.0);
}

// ---------------------------------------------------------------------------------------------
// The command line

TEST_F(DatasetFormats, SearchOnACorruptDatasetFailsInOneLineAndLeavesTheDatabaseAlone) {
  const std::string common = std::string("plugins: [") + NASCENT_EXAMPLE_PLUGIN + R"(]
seed: 1
space: {name: chain}
strategy: {name: random}
budget: {evaluations: 2}
evaluator:
  name: train
  steps: 2
  batch_size: 8
)";
  write("good.yaml", common + "  dataset: {name: synthetic, shape: [1, 8, 8], classes: 3, train: 32, val: 16, test: 16}\n");
  const CliOutput first = run_cli("search " + path("good.yaml") + " --db " + path("runs.db") + " --quiet");
  ASSERT_EQ(first.status, 0) << first.out;
  const std::string runs_before = run_cli("results runs --db " + path("runs.db") + " --format json").out;
  // SQLite may keep a write-ahead log beside the file: both must stay as they are.
  const std::string before = file_bytes(path("runs.db")), wal_before = file_bytes(path("runs.db-wal"));

  write_cifar10("cifar");
  write("cifar/data_batch_2.bin", cifar_records(20, 20, cifar10_label).substr(0, 3073 * 20 - 73));
  write("bad.yaml", common + "  dataset: {name: cifar10, path: cifar, val_size: 10}\n");
  const CliOutput bad = run_cli("search " + path("bad.yaml") + " --db " + path("runs.db") + " --quiet");
  EXPECT_EQ(bad.status, 1) << bad.out;
  EXPECT_EQ(bad.out, "nascent: cifar10: " + path("cifar") + "/data_batch_2.bin: truncated: 61387 bytes is not a whole number of 3073-byte records\n");
  EXPECT_EQ(file_bytes(path("runs.db")), before);
  EXPECT_EQ(file_bytes(path("runs.db-wal")), wal_before);
  EXPECT_EQ(run_cli("results runs --db " + path("runs.db") + " --format json").out, runs_before);
  EXPECT_FALSE(fs::exists(path("runs.db-journal")));

  // The same for a final training's own data, after a search and in `nascent train`.
  write("bad-final.yaml", common + "  dataset: {name: synthetic, shape: [1, 8, 8], classes: 3, train: 32, val: 16, test: 16}\n" +
                              "final_training: {epochs: 1, dataset: {name: cifar10, path: cifar, val_size: 10}}\n");
  for (const std::string& command : {"search " + path("bad-final.yaml"), "train " + path("bad-final.yaml") + " --arch 8-16"}) {
    const CliOutput refused = run_cli(command + " --db " + path("runs.db") + " --quiet");
    EXPECT_EQ(refused.status, 1) << refused.out;
    EXPECT_NE(refused.out.find("data_batch_2.bin: truncated"), std::string::npos) << refused.out;
    EXPECT_EQ(file_bytes(path("runs.db")), before);
    EXPECT_EQ(file_bytes(path("runs.db-wal")), wal_before);
  }
}

}  // namespace
}  // namespace nascent
