#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/options.hpp"

namespace nascent {

// Per-batch training augmentation, applied by the batch loader (datasets/batches.hpp) to the
// training split only; evaluation batches are never augmented.
struct Augmentation {
  std::int64_t crop_padding = 0;  // > 0: zero-pad by this many pixels, then crop back at a random offset
  bool flip = false;              // horizontal flip with probability 1/2
  std::int64_t cutout = 0;        // > 0: zero a random cutout x cutout square (centre anywhere, clipped)
  bool any() const { return crop_padding > 0 || flip || cutout > 0; }
};

// An in-memory image classification set: images N x C x H x W (float32, contiguous, normalised as
// its loader documents), labels N (int64, 0 <= label < num_classes).
struct ImageSet {
  torch::Tensor images;
  torch::Tensor labels;
  std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

// Text sets use the same container: `images` then holds token ids (int64, N x L, 0 = padding).
struct DataSplits {
  ImageSet train, val, test;
  std::vector<std::int64_t> input_shape;  // C, H, W (images) or L (token sequences)
  std::int64_t num_classes = 0;
  std::int64_t vocabulary_size = 0;       // text sets: token ids are < vocabulary_size
  std::vector<std::string> class_names;   // when the data names its classes
  std::string token_characters;           // character-level text sets: the byte behind id i + 2
  std::vector<std::string> token_strings; // text sets: the token behind each vocabulary id, from the first
  std::int64_t mask_id = 1;               // text sets: the id masked-language-model pre-training masks with
  std::string name;
  Augmentation augmentation;              // image sets: what training batches get
  std::vector<double> mean, std;          // image sets: the per-channel normalisation applied (empty: none)
};

// The options every image dataset shares, added to its declared table:
//   normalize: train (per-channel mean and standard deviation of the training split, default),
//              given (the `mean` and `std` lists), or none
//   mean, std: per-channel lists (normalize: given)
//   augment: {crop_padding, flip, cutout}
OptionTable image_options(OptionTable table);
// Applies image_options to splits whose images are in [0, 1]: normalises every split with the
// chosen statistics (recorded in splits.mean / splits.std) and sets splits.augmentation.
void apply_image_options(DataSplits& splits, const Options& options);

// The `dataset` section of an evaluator config: `name: fashion-mnist` (default) or `synthetic`,
// plus that loader's options below. Unknown keys, bad values and missing or corrupt data are
// Errors with one line naming the key or the file and the problem. Relative paths are resolved
// against `config_dir` (resolve_path).
DataSplits load_dataset(const Config& config, const std::string& config_dir);

// Fashion-MNIST from its four IDX files, gzipped (.gz) or plain, in `folder`.
//
// Images: pixel / 255 (so [0, 1]) then normalised with the training set's mean 0.2860 and
// standard deviation 0.3530, giving roughly zero mean and unit variance.
// Split: the 60,000 training images are ordered by a Fisher-Yates shuffle driven by
// std::mt19937_64 seeded with 0 (see core/rng.hpp); the first `val_size` of that order are the
// validation split, the rest the training split. The order never depends on a run's seed, so
// every run and every candidate sees the same split. `train_subset` / `val_subset` keep the first
// N of their split in that order (nested: a larger subset contains a smaller one); `test_subset`
// keeps the first N test images in file order. 0 means all.
// resize > 0: bilinear interpolation (align_corners=false) to resize x resize, which keeps the
// whole garment visible at a new scale (zero padding would keep the scale but not fill the frame).
// channels 3 replicates the grey channel, for spaces that expect RGB input.
struct FashionMnistOptions {
  std::string folder = "/usr/share/datasets/fashion-mnist";
  std::int64_t val_size = 10000;
  std::int64_t train_subset = 0;
  std::int64_t val_subset = 0;
  std::int64_t test_subset = 0;
  std::int64_t resize = 0;    // 0: native 28x28
  std::int64_t pad = 0;       // > 28: zero-pad (black borders) to pad x pad, centred; excludes resize
  std::int64_t channels = 1;  // 1, or 3
};
// The decoded files are cached process-wide per folder (thread-safe), so several evaluators or
// repeated loads read the disk once.
DataSplits load_fashion_mnist(const FashionMnistOptions& options);

// Reads one IDX file of unsigned bytes (magic 0x00000801 for a vector, 0x00000803 for images),
// gzipped or plain (told apart by the gzip magic), as a uint8 tensor of the header's shape.
torch::Tensor read_idx(const std::string& path);

// Learnable synthetic data for fast tests: each class has a fixed random pattern drawn from
// N(0, 1); a sample is its class's pattern plus `noise` * N(0, 1) per pixel (so values are not in
// [0, 1]; their variance is 1 + noise^2). Labels are uniform. Everything comes from `seed`: the
// same options give bit-identical data.
struct SyntheticOptions {
  std::vector<std::int64_t> shape{1, 8, 8};  // C, H, W
  std::int64_t classes = 4;
  std::int64_t train = 512, val = 256, test = 256;
  std::uint64_t seed = 0;
  double noise = 1.0;
};
DataSplits make_synthetic(const SyntheticOptions& options);

// WordNet 3.0 glosses from Debian's wordnet-base (data.noun, data.verb, data.adj, data.adv in
// `folder`), a text classification task needing no download.
// task lexname: the synset's lexicographer file (noun.animal, verb.motion, ...; 45 classes);
// task pos: noun, verb, adjective (satellites included) or adverb (4 classes).
// Text: the gloss (definition and examples), lower-cased. Tokens (`tokens`): characters, or words
// (runs of letters, digits, ' and -) and punctuation marks, with a vocabulary built from the
// training split's glosses by decreasing frequency, ties in byte order (words: the `vocabulary` most
// frequent). Ids: 0 padding, 1 unknown, then for words 2 = the pre-training mask, then the
// vocabulary (characters from 2, words from 3). Each gloss is cut or padded to `max_length` tokens.
// Split: all 117,659 synsets in file order (noun, verb, adj, adv) are shuffled by Fisher-Yates with
// std::mt19937_64 seeded 0; the first `test_fraction` are the test split, the next `val_fraction`
// the validation split, the rest training. `*_subset` keep the first N of a split (0: all).
struct WordNetOptions {
  std::string folder = "/usr/share/wordnet";
  std::string task = "lexname";
  std::string tokens = "characters";
  std::int64_t vocabulary = 8000;  // words kept (tokens: words)
  std::int64_t max_length = 64;
  double val_fraction = 0.1;
  double test_fraction = 0.1;
  std::int64_t train_subset = 0;
  std::int64_t val_subset = 0;
  std::int64_t test_subset = 0;
};
DataSplits load_wordnet(const WordNetOptions& options);

// The text behind token ids (for inspection and tests); padding is dropped, unknown is '?', words are
// joined by spaces.
std::string decode_wordnet_tokens(const DataSplits& data, const torch::Tensor& tokens);

}  // namespace nascent
