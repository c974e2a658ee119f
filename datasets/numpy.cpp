#include <zip.h>

#include <cctype>
#include <cstring>
#include <limits>

#include "core/error.hpp"
#include "datasets/formats.hpp"

namespace nascent {

namespace {

// A reader for the one Python literal a .npy header holds:
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& name) : text_(text), name_(name) {}

  void parse(std::string& descr, bool& fortran_order, std::vector<std::int64_t>& shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (!peek('}')) {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        if (peek('[')) fail("structured dtypes (a list of fields) are not supported");
        descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        shape = tuple();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      if (!peek('}')) expect(',');
    }
    expect('}');
    if (!have_descr || !have_order || !have_shape) fail("the header lacks descr, fortran_order or shape");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(name_ + ": bad .npy header: " + what); }
  void skip_space() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }
  bool peek(char c) {
    skip_space();
    return at_ < text_.size() && text_[at_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(std::string("expected '") + c + "' at character " + std::to_string(at_));
    ++at_;
  }
  std::string string_literal() {
    skip_space();
    if (at_ >= text_.size() || (text_[at_] != '\'' && text_[at_] != '"')) fail("expected a quoted string at character " + std::to_string(at_));
    const char quote = text_[at_++];
    const std::size_t end = text_.find(quote, at_);
    if (end == std::string::npos) fail("unterminated string");
    std::string value = text_.substr(at_, end - at_);
    at_ = end + 1;
    return value;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair<const char*, bool>{"True", true}, {"False", false}})
      if (text_.compare(at_, std::strlen(word), word) == 0) {
        at_ += std::strlen(word);
        return value;
      }
    fail("expected True or False at character " + std::to_string(at_));
  }
  std::vector<std::int64_t> tuple() {
    std::vector<std::int64_t> values;
    expect('(');
    while (!peek(')')) {
      skip_space();
      std::size_t digits = 0;
      std::int64_t value = 0;
      while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_]))) {
        if (value > (std::numeric_limits<std::int64_t>::max() - 9) / 10) fail("dimension too large");
        value = value * 10 + (text_[at_++] - '0');
        ++digits;
      }
      if (digits == 0) fail("expected a dimension at character " + std::to_string(at_));
      values.push_back(value);
      if (!peek(')')) expect(',');
    }
    expect(')');
    return values;
  }

  const std::string& text_;
  const std::string& name_;
  std::size_t at_ = 0;
};

std::uint32_t little_endian(const unsigned char* bytes, int count) {
  std::uint32_t value = 0;
  for (int i = count - 1; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  if (shape.empty()) return "a scalar";
  std::string text;
  for (std::size_t d = 0; d < shape.size(); ++d) text += (d ? " x " : "") + std::to_string(shape[d]);
  return text;
}

// Values of an unsigned type wider than a byte, as int64 (torch has no uint16/32/64).
template <typename T>
torch::Tensor widen_unsigned(const unsigned char* data, std::int64_t count, const std::string& name) {
  torch::Tensor out = torch::empty({count}, torch::kInt64);
  auto* values = out.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < count; ++i) {
    T v;
    std::memcpy(&v, data + i * sizeof(T), sizeof(T));
    if (static_cast<std::uint64_t>(v) > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw Error(name + ": value " + std::to_string(static_cast<std::uint64_t>(v)) + " at index " + std::to_string(i) +
                  " does not fit in int64");
    values[i] = static_cast<std::int64_t>(v);
  }
  return out;
}

}  // namespace

NpyArray parse_npy(const std::string& bytes, const std::string& name) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    throw Error(name + ": not a .npy file (no \\x93NUMPY magic)");
  const int major = data[6];
  if (major < 1 || major > 3) throw Error(name + ": unsupported .npy format version " + std::to_string(major));
  const int length_bytes = major == 1 ? 2 : 4;
  const std::size_t header_start = 8 + length_bytes;
  if (bytes.size() < header_start) throw Error(name + ": truncated .npy header");
  const std::size_t header_length = little_endian(data + 8, length_bytes);
  if (bytes.size() < header_start + header_length)
    throw Error(name + ": truncated .npy header: it promises " + std::to_string(header_length) + " bytes, the file has " +
                std::to_string(bytes.size() - header_start));
  const std::string header = bytes.substr(header_start, header_length);

  NpyArray array;
  bool fortran_order = false;
  HeaderParser(header, name).parse(array.descr, fortran_order, array.shape);
  if (fortran_order) throw Error(name + ": Fortran-ordered arrays are not supported (save with numpy.ascontiguousarray)");

  const std::string& d = array.descr;
  if (d.size() < 3 || std::string("<>|=").find(d[0]) == std::string::npos)
    throw Error(name + ": unsupported dtype '" + d + "'");
  const char kind = d[1];
  const std::string size_text = d.substr(2);
  const std::size_t item = size_text == "1" ? 1 : size_text == "2" ? 2 : size_text == "4" ? 4 : size_text == "8" ? 8 : 0;
  if (d[0] == '>' && item > 1)
    throw Error(name + ": big-endian dtype '" + d + "' is not supported (save with arr.astype(arr.dtype.newbyteorder('<')))");
  torch::ScalarType type = torch::kFloat32;
  bool widen = false;
  if (kind == 'f' && item == 4) type = torch::kFloat32;
  else if (kind == 'f' && item == 8) type = torch::kFloat64;
  else if (kind == 'i' && item == 1) type = torch::kInt8;
  else if (kind == 'i' && item == 2) type = torch::kInt16;
  else if (kind == 'i' && item == 4) type = torch::kInt32;
  else if (kind == 'i' && item == 8) type = torch::kInt64;
  else if (kind == 'u' && item == 1) type = torch::kUInt8;
  else if (kind == 'b' && item == 1) type = torch::kBool;
  else if (kind == 'u' && item > 1) type = torch::kInt64, widen = true;
  else throw Error(name + ": unsupported dtype '" + d + "' (supported: bool, int8..int64, uint8..uint64, float32, float64)");

  std::uint64_t count = 1;
  for (std::int64_t dim : array.shape) {
    count *= static_cast<std::uint64_t>(dim);
    // Stops a corrupt header's product from overflowing; no real array is this large.
    if (count > (std::uint64_t(1) << 40)) throw Error(name + ": implausible shape " + shape_text(array.shape));
  }
  const std::uint64_t expected = count * item;
  const std::uint64_t payload = bytes.size() - header_start - header_length;
  if (payload < expected)
    throw Error(name + ": truncated: the header promises " + std::to_string(expected) + " data bytes (" + shape_text(array.shape) +
                " of " + d + "), found " + std::to_string(payload));
  if (payload > expected)
    throw Error(name + ": " + std::to_string(payload - expected) + " bytes of trailing data after the " + std::to_string(expected) +
                " the header promises");
  const unsigned char* values = data + header_start + header_length;
  const auto n = static_cast<std::int64_t>(count);
  if (widen) {
    array.data = item == 2 ? widen_unsigned<std::uint16_t>(values, n, name)
                 : item == 4 ? widen_unsigned<std::uint32_t>(values, n, name)
                             : widen_unsigned<std::uint64_t>(values, n, name);
  } else {
    array.data = torch::empty({n}, type);
    if (expected > 0) std::memcpy(array.data.data_ptr(), values, expected);
  }
  array.data = array.data.view(array.shape);
  return array;
}

NpyArray read_npy(const std::string& path) { return parse_npy(read_file_bytes(path, ""), path); }

NpyArray read_npz_array(const std::string& path, const std::string& array) {
  // Opened by path: libzip reads only the entry asked for, not the whole archive.
  check_regular_file(path, "");
  int code = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_RDONLY, &code);
  if (!archive) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    const std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw Error(path + ": not a readable .npz (zip) archive: " + message);
  }
  const std::string entry = array + ".npy";
  std::string contents;
  std::string problem;
  const zip_int64_t index = zip_name_locate(archive, entry.c_str(), 0);
  if (index < 0) {
    std::string names;
    const zip_int64_t count = zip_get_num_entries(archive, 0);
    for (zip_int64_t i = 0; i < count; ++i) {
      const char* raw_name = zip_get_name(archive, static_cast<zip_uint64_t>(i), 0);
      std::string entry_name = raw_name ? raw_name : "?";
      if (entry_name.size() > 4 && entry_name.compare(entry_name.size() - 4, 4, ".npy") == 0) entry_name.resize(entry_name.size() - 4);
      names += (names.empty() ? "" : ", ") + entry_name;
    }
    problem = "no array '" + array + "' (arrays: " + (names.empty() ? "none" : names) + ")";
  } else {
    zip_stat_t stat;
    zip_stat_init(&stat);
    zip_file_t* file = nullptr;
    if (zip_stat_index(archive, static_cast<zip_uint64_t>(index), 0, &stat) != 0 || !(stat.valid & ZIP_STAT_SIZE) ||
        !(file = zip_fopen_index(archive, static_cast<zip_uint64_t>(index), 0))) {
      problem = entry + ": " + zip_strerror(archive);
    } else if (stat.size > (zip_uint64_t(1) << 40)) {
      problem = entry + ": implausible size " + std::to_string(stat.size);
      zip_fclose(file);
    } else {
      contents.resize(stat.size);
      zip_int64_t got = 0;
      while (static_cast<zip_uint64_t>(got) < stat.size) {
        const zip_int64_t n = zip_fread(file, contents.data() + got, stat.size - got);
        if (n <= 0) {
          problem = entry + ": " + (n < 0 ? std::string("corrupt: ") + zip_file_strerror(file) : std::string("truncated"));
          break;
        }
        got += n;
      }
      // A deflated entry's checksum is verified when the read reaches its end.
      char extra;
      if (problem.empty() && zip_fread(file, &extra, 1) < 0) problem = entry + ": corrupt: " + std::string(zip_file_strerror(file));
      zip_fclose(file);
    }
  }
  zip_discard(archive);
  if (!problem.empty()) throw Error(path + ": " + problem);
  return parse_npy(contents, path + ": " + entry);
}

namespace {

struct SplitArrays {
  torch::Tensor inputs, labels;
  std::string inputs_name, labels_name;  // for errors
};

SplitArrays read_split(const NumpySplitFiles& files, const std::string& split, const NumpyOptions& options) {
  if (!files.archive.empty() && (!files.inputs.empty() || !files.labels.empty()))
    throw Error("config: dataset." + split + " and dataset." + split + "_inputs/" + split + "_labels exclude each other");
  SplitArrays arrays;
  NpyArray inputs, labels;
  try {
    if (!files.archive.empty()) {
      inputs = read_npz_array(files.archive, options.inputs_key);
      labels = read_npz_array(files.archive, options.labels_key);
      arrays.inputs_name = files.archive + ": " + options.inputs_key;
      arrays.labels_name = files.archive + ": " + options.labels_key;
    } else {
      if (files.inputs.empty() || files.labels.empty())
        throw Error("config: dataset." + split + "_inputs and dataset." + split + "_labels go together (or give dataset." + split + ": FILE.npz)");
      inputs = read_npy(files.inputs);
      labels = read_npy(files.labels);
      arrays.inputs_name = files.inputs;
      arrays.labels_name = files.labels;
    }
  } catch (const Error& e) {
    throw Error(std::string("numpy: ") + e.what());
  }
  const auto fail = [](const std::string& name, const std::string& what) { return Error("numpy: " + name + ": " + what); };
  if (inputs.shape.empty()) throw fail(arrays.inputs_name, "expected an array of samples, found a scalar");
  if (labels.shape.size() != 1)
    throw fail(arrays.labels_name, "expected one label per sample (1 dimension), found " + shape_text(labels.shape));
  if (labels.shape[0] != inputs.shape[0])
    throw fail(arrays.labels_name, std::to_string(labels.shape[0]) + " labels for " + std::to_string(inputs.shape[0]) + " inputs");
  const auto label_type = labels.data.scalar_type();
  if (!torch::isIntegralType(label_type, /*includeBool=*/false))
    throw fail(arrays.labels_name, "labels must be integers, found dtype '" + labels.descr + "'");
  arrays.labels = labels.data.to(torch::kInt64);
  if (arrays.labels.numel() > 0) {
    const std::int64_t lowest = arrays.labels.min().item<std::int64_t>();
    if (lowest < 0) {
      const std::int64_t at = arrays.labels.lt(0).nonzero()[0][0].item<std::int64_t>();
      throw fail(arrays.labels_name, "label " + std::to_string(lowest) + " at index " + std::to_string(at) + " is negative");
    }
  }

  torch::Tensor x = inputs.data;
  const auto type = x.scalar_type();
  if (type == torch::kUInt8) {
    x = x.to(torch::kFloat32);
    if (options.scale) x.div_(255.0);
  } else if (type == torch::kFloat32 || type == torch::kFloat64 || type == torch::kBool) {
    x = x.to(torch::kFloat32);
  } else {
    // Other integers are token ids.
    if (inputs.shape.size() != 2)
      throw fail(arrays.inputs_name, "integer inputs are token ids and must be N x length, found " + shape_text(inputs.shape));
    x = x.to(torch::kInt64);
    if (x.numel() > 0 && x.min().item<std::int64_t>() < 0) throw fail(arrays.inputs_name, "negative token id");
  }
  if (options.channels_last) {
    if (!x.is_floating_point() || x.dim() != 4)
      throw fail(arrays.inputs_name, "channels_last needs N x H x W x C image inputs, found " + shape_text(inputs.shape));
    x = x.permute({0, 3, 1, 2});
  }
  if (x.is_floating_point() && x.dim() == 3) x = x.unsqueeze(1);  // N x H x W: one-channel images
  arrays.inputs = x.contiguous();
  return arrays;
}

ImageSet take(const SplitArrays& arrays, const torch::Tensor& index) {
  return ImageSet{arrays.inputs.index_select(0, index).contiguous(), arrays.labels.index_select(0, index)};
}

std::vector<std::int64_t> iota(std::int64_t n) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[i] = i;
  return order;
}

}  // namespace

DataSplits load_numpy(const NumpyOptions& options) {
  if (!options.train.given()) throw Error("config: dataset.train (an .npz) or dataset.train_inputs and train_labels (.npy) are required");
  if (!(options.val_fraction >= 0 && options.val_fraction < 1)) throw Error("config: dataset.val_fraction must be in [0, 1)");
  if (options.classes < 0) throw Error("config: dataset.classes must not be negative (0: the largest label + 1)");
  if (options.train_subset < 0 || options.val_subset < 0 || options.test_subset < 0)
    throw Error("config: dataset.train_subset, val_subset and test_subset must not be negative (0 means all)");
  const SplitArrays train = read_split(options.train, "train", options);
  SplitArrays val, test;
  const bool have_val = options.val.given(), have_test = options.test.given();
  if (have_val) val = read_split(options.val, "val", options);
  if (have_test) test = read_split(options.test, "test", options);

  std::vector<const SplitArrays*> all{&train};
  if (have_val) all.push_back(&val);
  if (have_test) all.push_back(&test);
  std::int64_t classes = options.classes, vocabulary = 0;
  const bool tokens = train.inputs.scalar_type() == torch::kInt64;
  for (const SplitArrays* arrays : all) {
    if (arrays->inputs.scalar_type() != train.inputs.scalar_type() || arrays->inputs.sizes().slice(1) != train.inputs.sizes().slice(1))
      throw Error("numpy: " + arrays->inputs_name + ": inputs of shape " + shape_text(arrays->inputs.sizes().vec()) + " (" +
                  std::string(c10::toString(arrays->inputs.scalar_type())) + ") do not match the training inputs' " +
                  shape_text(train.inputs.sizes().vec()) + " (" + std::string(c10::toString(train.inputs.scalar_type())) + ")");
    if (arrays->labels.numel() == 0) continue;
    const std::int64_t top = arrays->labels.max().item<std::int64_t>();
    if (options.classes > 0 && top >= options.classes) {
      const std::int64_t at = arrays->labels.ge(options.classes).nonzero()[0][0].item<std::int64_t>();
      throw Error("numpy: " + arrays->labels_name + ": label " + std::to_string(arrays->labels[at].item<std::int64_t>()) +
                  " at index " + std::to_string(at) +
                  " is out of range for classes: " + std::to_string(options.classes));
    }
    if (options.classes == 0) classes = std::max(classes, top + 1);
    if (tokens && arrays->inputs.numel() > 0) vocabulary = std::max(vocabulary, arrays->inputs.max().item<std::int64_t>() + 1);
  }
  const std::int64_t n = train.inputs.size(0);
  if (n == 0) throw Error("numpy: " + train.inputs_name + ": no training samples");
  const std::int64_t val_count = have_val ? 0 : static_cast<std::int64_t>(options.val_fraction * static_cast<double>(n));
  if (val_count >= n) throw Error("config: dataset.val_fraction leaves no training samples of the " + std::to_string(n));

  DataSplits splits;
  splits.name = "numpy";
  splits.num_classes = classes;
  splits.input_shape = train.inputs.sizes().slice(1).vec();
  if (tokens) splits.vocabulary_size = std::max<std::int64_t>(vocabulary, 2);
  const FixedSplit split = fixed_split(n, val_count);
  splits.train = take(train, subset_index(split.train, options.train_subset));
  splits.val = have_val ? take(val, subset_index(iota(val.inputs.size(0)), options.val_subset))
                        : take(train, subset_index(split.val, options.val_subset));
  if (have_test) {
    splits.test = take(test, subset_index(iota(test.inputs.size(0)), options.test_subset));
  } else {
    // An empty split of the right shape, so code that reads its shape or type works unchanged.
    splits.test = take(train, torch::empty({0}, torch::kInt64));
  }
  return splits;
}

}  // namespace nascent
