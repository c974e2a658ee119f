#pragma once
// Training batches prepared ahead of the training step on loader threads.
#include <torch/torch.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "datasets/dataset.hpp"

namespace nascent {

// Applies `augmentation` in place to `images` (B x C x H x W float32, contiguous), drawing every
// random choice from `seed` alone, so the same seed always gives the same batch. Per sample, in
// the order of torchvision's CIFAR pipeline: crop with zero padding (offsets uniform in
// [0, 2 * crop_padding]), then horizontal flip (probability 1/2), then cutout (a cutout x cutout
// square whose centre is uniform over the image, clipped at the borders, set to 0).
//
// The images reach the loader already normalised (apply_image_options runs at load time), so the
// value 0 that padding and cutout write is the channel mean: the same as normalising last and
// padding/cutting with the mean colour, and what a normalised pipeline that pads with zeros does.
void augment_batch(torch::Tensor& images, const Augmentation& augmentation, std::uint64_t seed);

// The seed of one training batch's augmentation: a function of (seed, epoch, batch) only, never of
// which thread prepares the batch or of what ran before, so results are identical for any number
// of loader threads and a training resumed at an epoch boundary draws what it would have drawn.
std::uint64_t batch_seed(std::uint64_t seed, std::int64_t epoch, std::int64_t batch);

struct Batch {
  std::int64_t index = 0;  // position in the epoch
  torch::Tensor inputs;    // CPU; images augmented when the loader augments
  torch::Tensor labels;    // CPU, int64
};

// One epoch of training batches: `order` (a permutation of the set's rows, int64) cut into
// consecutive batches of `batch_size` (the last may be smaller), of which the first `batches` are
// delivered, in order. Image sets get `augmentation`; token sets (int64 rows) pass through. With
// `threads` > 0 that many threads prepare batches ahead into a bounded queue while the caller
// trains; with 0 each batch is prepared when asked for. The batches do not depend on `threads`.
// Only an epoch's first batch is waited for: the permutation it needs is drawn at the epoch's
// start (from the training's generator, whose draw order must not change), and preparing one
// batch takes a fraction of a millisecond (bench_data_loading).
// `set` and `order` must outlive the loader; destroying it early stops its threads.
class EpochBatches {
 public:
  EpochBatches(const ImageSet& set, torch::Tensor order, std::int64_t batch_size, std::int64_t batches,
               const Augmentation& augmentation, std::uint64_t seed, std::int64_t epoch, std::int64_t threads);
  ~EpochBatches();
  EpochBatches(const EpochBatches&) = delete;
  EpochBatches& operator=(const EpochBatches&) = delete;

  std::int64_t size() const { return batches_; }
  // The next batch; false after the last. Rethrows what failed while preparing it.
  bool next(Batch& batch);

 private:
  Batch prepare(std::int64_t index) const;
  void work();

  const ImageSet& set_;
  torch::Tensor order_;
  std::int64_t batch_size_, batches_;
  Augmentation augmentation_;
  bool augment_;
  std::uint64_t seed_;
  std::int64_t epoch_;

  // The queue: batch i lives in slot i % slots_.size() once prepared. A worker may claim batch i
  // only while i < delivered_ + slots_.size(), which bounds the memory held ahead.
  struct Slot {
    bool ready = false;
    Batch batch;
    std::exception_ptr error;
  };
  std::vector<Slot> slots_;
  std::int64_t claimed_ = 0, delivered_ = 0;
  bool stopping_ = false;
  std::mutex mutex_;
  std::condition_variable slot_ready_, slot_free_;
  std::vector<std::thread> workers_;
};

}  // namespace nascent
