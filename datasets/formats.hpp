#pragma once
// Loaders for data in published file formats: CIFAR-10/100 binary batches, a folder of JPEG/PNG
// images per class (ImageNet's layout), NumPy .npy/.npz arrays and TSV/CSV text classification
// (GLUE's layout). Registered as the datasets cifar10, cifar100, image_folder, numpy and text
// (datasets/dataset.cpp); `nascent options dataset NAME` lists each one's keys.
//
// Shared conventions: image loaders return pixels as float32 in [0, 1], N x C x H x W; the
// registered dataset then applies image_options (normalisation, augmentation). Where a
// validation split is carved from the training data, the training data (in file order) is
// shuffled by Fisher-Yates with std::mt19937_64 seeded 0, the first part is validation and the
// rest training, whatever a run's seed, so every run and candidate sees the same split.
// `*_subset` keep the first N of a split in that order (0: all; nested: a larger subset contains a
// smaller one). Missing, corrupt or truncated files are one-line Errors naming the file.
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/dataset.hpp"

namespace nascent {

// CIFAR-10 and CIFAR-100 in their binary version (cifar-10-batches-bin/, cifar-100-binary/).
// Records: CIFAR-10 1 label byte, CIFAR-100 a coarse and a fine label byte; then 3072 pixel
// bytes: the red plane, then green, then blue, each 32 x 32 row-major. Any whole number of
// records per file is accepted (the published files hold 10,000; train.bin 50,000). Training is
// data_batch_1..5.bin (train.bin) concatenated; test is test_batch.bin (test.bin) in file order.
// Class names come from batches.meta.txt (fine_label_names.txt, coarse_label_names.txt) when the
// folder has it, one name a line.
struct CifarOptions {
  std::string folder;
  int classes = 10;               // 10, or 100
  std::string labels = "fine";    // CIFAR-100: fine (100 classes) or coarse (20 superclasses)
  std::int64_t val_size = 5000;   // training images held out for validation
  std::int64_t train_subset = 0, val_subset = 0, test_subset = 0;
};
DataSplits load_cifar(const CifarOptions& options);

// An image classification folder: root/<class>/<image> with .jpg, .jpeg or .png files (any
// case), classes being the subfolder names in byte order; or root/train/<class>/..., with
// root/val/ (else a validation split carved from training by val_fraction) and root/test/ (else
// no test split) holding the same classes. Every image is decoded (libjpeg-turbo, libpng), made
// RGB (grey replicated, alpha dropped, CMYK converted) or grey (channels: 1, ITU-R 601 weights),
// its shorter side resized to `resize` with a bilinear (triangle) filter that widens when
// shrinking, so that a large image is averaged rather than sampled, and centre-cropped to
// size x size.
//
// Design: all images are decoded once, at load, in parallel (oneTBB; the result does not depend
// on the number of threads) and kept in memory as float32: training never waits for decoding,
// at 12 KB an image at 32 x 32 RGB. An ImageNet-scale folder at full resolution would not fit;
// that would need streaming decoding in the batch loader, which is not built.
struct ImageFolderOptions {
  std::string folder;
  std::int64_t size = 32;
  std::int64_t resize = 0;  // the shorter side before cropping; 0: size
  std::int64_t channels = 3;
  double val_fraction = 0.1;
  std::int64_t train_subset = 0, val_subset = 0, test_subset = 0;
};
DataSplits load_image_folder(const ImageFolderOptions& options);

// A NumPy array read from a .npy file (format versions 1, 2 and 3): little-endian (or
// byte-order-free) bool, int8..int64, uint8..uint64, float32 and float64, C order. The header is
// parsed here: it is a few lines of a Python dict literal, and Debian has no C++ library for it.
struct NpyArray {
  std::string descr;                 // as in the header, e.g. "<f4"
  std::vector<std::int64_t> shape;
  torch::Tensor data;                // the values, of the matching torch dtype (uint16/32/64 as int64)
};
// `bytes` are the file's contents; `name` names it in errors.
NpyArray parse_npy(const std::string& bytes, const std::string& name);
NpyArray read_npy(const std::string& path);
// One array of a .npz archive (a zip of .npy files, stored or deflated): `array` is the entry
// name without ".npy".
NpyArray read_npz_array(const std::string& path, const std::string& array);

// NumPy data: for each split, an .npz archive holding the inputs and labels arrays (named by
// `inputs_key` and `labels_key`), or a pair of .npy files.
// Inputs: float32/float64 kept as float32; uint8 divided by 255 when `scale` (else cast);
// int32/int64 are token ids, making a text task (N x L; vocabulary_size = the largest id + 1,
// ids 0 padding and 1 the mask, as the character-level WordNet task). N x H x W inputs become
// N x 1 x H x W; with `channels_last`, N x H x W x C inputs (as most Python image code stores them)
// become N x C x H x W; any other shape is kept (input_shape = the shape without N).
// Labels: an integer array of N values >= 0; classes = the largest label + 1, or `classes`.
// Without validation data, val_fraction of training is carved off; without test data the test
// split is empty.
struct NumpySplitFiles {
  std::string archive;        // .npz
  std::string inputs, labels; // .npy
  bool given() const { return !archive.empty() || !inputs.empty() || !labels.empty(); }
};
struct NumpyOptions {
  NumpySplitFiles train, val, test;
  std::string inputs_key = "x", labels_key = "y";
  bool scale = true;
  bool channels_last = false;
  std::int64_t classes = 0;
  double val_fraction = 0.1;
  std::int64_t train_subset = 0, val_subset = 0, test_subset = 0;
};
DataSplits load_numpy(const NumpyOptions& options);

// Text classification from TSV or CSV files with a header row (GLUE's train.tsv, dev.tsv).
// The text is `sentence_column`, or with `sentence2_column` a pair: the first sentence's tokens,
// a separator token (the id after the vocabulary), the second's; when a pair is too long the
// longer side loses its last token until it fits. Tokens as WordNet's (datasets/tokenizer.hpp),
// the vocabulary from the training file. Labels: when every label in the files is a whole
// number >= 0, that number (classes = the largest + 1); otherwise each distinct string is a
// class, numbered in byte order (class_names). Quotes ("..." with "" for a quote, delimiters and
// line breaks allowed inside) are read when `quoted`; GLUE's TSV files are unquoted, and quotes
// in them are text.
struct TextOptions {
  std::string train, val, test;  // paths; val empty: carved from train by val_fraction; test empty: none
  std::string sentence_column = "sentence", sentence2_column, label_column = "label";
  char delimiter = '\t';
  bool quoted = false;
  bool lowercase = true;
  std::string tokens = "words";
  std::int64_t vocabulary = 8000;
  std::int64_t max_length = 64;
  double val_fraction = 0.1;
  std::int64_t train_subset = 0, val_subset = 0, test_subset = 0;
};
DataSplits load_text(const TextOptions& options);

// The records of a delimited text file, each with the line it starts on (for errors). Lines end
// in \n or \r\n; empty lines are skipped; a leading UTF-8 byte-order mark is dropped.
struct DelimitedRows {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::size_t> lines;
};
DelimitedRows parse_delimited(const std::string& text, char delimiter, bool quoted, const std::string& name);

// Shared by the loaders above.
// The fixed order of `n` training items (Rng(0) shuffle); validation is its first `val_count`.
struct FixedSplit {
  std::vector<std::int64_t> train, val;
};
FixedSplit fixed_split(std::int64_t n, std::int64_t val_count);
// The first `subset` entries of `order` (all when 0 or more than there are), as an index tensor.
torch::Tensor subset_index(const std::vector<std::int64_t>& order, std::int64_t subset);
// The whole file; a missing or unreadable file is an Error "<prefix><path>: ...".
std::string read_file_bytes(const std::string& path, const std::string& prefix);
// An Error "<prefix>..." naming `option` when `count` float32 images of channels x side x side
// would not fit in this machine's memory: a set is decoded whole into memory, and the kernel
// would otherwise kill the process part-way through a run.
void check_decoded_size(std::int64_t count, std::int64_t channels, std::int64_t side, const std::string& prefix, const std::string& option);
// An Error "<prefix><path>: ..." unless `path` is an existing regular file.
void check_regular_file(const std::string& path, const std::string& prefix);

}  // namespace nascent
