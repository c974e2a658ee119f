#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "core/error.hpp"
#include "datasets/dataset.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;

const std::string kFashion = "/usr/share/datasets/fashion-mnist";

using Bytes = std::string;

Bytes idx(const std::vector<std::uint32_t>& shape, const Bytes& payload, std::uint8_t type = 0x08) {
  Bytes out{'\0', '\0', static_cast<char>(type), static_cast<char>(shape.size())};
  for (std::uint32_t d : shape)
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((d >> shift) & 0xff);
  return out + payload;
}

std::uint32_t crc32(const Bytes& data) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char byte : data) c = table[(c ^ byte) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// A valid gzip member made of uncompressed ("stored") deflate blocks: the test binary does not
// link zlib, and the reader must accept any conforming stream, not only zlib's own output.
Bytes gzip_stored(const Bytes& data) {
  Bytes out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
  const auto le32 = [&](std::uint32_t v) {
    for (int shift = 0; shift < 32; shift += 8) out += static_cast<char>((v >> shift) & 0xff);
  };
  std::size_t pos = 0;
  do {
    const std::size_t n = std::min<std::size_t>(65535, data.size() - pos);
    const bool last = pos + n == data.size();
    out += static_cast<char>(last ? 1 : 0);
    out += static_cast<char>(n & 0xff);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(~n & 0xff);
    out += static_cast<char>((~n >> 8) & 0xff);
    out.append(data, pos, n);
    pos += n;
  } while (pos < data.size());
  le32(crc32(data));
  le32(static_cast<std::uint32_t>(data.size()));
  return out;
}

// Image i carries its own index in its first three pixels, so a test can tell which source
// image ended up where after the split.
Bytes indexed_images(std::uint32_t n) {
  Bytes payload(std::size_t(n) * 784, '\0');
  for (std::uint32_t i = 0; i < n; ++i) {
    payload[std::size_t(i) * 784 + 0] = static_cast<char>(i & 0xff);
    payload[std::size_t(i) * 784 + 1] = static_cast<char>((i >> 8) & 0xff);
    payload[std::size_t(i) * 784 + 2] = static_cast<char>(i >> 16);
  }
  return idx({n, 28, 28}, payload);
}

Bytes labels_of(std::uint32_t n, std::uint32_t multiplier) {
  Bytes payload(n, '\0');
  for (std::uint32_t i = 0; i < n; ++i) payload[i] = static_cast<char>((i * multiplier) % 10);
  return idx({n}, payload);
}

std::vector<std::int64_t> decoded_indices(const ImageSet& set) {
  const torch::Tensor pixels =
      (set.images.select(1, 0).reshape({set.size(), -1}).slice(1, 0, 3) * 0.3530 + 0.2860).mul(255).round().to(torch::kInt64);
  const torch::Tensor index = pixels.select(1, 0) + pixels.select(1, 1) * 256 + pixels.select(1, 2) * 65536;
  return std::vector<std::int64_t>(index.data_ptr<std::int64_t>(), index.data_ptr<std::int64_t>() + index.numel());
}

class DatasetTest : public ScratchDirTest {
 protected:
  // A complete stand-in for the Fashion-MNIST folder, mixing gzipped and plain files.
  std::string fake_fashion_mnist(const std::string& name) {
    write(name + "/train-images-idx3-ubyte", indexed_images(60000));
    write(name + "/train-labels-idx1-ubyte.gz", gzip_stored(labels_of(60000, 1)));
    write(name + "/t10k-images-idx3-ubyte.gz", gzip_stored(indexed_images(10000)));
    write(name + "/t10k-labels-idx1-ubyte", labels_of(10000, 3));
    return path(name);
  }
};

TEST_F(DatasetTest, IdxReadsPlainAndGzippedAlike) {
  const Bytes content = idx({3, 2, 2}, Bytes("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\xff", 12));
  const torch::Tensor plain = read_idx(write("plain", content));
  const torch::Tensor gzipped = read_idx(write("packed.gz", gzip_stored(content)));
  EXPECT_EQ(plain.sizes(), (std::vector<std::int64_t>{3, 2, 2}));
  EXPECT_EQ(plain.scalar_type(), torch::kUInt8);
  EXPECT_EQ(plain[2][1][1].item<int>(), 255);
  EXPECT_TRUE(torch::equal(plain, gzipped));
  // Detection is by content, not by the file name.
  EXPECT_TRUE(torch::equal(plain, read_idx(write("packed-without-suffix", gzip_stored(content)))));
  EXPECT_EQ(read_idx(write("labels", idx({4}, Bytes("\x01\x02\x03\x04", 4)))).sizes(), (std::vector<std::int64_t>{4}));
}

TEST_F(DatasetTest, CorruptIdxFilesAreOneLineErrorsNamingTheFile) {
  const Bytes good = idx({2, 28, 28}, Bytes(2 * 784, '\x07'));
  Bytes bad_crc = gzip_stored(good);
  bad_crc[40] ^= 0x55;
  const std::vector<std::pair<std::string, std::string>> cases{
      {write("truncated", good.substr(0, good.size() - 5)), "truncated: the header promises 1568 data bytes, found 1563"},
      {write("trailing", good + "xyz"), "3 bytes of trailing data"},
      {write("short-header", good.substr(0, 9)), "truncated header"},
      {write("empty", ""), "truncated header: 0 bytes"},
      {write("zip", "PK\x03\x04 zip file"), "bad magic number 0x504b0304"},
      {write("floats", idx({4}, Bytes(16, '\0'), 0x0d)), "bad magic number 0x00000d01"},
      {write("cut.gz", gzip_stored(good).substr(0, 600)), "truncated gzip data"},
      {write("crc.gz", bad_crc), "corrupt gzip data"},
      {write("garbage.gz", Bytes("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff garbage", 24)), "gzip data"},
      {write("gz-truncated-payload.gz", gzip_stored(good.substr(0, 100))), "truncated: the header promises 1568 data bytes, found 84 (after decompression)"},
      {path("missing"), "no such file"},
      {dir_.string(), "not a regular file"},
  };
  for (const auto& [file, expected] : cases) {
    const std::string message = error_of([&] { read_idx(file); });
    EXPECT_NE(message.find(expected), std::string::npos) << file << ": " << message;
    EXPECT_EQ(message.rfind(file, 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST_F(DatasetTest, FashionMnistFolderProblemsNameTheFile) {
  FashionMnistOptions options;
  options.folder = path("empty");
  fs::create_directories(options.folder);
  EXPECT_ERROR(load_fashion_mnist(options), options.folder + "/train-labels-idx1-ubyte(.gz): not found");

  options.folder = path("bad-label");
  Bytes labels = labels_of(60000, 1);
  labels[8 + 123] = 10;
  write("bad-label/train-labels-idx1-ubyte", labels);
  EXPECT_ERROR(load_fashion_mnist(options), "train-labels-idx1-ubyte: label 10 at index 123 is out of range 0..9");

  options.folder = path("few-labels");
  write("few-labels/train-labels-idx1-ubyte.gz", gzip_stored(labels_of(100, 1)));
  EXPECT_ERROR(load_fashion_mnist(options), "train-labels-idx1-ubyte.gz: expected 60000 labels, found 100");

  options.folder = path("swapped");
  write("swapped/train-labels-idx1-ubyte", indexed_images(3));
  EXPECT_ERROR(load_fashion_mnist(options), "train-labels-idx1-ubyte: expected a label file (1 dimension), found 3");

  options.folder = path("few-images");
  write("few-images/train-labels-idx1-ubyte", labels_of(60000, 1));
  write("few-images/t10k-labels-idx1-ubyte", labels_of(10000, 1));
  write("few-images/train-images-idx3-ubyte", indexed_images(10));
  EXPECT_ERROR(load_fashion_mnist(options), "train-images-idx3-ubyte: expected 60000 x 28 x 28 images, found 10 x 28 x 28");
  write("few-images/train-images-idx3-ubyte", idx({100, 28, 27}, Bytes(100 * 28 * 27, '\0')));
  EXPECT_ERROR(load_fashion_mnist(options), "found 100 x 28 x 27");

  FashionMnistOptions bad;
  bad.channels = 2;
  EXPECT_ERROR(load_fashion_mnist(bad), "channels must be 1 or 3");
  bad = FashionMnistOptions();
  bad.val_size = 60000;
  EXPECT_ERROR(load_fashion_mnist(bad), "val_size must be between 0 and 59999");
  bad = FashionMnistOptions();
  bad.train_subset = -1;
  EXPECT_ERROR(load_fashion_mnist(bad), "must not be negative");
}

TEST_F(DatasetTest, FashionMnistSplitIsAFixedPartitionAndSubsetsArePrefixes) {
  FashionMnistOptions options;
  options.folder = fake_fashion_mnist("fake");
  DataSplits loaded[2];
  std::thread a([&] { loaded[0] = load_fashion_mnist(options); });
  std::thread b([&] { loaded[1] = load_fashion_mnist(options); });
  a.join();
  b.join();
  const DataSplits& splits = loaded[0];
  EXPECT_EQ(splits.name, "fashion-mnist");
  EXPECT_EQ(splits.num_classes, 10);
  EXPECT_EQ(splits.input_shape, (std::vector<std::int64_t>{1, 28, 28}));
  ASSERT_EQ(splits.train.size(), 50000);
  ASSERT_EQ(splits.val.size(), 10000);
  ASSERT_EQ(splits.test.size(), 10000);
  EXPECT_EQ(splits.train.images.sizes(), (std::vector<std::int64_t>{50000, 1, 28, 28}));
  EXPECT_EQ(splits.train.images.scalar_type(), torch::kFloat32);
  EXPECT_EQ(splits.train.labels.scalar_type(), torch::kInt64);
  EXPECT_NEAR(splits.train.images[0][0][5][5].item<double>(), -0.2860 / 0.3530, 1e-5);  // a zero pixel
  EXPECT_TRUE(torch::equal(splits.val.images, loaded[1].val.images));
  EXPECT_TRUE(torch::equal(splits.train.labels, loaded[1].train.labels));

  const std::vector<std::int64_t> train = decoded_indices(splits.train);
  const std::vector<std::int64_t> val = decoded_indices(splits.val);
  std::set<std::int64_t> all(train.begin(), train.end());
  all.insert(val.begin(), val.end());
  EXPECT_EQ(all.size(), 60000u);
  EXPECT_EQ(*all.begin(), 0);
  EXPECT_EQ(*all.rbegin(), 59999);
  // Shuffled, not taken in file order.
  EXPECT_FALSE(std::is_sorted(val.begin(), val.end()));
  // Labels travel with their images (fake label of image i is i mod 10).
  for (std::int64_t i = 0; i < 1000; ++i) EXPECT_EQ(splits.val.labels[i].item<std::int64_t>(), val[i] % 10);
  const std::vector<std::int64_t> test = decoded_indices(splits.test);
  for (std::int64_t i = 0; i < 10000; i += 997) {
    EXPECT_EQ(test[i], i);
    EXPECT_EQ(splits.test.labels[i].item<std::int64_t>(), (i * 3) % 10);
  }

  options.val_size = 5000;
  options.train_subset = 300;
  options.val_subset = 200;
  options.test_subset = 7;
  const DataSplits subset = load_fashion_mnist(options);
  EXPECT_EQ(subset.train.size(), 300);
  EXPECT_EQ(subset.val.size(), 200);
  EXPECT_EQ(subset.test.size(), 7);
  // The order is the same whatever val_size is: validation is a prefix of it, training the rest.
  const std::vector<std::int64_t> small_val = decoded_indices(subset.val);
  EXPECT_EQ(small_val, std::vector<std::int64_t>(val.begin(), val.begin() + 200));
  EXPECT_EQ(decoded_indices(subset.train), std::vector<std::int64_t>(val.begin() + 5000, val.begin() + 5300));

  options.resize = 32;
  options.channels = 3;
  const DataSplits rgb = load_fashion_mnist(options);
  EXPECT_EQ(rgb.input_shape, (std::vector<std::int64_t>{3, 32, 32}));
  EXPECT_EQ(rgb.train.images.sizes(), (std::vector<std::int64_t>{300, 3, 32, 32}));
  EXPECT_EQ(rgb.test.images.sizes(), (std::vector<std::int64_t>{7, 3, 32, 32}));
  EXPECT_TRUE(rgb.train.images.is_contiguous());
  EXPECT_TRUE(torch::equal(rgb.train.images.select(1, 0), rgb.train.images.select(1, 2)));
  EXPECT_TRUE(torch::equal(rgb.train.labels, subset.train.labels));
  options.resize = 14;
  options.channels = 1;
  EXPECT_EQ(load_fashion_mnist(options).val.images.sizes(), (std::vector<std::int64_t>{200, 1, 14, 14}));
}

TEST_F(DatasetTest, RealFashionMnist) {
  if (!fs::exists(kFashion)) GTEST_SKIP() << kFashion << " not installed";
  FashionMnistOptions options;
  const DataSplits a = load_fashion_mnist(options);
  EXPECT_EQ(a.train.size() + a.val.size(), 60000);
  EXPECT_EQ(a.val.size(), 10000);
  EXPECT_EQ(a.test.size(), 10000);
  EXPECT_EQ(a.input_shape, (std::vector<std::int64_t>{1, 28, 28}));
  for (const ImageSet* set : {&a.train, &a.val, &a.test}) {
    EXPECT_EQ(set->labels.min().item<int>(), 0);
    EXPECT_EQ(set->labels.max().item<int>(), 9);
  }
  // Normalised with the training set's statistics.
  EXPECT_NEAR(a.train.images.mean().item<double>(), 0.0, 0.02);
  EXPECT_NEAR(a.train.images.std().item<double>(), 1.0, 0.02);
  options.val_subset = 500;
  options.test_subset = 50;
  options.resize = 32;
  options.channels = 3;
  const DataSplits b = load_fashion_mnist(options);
  EXPECT_TRUE(torch::equal(b.val.labels, a.val.labels.slice(0, 0, 500)));
  EXPECT_TRUE(torch::equal(b.train.labels, a.train.labels));
  EXPECT_EQ(b.val.images.sizes(), (std::vector<std::int64_t>{500, 3, 32, 32}));
  EXPECT_EQ(b.test.images.sizes(), (std::vector<std::int64_t>{50, 3, 32, 32}));
}

TEST_F(DatasetTest, ConfigKeysAreCheckedAndPathsResolved) {
  const auto load = [&](const std::string& yaml) { return load_dataset(Config::parse(yaml).child("dataset"), dir_.string()); };
  EXPECT_ERROR(load("dataset: {name: fashion-mnist, val_sise: 10}"), "unknown key 'dataset.val_sise'");
  EXPECT_ERROR(load("dataset: {name: imagenet}"), "unknown dataset 'imagenet' (registered: cifar10, cifar100, fashion-mnist, image_folder, numpy, synthetic, text, wordnet)");
  EXPECT_ERROR(load("dataset: {name: synthetic, noise: 1, resize: 32}"), "unknown key 'dataset.resize'");
  EXPECT_ERROR(load("dataset: {name: fashion-mnist, channels: three}"), "dataset.channels: expected an integer");
  // A relative path is looked up beside the config file.
  fs::create_directories(path("data/fm"));
  EXPECT_ERROR(load("dataset: {name: fashion-mnist, path: data/fm}"), path("data/fm") + "/train-labels-idx1-ubyte(.gz): not found");

  const DataSplits synthetic =
      load("dataset: {name: synthetic, shape: [3, 5, 6], classes: 7, train: 40, val: 20, test: 10, seed: 5, noise: 0.5}");
  EXPECT_EQ(synthetic.input_shape, (std::vector<std::int64_t>{3, 5, 6}));
  EXPECT_EQ(synthetic.num_classes, 7);
  EXPECT_EQ(synthetic.train.images.sizes(), (std::vector<std::int64_t>{40, 3, 5, 6}));
  EXPECT_EQ(synthetic.val.size(), 20);
  EXPECT_EQ(synthetic.test.size(), 10);
  EXPECT_ERROR(load("dataset: {name: synthetic, shape: [8, 8]}"), "shape must be [channels, height, width]");
  EXPECT_ERROR(load("dataset: {name: synthetic, classes: 1}"), "classes must be at least 2");
}

TEST_F(DatasetTest, SyntheticDataComesFromItsSeed) {
  SyntheticOptions options;
  options.seed = 3;
  const DataSplits a = make_synthetic(options);
  const DataSplits b = make_synthetic(options);
  options.seed = 4;
  const DataSplits c = make_synthetic(options);
  EXPECT_TRUE(torch::equal(a.train.images, b.train.images));
  EXPECT_TRUE(torch::equal(a.test.labels, b.test.labels));
  EXPECT_FALSE(torch::equal(a.train.images, c.train.images));
  EXPECT_EQ(a.train.images.sizes(), (std::vector<std::int64_t>{512, 1, 8, 8}));
  EXPECT_EQ(a.train.labels.min().item<int>(), 0);
  EXPECT_EQ(a.train.labels.max().item<int>(), 3);
  // Learnable: the nearest class mean from the training split classifies most validation images.
  const torch::Tensor x = a.train.images.reshape({a.train.size(), -1});
  torch::Tensor means = torch::zeros({4, x.size(1)});
  means.index_add_(0, a.train.labels, x);
  means /= torch::bincount(a.train.labels, {}, 4).unsqueeze(1).to(torch::kFloat32);
  const torch::Tensor predicted = torch::cdist(a.val.images.reshape({a.val.size(), -1}), means).argmin(1);
  EXPECT_GT(predicted.eq(a.val.labels).to(torch::kFloat32).mean().item<double>(), 0.9);
}

}  // namespace
}  // namespace nascent

namespace nascent {
namespace {

const char* const kWordNet = "/usr/share/wordnet";

TEST(WordNet, GlossesByLexicographerFileWithADeterministicSplit) {
  if (!std::filesystem::exists(std::string(kWordNet) + "/data.noun")) GTEST_SKIP() << "wordnet-base not installed";
  WordNetOptions options;
  const DataSplits data = load_wordnet(options);
  // WordNet 3.0: 82,115 noun + 13,767 verb + 18,156 adjective + 3,621 adverb synsets.
  EXPECT_EQ(data.train.size() + data.val.size() + data.test.size(), 117659);
  EXPECT_EQ(data.test.size(), 11765);
  EXPECT_EQ(data.val.size(), 11765);
  EXPECT_EQ(data.num_classes, 45);
  EXPECT_EQ(data.class_names[5], "noun.animal");
  EXPECT_EQ(data.input_shape, (std::vector<std::int64_t>{64}));
  EXPECT_EQ(data.train.images.dtype(), torch::kInt64);
  EXPECT_LT(data.train.images.max().item<std::int64_t>(), data.vocabulary_size);
  EXPECT_GE(data.train.labels.min().item<std::int64_t>(), 0);
  EXPECT_LT(data.train.labels.max().item<std::int64_t>(), 45);
  // Every lexicographer file occurs in training.
  EXPECT_EQ(std::get<0>(torch::_unique(data.train.labels)).numel(), 45);
  // Same split and tokens on every load; the text decodes to a lower-case gloss.
  const DataSplits again = load_wordnet(options);
  EXPECT_TRUE(torch::equal(data.test.images, again.test.images));
  EXPECT_TRUE(torch::equal(data.train.labels, again.train.labels));
  const std::string text = decode_wordnet_tokens(data, data.train.images[0]);
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.find('?'), std::string::npos) << text;  // training characters are all known
  for (char c : text) EXPECT_FALSE(std::isupper(static_cast<unsigned char>(c))) << text;
}

TEST(WordNet, PartOfSpeechTaskAndSubsets) {
  if (!std::filesystem::exists(std::string(kWordNet) + "/data.noun")) GTEST_SKIP() << "wordnet-base not installed";
  WordNetOptions options;
  options.task = "pos";
  options.max_length = 16;
  options.train_subset = 100;
  options.test_subset = 10;
  const DataSplits data = load_wordnet(options);
  EXPECT_EQ(data.num_classes, 4);
  EXPECT_EQ(data.train.size(), 100);
  EXPECT_EQ(data.test.size(), 10);
  EXPECT_EQ(data.train.images.size(1), 16);
  // Nouns are the large majority of WordNet synsets.
  EXPECT_GT(data.train.labels.eq(0).sum().item<std::int64_t>(), 50);
}

TEST(WordNet, WordTokensKeepTheMostFrequentTrainingWords) {
  if (!std::filesystem::exists(std::string(kWordNet) + "/data.noun")) GTEST_SKIP() << "wordnet-base not installed";
  WordNetOptions options;
  options.tokens = "words";
  options.vocabulary = 500;
  options.max_length = 12;
  options.train_subset = 2000;
  const DataSplits data = load_wordnet(options);
  EXPECT_EQ(data.vocabulary_size, 503);  // padding, unknown, mask, 500 words
  EXPECT_EQ(data.mask_id, 2);
  // Quotes (around the examples) and "the" are the commonest tokens of WordNet glosses.
  ASSERT_GE(data.token_strings.size(), 2u);
  EXPECT_EQ(data.token_strings[0], "\"");
  EXPECT_EQ(data.token_strings[1], "the");
  EXPECT_LT(data.train.images.max().item<std::int64_t>(), 503);
  EXPECT_EQ(data.train.images.eq(2).sum().item<std::int64_t>(), 0);  // the mask id never occurs in the data
  EXPECT_GT(data.train.images.eq(1).sum().item<std::int64_t>(), 0);  // rarer words are unknown
  // The first training gloss decodes to words and punctuation, "fuel" beyond the 500 kept words.
  const std::string text = decode_wordnet_tokens(data, data.train.images[0]);
  EXPECT_EQ(text.rfind("wood used for ? ; \" they", 0), 0u) << text;
  options.tokens = "bytes";
  EXPECT_ERROR(load_wordnet(options), "dataset.tokens: expected characters or words, got 'bytes'");
}

class WordNetFiles : public ScratchDirTest {};

TEST_F(WordNetFiles, MissingOrCorruptFilesAreOneLineErrors) {
  WordNetOptions options;
  options.folder = path("wn");
  EXPECT_ERROR(load_wordnet(options), "cannot open (install Debian's wordnet-base");
  const std::string good = "00001740 03 n 01 entity 0 000 | that which is perceived\n";
  write("wn/data.noun", "  licence header line\n" + good);
  write("wn/data.verb", "00001740 29 v 01 breathe 0 000 | draw air\n");
  write("wn/data.adj", "00001740 00 a 01 able 0 000 | having the means\n");
  write("wn/data.adv", "00001740 02 r 01 barely 0 000 | only just\n");
  options.val_fraction = 0.25;
  options.test_fraction = 0.25;
  EXPECT_EQ(load_wordnet(options).train.size(), 2);
  write("wn/data.verb", "00001740 99 v 01 breathe 0 000 | draw air\n");
  EXPECT_ERROR(load_wordnet(options), "data.verb:1: bad lexicographer file number '99'");
  write("wn/data.verb", "garbage without a gloss\n");
  EXPECT_ERROR(load_wordnet(options), "data.verb:1: expected 'offset lex_filenum ss_type ... | gloss'");
  write("wn/data.verb", "00001740 29 v 01 breathe 0 000 | draw air\n");
  options.task = "sentiment";
  EXPECT_ERROR(load_wordnet(options), "expected lexname or pos");
}

}  // namespace
}  // namespace nascent
