#include "datasets/batches.hpp"

#include <algorithm>
#include <cstring>

#include "core/error.hpp"
#include "core/rng.hpp"

namespace nascent {

namespace {

struct SampleDraw {
  std::int64_t offset_y = 0, offset_x = 0;  // crop origin in the padded image
  bool flip = false;
  std::int64_t centre_y = -1, centre_x = -1;  // cutout centre (-1: none)
};

// Crop (with zero padding) and flip of one C x H x W image, reading from `source` (a copy of it).
void crop_and_flip(float* image, const float* source, std::int64_t channels, std::int64_t height, std::int64_t width,
                   std::int64_t padding, const SampleDraw& draw) {
  // Output (y, x) reads padded (y + offset_y, x' + offset_x) with x' the flipped column, i.e.
  // source (y + offset_y - padding, x' + offset_x - padding); outside the source it is padding.
  const std::int64_t shift_y = draw.offset_y - padding, shift_x = draw.offset_x - padding;
  // Output columns whose source column (before flipping) is inside the image.
  const std::int64_t first_x = std::max<std::int64_t>(0, -shift_x);
  const std::int64_t end_x = std::min<std::int64_t>(width, width - shift_x);
  for (std::int64_t c = 0; c < channels; ++c) {
    const float* plane = source + c * height * width;
    for (std::int64_t y = 0; y < height; ++y) {
      float* out = image + (c * height + y) * width;
      const std::int64_t source_y = y + shift_y;
      if (source_y < 0 || source_y >= height || first_x >= end_x) {
        std::fill(out, out + width, 0.0f);
        continue;
      }
      const float* row = plane + source_y * width;
      if (!draw.flip) {
        std::fill(out, out + first_x, 0.0f);
        std::memcpy(out + first_x, row + first_x + shift_x, (end_x - first_x) * sizeof(float));
        std::fill(out + end_x, out + width, 0.0f);
      } else {
        // Flipped: output x shows unflipped column width - 1 - x.
        for (std::int64_t x = 0; x < width; ++x) {
          const std::int64_t unflipped = width - 1 - x;
          out[x] = unflipped >= first_x && unflipped < end_x ? row[unflipped + shift_x] : 0.0f;
        }
      }
    }
  }
}

void cut_out(float* image, std::int64_t channels, std::int64_t height, std::int64_t width, std::int64_t size,
             const SampleDraw& draw) {
  // size rows starting size / 2 above the centre: exactly size x size when away from the borders.
  const std::int64_t y0 = std::max<std::int64_t>(0, draw.centre_y - size / 2);
  const std::int64_t y1 = std::min<std::int64_t>(height, draw.centre_y - size / 2 + size);
  const std::int64_t x0 = std::max<std::int64_t>(0, draw.centre_x - size / 2);
  const std::int64_t x1 = std::min<std::int64_t>(width, draw.centre_x - size / 2 + size);
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t y = y0; y < y1; ++y) {
      float* row = image + (c * height + y) * width;
      std::fill(row + x0, row + x1, 0.0f);
    }
}

}  // namespace

std::uint64_t batch_seed(std::uint64_t seed, std::int64_t epoch, std::int64_t batch) {
  return derive_seed(derive_seed(seed, static_cast<std::uint64_t>(epoch)), static_cast<std::uint64_t>(batch));
}

void augment_batch(torch::Tensor& images, const Augmentation& augmentation, std::uint64_t seed) {
  if (!augmentation.any()) return;
  if (images.dim() != 4 || images.scalar_type() != torch::kFloat32 || !images.is_contiguous() || !images.device().is_cpu())
    throw Error("augmentation needs images as a contiguous CPU float32 N x C x H x W tensor");
  const std::int64_t count = images.size(0), channels = images.size(1), height = images.size(2), width = images.size(3);
  const std::int64_t sample_size = channels * height * width;
  const std::int64_t padding = augmentation.crop_padding;
  // Draw everything first, in a fixed per-sample order, so the pixels never influence the draws.
  Rng rng(seed);
  std::vector<SampleDraw> draws(static_cast<std::size_t>(count));
  for (SampleDraw& draw : draws) {
    if (padding > 0) {
      draw.offset_y = static_cast<std::int64_t>(uniform_index(rng, 2 * padding + 1));
      draw.offset_x = static_cast<std::int64_t>(uniform_index(rng, 2 * padding + 1));
    } else {
      draw.offset_y = draw.offset_x = 0;
    }
    if (augmentation.flip) draw.flip = uniform_index(rng, 2) == 1;
    if (augmentation.cutout > 0) {
      draw.centre_y = static_cast<std::int64_t>(uniform_index(rng, height));
      draw.centre_x = static_cast<std::int64_t>(uniform_index(rng, width));
    }
  }
  float* data = images.data_ptr<float>();
  std::vector<float> source(static_cast<std::size_t>(sample_size));
  for (std::int64_t i = 0; i < count; ++i) {
    float* image = data + i * sample_size;
    const SampleDraw& draw = draws[i];
    const bool moves = draw.flip || draw.offset_y != padding || draw.offset_x != padding;
    if (moves) {
      std::memcpy(source.data(), image, sample_size * sizeof(float));
      crop_and_flip(image, source.data(), channels, height, width, padding, draw);
    }
    if (augmentation.cutout > 0) cut_out(image, channels, height, width, augmentation.cutout, draw);
  }
}

EpochBatches::EpochBatches(const ImageSet& set, torch::Tensor order, std::int64_t batch_size, std::int64_t batches,
                           const Augmentation& augmentation, std::uint64_t seed, std::int64_t epoch, std::int64_t threads)
    : set_(set),
      order_(order.to(torch::kInt64).contiguous()),
      batch_size_(batch_size),
      batches_(batches),
      augmentation_(augmentation),
      augment_(augmentation.any()),
      seed_(seed),
      epoch_(epoch) {
  if (batch_size_ < 1) throw Error("batch size must be at least 1");
  if (threads < 0) throw Error("loader threads must not be negative");
  if (!set_.images.is_contiguous() || !set_.labels.is_contiguous() || !set_.images.device().is_cpu())
    throw Error("the batch loader needs contiguous CPU tensors");
  if (set_.labels.scalar_type() != torch::kInt64) throw Error("the batch loader needs int64 labels");
  if (augment_ && (set_.images.dim() != 4 || set_.images.scalar_type() != torch::kFloat32))
    throw Error("augmentation needs an image set (N x C x H x W float32); token sets cannot be augmented");
  const std::int64_t available = (order_.size(0) + batch_size_ - 1) / batch_size_;
  batches_ = std::max<std::int64_t>(0, std::min(batches_, available));
  threads = std::min(threads, batches_);
  if (threads == 0) return;
  // Two slots per thread: each can fill one while the one it filled before waits to be taken.
  slots_.resize(static_cast<std::size_t>(2 * threads));
  workers_.reserve(static_cast<std::size_t>(threads));
  for (std::int64_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

EpochBatches::~EpochBatches() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  slot_free_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

Batch EpochBatches::prepare(std::int64_t index) const {
  const std::int64_t begin = index * batch_size_;
  const std::int64_t end = std::min(order_.size(0), begin + batch_size_);
  const std::int64_t count = end - begin;
  const std::int64_t rows = set_.images.size(0);
  const std::int64_t* picked = order_.data_ptr<std::int64_t>() + begin;

  // Gathered with memcpy rather than index_select: LibTorch's own parallelism inside many loader
  // threads would compete with the training step for the cores.
  std::vector<std::int64_t> shape = set_.images.sizes().vec();
  shape[0] = count;
  Batch batch;
  batch.index = index;
  batch.inputs = torch::empty(shape, set_.images.options());
  batch.labels = torch::empty({count}, set_.labels.options());
  const std::size_t row_bytes = static_cast<std::size_t>(set_.images.numel() / std::max<std::int64_t>(1, rows)) *
                                set_.images.element_size();
  const char* from = static_cast<const char*>(set_.images.data_ptr());
  char* to = static_cast<char*>(batch.inputs.data_ptr());
  const std::int64_t* labels = set_.labels.data_ptr<std::int64_t>();
  std::int64_t* batch_labels = batch.labels.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t row = picked[i];
    if (row < 0 || row >= rows) throw Error("batch loader: row " + std::to_string(row) + " is outside the set");
    std::memcpy(to + i * row_bytes, from + row * row_bytes, row_bytes);
    batch_labels[i] = labels[row];
  }
  if (augment_) augment_batch(batch.inputs, augmentation_, batch_seed(seed_, epoch_, index));
  return batch;
}

void EpochBatches::work() {
  const std::int64_t slots = static_cast<std::int64_t>(slots_.size());
  for (;;) {
    std::int64_t index;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      slot_free_.wait(lock, [&] { return stopping_ || claimed_ >= batches_ || claimed_ < delivered_ + slots; });
      if (stopping_ || claimed_ >= batches_) return;
      index = claimed_++;
    }
    Batch batch;
    std::exception_ptr error;
    try {
      batch = prepare(index);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Slot& slot = slots_[static_cast<std::size_t>(index % slots)];
      slot.batch = std::move(batch);
      slot.error = error;
      slot.ready = true;
    }
    slot_ready_.notify_all();
  }
}

bool EpochBatches::next(Batch& batch) {
  if (delivered_ >= batches_) return false;
  if (workers_.empty()) {
    batch = prepare(delivered_++);
    return true;
  }
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    Slot& slot = slots_[static_cast<std::size_t>(delivered_ % static_cast<std::int64_t>(slots_.size()))];
    slot_ready_.wait(lock, [&] { return slot.ready; });
    batch = std::move(slot.batch);
    error = slot.error;
    slot = Slot();
    ++delivered_;
  }
  slot_free_.notify_all();
  if (error) std::rethrow_exception(error);
  return true;
}

}  // namespace nascent
