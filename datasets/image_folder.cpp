// jpeglib.h needs FILE and size_t declared first.
#include <cstddef>
#include <cstdio>

#include <jpeglib.h>
#include <png.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <csetjmp>
#include <cstring>
#include <filesystem>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "datasets/formats.hpp"

namespace nascent {

namespace {

namespace fs = std::filesystem;

const std::string kPrefix = "image_folder: ";

// Decoded pixels, interleaved: 1 (grey), 3 (RGB) or 4 (RGBA, CMYK) bytes a pixel.
struct Pixels {
  std::int64_t width = 0, height = 0;
  int components = 0;
  bool cmyk = false, adobe_inverted = false;
  std::vector<unsigned char> bytes;
};

// libjpeg's default error handler calls exit(); this one jumps back to the decoder with the
// message. Warnings (corrupt data, a premature end of the file) are errors too: libjpeg would
// otherwise hand back an image with grey blocks where the data was missing.
struct JpegErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr info) {
  auto* manager = reinterpret_cast<JpegErrorManager*>(info->err);
  info->err->format_message(info, manager->message);
  std::longjmp(manager->jump, 1);
}

void jpeg_message(j_common_ptr info, int level) {
  if (level < 0) jpeg_fail(info);  // level -1: a warning; higher levels are trace messages
}

// Everything the decoder touches lives here, outside the frame that calls setjmp, so that no
// local is modified between setjmp and longjmp and no C++ object is skipped by the jump.
struct JpegJob {
  jpeg_decompress_struct info;
  JpegErrorManager errors;
  const std::string* file = nullptr;
  Pixels* out = nullptr;
};

bool run_jpeg(JpegJob& job) {
  job.info.err = jpeg_std_error(&job.errors.base);
  job.errors.base.error_exit = jpeg_fail;
  job.errors.base.emit_message = jpeg_message;
  if (setjmp(job.errors.jump)) {
    jpeg_destroy_decompress(&job.info);
    return false;
  }
  jpeg_create_decompress(&job.info);
  jpeg_mem_src(&job.info, reinterpret_cast<const unsigned char*>(job.file->data()), static_cast<unsigned long>(job.file->size()));
  jpeg_read_header(&job.info, TRUE);
  const J_COLOR_SPACE space = job.info.jpeg_color_space;
  job.out->cmyk = space == JCS_CMYK || space == JCS_YCCK;
  job.out->adobe_inverted = job.info.saw_Adobe_marker;
  job.info.out_color_space = job.out->cmyk ? JCS_CMYK : space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&job.info);
  job.out->width = job.info.output_width;
  job.out->height = job.info.output_height;
  job.out->components = job.info.output_components;
  job.out->bytes.resize(static_cast<std::size_t>(job.out->width * job.out->height * job.out->components));
  while (job.info.output_scanline < job.info.output_height) {
    JSAMPROW row = job.out->bytes.data() + static_cast<std::size_t>(job.info.output_scanline) * job.out->width * job.out->components;
    jpeg_read_scanlines(&job.info, &row, 1);
  }
  jpeg_finish_decompress(&job.info);
  jpeg_destroy_decompress(&job.info);
  return true;
}

Pixels decode_jpeg(const std::string& file, const std::string& path) {
  Pixels pixels;
  auto job = std::make_unique<JpegJob>();
  job->file = &file;
  job->out = &pixels;
  if (!run_jpeg(*job)) throw Error(kPrefix + path + ": corrupt or truncated JPEG (libjpeg: " + job->errors.message + ")");
  return pixels;
}

// libpng's simplified API keeps its own setjmp error handling and returns the message instead of
// calling exit(); it also expands palettes, grey and 16-bit samples to 8-bit RGBA.
Pixels decode_png(const std::string& file, const std::string& path) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  Pixels pixels;
  bool ok = png_image_begin_read_from_memory(&image, file.data(), file.size()) != 0;
  if (ok) {
    // 8-bit sRGB RGBA is not premultiplied, so dropping alpha leaves the colours as stored.
    image.format = PNG_FORMAT_RGBA;
    pixels.width = image.width;
    pixels.height = image.height;
    pixels.components = 4;
    pixels.bytes.resize(PNG_IMAGE_SIZE(image));
    ok = png_image_finish_read(&image, nullptr, pixels.bytes.data(), 0, nullptr) != 0;
  }
  if (!ok) {
    const std::string message = image.message;
    png_image_free(&image);
    throw Error(kPrefix + path + ": corrupt or truncated PNG (libpng: " + message + ")");
  }
  return pixels;
}

// One channel plane per output channel, as floats of the byte values (0..255).
std::vector<std::vector<float>> planes_of(const Pixels& pixels, std::int64_t channels) {
  const std::size_t n = static_cast<std::size_t>(pixels.width * pixels.height);
  std::vector<std::vector<float>> rgb(3, std::vector<float>(n));
  const unsigned char* p = pixels.bytes.data();
  const int k = pixels.components;
  for (std::size_t i = 0; i < n; ++i, p += k) {
    if (k == 1) {
      rgb[0][i] = rgb[1][i] = rgb[2][i] = p[0];
    } else if (pixels.cmyk) {
      // Adobe's CMYK JPEGs store inverted ink values (255 = no ink).
      const float c = pixels.adobe_inverted ? p[0] : 255 - p[0], m = pixels.adobe_inverted ? p[1] : 255 - p[1];
      const float y = pixels.adobe_inverted ? p[2] : 255 - p[2], black = pixels.adobe_inverted ? p[3] : 255 - p[3];
      rgb[0][i] = c * black / 255.0f;
      rgb[1][i] = m * black / 255.0f;
      rgb[2][i] = y * black / 255.0f;
    } else {
      rgb[0][i] = p[0], rgb[1][i] = p[1], rgb[2][i] = p[2];  // RGBA's alpha dropped
    }
  }
  if (channels == 3) return rgb;
  std::vector<std::vector<float>> grey(1, std::vector<float>(n));
  for (std::size_t i = 0; i < n; ++i) grey[0][i] = 0.299f * rgb[0][i] + 0.587f * rgb[1][i] + 0.114f * rgb[2][i];
  return grey;
}

// Triangle-filter weights taking `in` samples to the output positions [first, first + count) of a
// line resized to `out` samples. Pixel centres are at half-integers (as align_corners=false); the
// filter widens by the shrink factor, so shrinking averages every input sample, and at the edges
// the weights that fall outside are dropped and the rest renormalised.
struct Taps {
  std::vector<std::int64_t> start;
  std::vector<std::vector<float>> weights;
};

Taps taps(std::int64_t in, std::int64_t out, std::int64_t first, std::int64_t count) {
  Taps result;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double support = std::max(1.0, scale);
  for (std::int64_t o = first; o < first + count; ++o) {
    const double centre = (static_cast<double>(o) + 0.5) * scale - 0.5;
    const auto lo = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::ceil(centre - support)));
    const auto hi = std::min<std::int64_t>(in - 1, static_cast<std::int64_t>(std::floor(centre + support)));
    std::vector<float> w;
    double total = 0;
    for (std::int64_t i = lo; i <= hi; ++i) {
      const double weight = std::max(0.0, 1.0 - std::abs(static_cast<double>(i) - centre) / support);
      w.push_back(static_cast<float>(weight));
      total += weight;
    }
    for (float& v : w) v = static_cast<float>(v / total);
    result.start.push_back(lo);
    result.weights.push_back(std::move(w));
  }
  return result;
}

// Decodes one file into `out` (channels x size x size floats in [0, 1]).
void decode_into(const std::string& path, const ImageFolderOptions& options, float* out) {
  const std::string file = read_file_bytes(path, kPrefix);
  const auto* magic = reinterpret_cast<const unsigned char*>(file.data());
  Pixels pixels;
  if (file.size() >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF)
    pixels = decode_jpeg(file, path);
  else if (file.size() >= 8 && std::memcmp(file.data(), "\x89PNG\r\n\x1a\n", 8) == 0)
    pixels = decode_png(file, path);
  else
    throw Error(kPrefix + path + ": " + (file.empty() ? "empty file" : "not a JPEG or PNG image (by its first bytes)"));
  if (pixels.width < 1 || pixels.height < 1) throw Error(kPrefix + path + ": image without pixels");

  const std::int64_t size = options.size;
  const std::int64_t shorter = options.resize > 0 ? options.resize : size;
  const std::int64_t h = pixels.height, w = pixels.width;
  std::int64_t new_h = shorter, new_w = shorter;
  if (w > h) new_w = std::max<std::int64_t>(shorter, std::llround(static_cast<double>(w) * shorter / h));
  if (h > w) new_h = std::max<std::int64_t>(shorter, std::llround(static_cast<double>(h) * shorter / w));
  // The centre crop, rounded towards the top left, is folded into the resize: only the rows and
  // columns kept are computed.
  const Taps columns = taps(w, new_w, (new_w - size) / 2, size);
  const Taps rows = taps(h, new_h, (new_h - size) / 2, size);
  const std::vector<std::vector<float>> planes = planes_of(pixels, options.channels);
  std::vector<float> across(static_cast<std::size_t>(h * size));
  for (std::size_t c = 0; c < planes.size(); ++c) {
    const std::vector<float>& plane = planes[c];
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < size; ++x) {
        const float* source = plane.data() + y * w + columns.start[x];
        float sum = 0;
        const std::vector<float>& weights = columns.weights[x];
        for (std::size_t t = 0; t < weights.size(); ++t) sum += weights[t] * source[t];
        across[y * size + x] = sum;
      }
    float* target = out + c * size * size;
    for (std::int64_t y = 0; y < size; ++y)
      for (std::int64_t x = 0; x < size; ++x) {
        float sum = 0;
        const std::vector<float>& weights = rows.weights[y];
        for (std::size_t t = 0; t < weights.size(); ++t) sum += weights[t] * across[(rows.start[y] + t) * size + x];
        target[y * size + x] = std::clamp(sum, 0.0f, 255.0f) / 255.0f;
      }
  }
}

bool is_image_name(const fs::path& path) {
  std::string extension = path.extension().string();
  for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return extension == ".jpg" || extension == ".jpeg" || extension == ".png";
}

std::vector<std::string> sorted_entries(const fs::path& folder, bool directories) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // hidden files and folders (.DS_Store, .git)
    std::error_code type_error;
    if (directories ? it->is_directory(type_error) : (it->is_regular_file(type_error) && is_image_name(it->path())))
      names.push_back(name);
  }
  if (ec) throw Error(kPrefix + folder.string() + ": cannot list (" + ec.message() + ")");
  std::sort(names.begin(), names.end());
  return names;
}

struct Listing {
  std::vector<std::string> files;
  std::vector<std::int64_t> labels;
};

// root/<class>/<image>; `classes` empty: they are read from the folder (the training split).
Listing list_split(const fs::path& root, std::vector<std::string>& classes) {
  const bool training = classes.empty();
  const std::vector<std::string> found = sorted_entries(root, /*directories=*/true);
  if (found.empty())
    throw Error(kPrefix + root.string() + ": no class folders (expected " + root.string() +
                "/<class>/*.jpg|*.jpeg|*.png, or train/, val/ and test/ folders of those)");
  if (training) classes = found;
  Listing listing;
  for (const std::string& name : found) {
    const auto at = std::find(classes.begin(), classes.end(), name);
    if (at == classes.end())
      throw Error(kPrefix + (root / name).string() + ": class '" + name + "' is not among the training classes");
    const std::vector<std::string> images = sorted_entries(root / name, /*directories=*/false);
    if (images.empty()) throw Error(kPrefix + (root / name).string() + ": no .jpg, .jpeg or .png images in the class folder");
    for (const std::string& image : images) {
      listing.files.push_back((root / name / image).string());
      listing.labels.push_back(at - classes.begin());
    }
  }
  // One class trains a model that cannot be wrong: most likely `path` names a class folder's parent
  // one level too high or too low.
  if (training && classes.size() < 2)
    throw Error(kPrefix + root.string() + ": one class folder ('" + classes.front() + "'); classification needs at least two");
  return listing;
}

ImageSet decode_all(const Listing& listing, const std::vector<std::int64_t>& order, const ImageFolderOptions& options) {
  const auto n = static_cast<std::int64_t>(order.size());
  check_decoded_size(n, options.channels, options.size, kPrefix, "dataset.size");
  ImageSet set{torch::empty({n, options.channels, options.size, options.size}, torch::kFloat32), torch::empty({n}, torch::kInt64)};
  float* images = set.images.data_ptr<float>();
  const std::int64_t stride = options.channels * options.size * options.size;
  std::vector<std::string> errors(static_cast<std::size_t>(n));
  // Each image has its own slot and its own error entry, so the result (and which error is
  // reported: the first in split order) does not depend on the scheduling.
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n), [&](const tbb::blocked_range<std::int64_t>& range) {
    for (std::int64_t i = range.begin(); i != range.end(); ++i) {
      try {
        decode_into(listing.files[order[i]], options, images + i * stride);
      } catch (const Error& e) {
        errors[i] = e.what();
      } catch (const std::exception& e) {
        errors[i] = kPrefix + listing.files[order[i]] + ": " + e.what();
      }
    }
  });
  for (const std::string& error : errors)
    if (!error.empty()) throw Error(error);
  auto* labels = set.labels.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) labels[i] = listing.labels[order[i]];
  return set;
}

std::vector<std::int64_t> shuffled(std::int64_t n) {
  Rng rng(0);
  return shuffled_indices(n, rng);
}

}  // namespace

DataSplits load_image_folder(const ImageFolderOptions& options) {
  if (options.size < 1) throw Error("config: dataset.size must be at least 1");
  if (options.resize != 0 && options.resize < options.size)
    throw Error("config: dataset.resize must be 0 (the size) or at least dataset.size, got " + std::to_string(options.resize));
  if (options.channels != 1 && options.channels != 3)
    throw Error("config: dataset.channels must be 1 or 3, got " + std::to_string(options.channels));
  if (!(options.val_fraction >= 0 && options.val_fraction < 1)) throw Error("config: dataset.val_fraction must be in [0, 1)");
  if (options.train_subset < 0 || options.val_subset < 0 || options.test_subset < 0)
    throw Error("config: dataset.train_subset, val_subset and test_subset must not be negative (0 means all)");
  const fs::path root(options.folder);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error(kPrefix + options.folder + ": not a folder (set dataset.path)");
  const bool split_folders = fs::is_directory(root / "train", ec);
  const bool val_folder = split_folders && fs::is_directory(root / "val", ec);
  const bool test_folder = split_folders && fs::is_directory(root / "test", ec);

  std::vector<std::string> classes;
  const Listing train = list_split(split_folders ? root / "train" : root, classes);
  const auto n = static_cast<std::int64_t>(train.files.size());
  const std::int64_t val_count = val_folder ? 0 : static_cast<std::int64_t>(options.val_fraction * static_cast<double>(n));
  if (val_count >= n) throw Error("config: dataset.val_fraction leaves no training images of the " + std::to_string(n));
  const FixedSplit split = fixed_split(n, val_count);

  const auto kept = [](const std::vector<std::int64_t>& order, std::int64_t subset) {
    return subset > 0 && subset < static_cast<std::int64_t>(order.size())
               ? std::vector<std::int64_t>(order.begin(), order.begin() + subset)
               : order;
  };
  DataSplits splits;
  splits.name = "image_folder";
  splits.class_names = classes;
  splits.num_classes = static_cast<std::int64_t>(classes.size());
  splits.input_shape = {options.channels, options.size, options.size};
  // Only the images a split keeps are decoded. Folder splits are listed class by class, so they are
  // shuffled too (Rng(0)), which makes their subsets a sample of every class.
  splits.train = decode_all(train, kept(split.train, options.train_subset), options);
  if (val_folder) {
    const Listing val = list_split(root / "val", classes);
    splits.val = decode_all(val, kept(shuffled(static_cast<std::int64_t>(val.files.size())), options.val_subset), options);
  } else {
    splits.val = decode_all(train, kept(split.val, options.val_subset), options);
  }
  if (test_folder) {
    const Listing test = list_split(root / "test", classes);
    splits.test = decode_all(test, kept(shuffled(static_cast<std::int64_t>(test.files.size())), options.test_subset), options);
  } else {
    splits.test = decode_all(train, {}, options);
  }
  return splits;
}

}  // namespace nascent
