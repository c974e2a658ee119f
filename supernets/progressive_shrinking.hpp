#pragma once
// Training the OFA supernet (spec A.3): progressive shrinking, i.e. the full network first, then
// elastic kernel, depth (two phases) and expand ratio (two phases), each phase sampling
// sub-networks from what is elastic so far, with in-place knowledge distillation from the full
// network. The uniform schedule (everything elastic from the start, no distillation) is the
// paper's ablation baseline.
#include <functional>
#include <string>
#include <vector>

#include "core/data_parallel.hpp"
#include "core/training_state.hpp"
#include "datasets/dataset.hpp"
#include "search_spaces/ofa/ofa.hpp"
#include "supernets/ofa_mbv3.hpp"

namespace nascent {

struct OfaPhase {
  std::string name;
  std::vector<int> kernels, expands, depths;  // what is elastic in this phase
  double epochs = 1;
  double lr = 0.01;            // SGD, cosine to 0 over the phase
  int subnets_per_step = 1;    // dynamic_batch_size: gradients of this many sub-networks per step
  int sort_stage = -1;         // >= 0: ofa_sort_channels(expands, sort_stage) before the phase
  bool distill = true;         // in-place distillation from the full network (trained by the first phase)
};

struct OfaTrainingOptions {
  std::vector<OfaPhase> phases;
  std::int64_t batch_size = 64;
  double momentum = 0.9, weight_decay = 3e-5, label_smoothing = 0.1, kd_ratio = 1.0;
  bool nesterov = true;
  std::int64_t steps_per_epoch = 0;  // 0: one pass over the training split
};

// The five phases of the table in spec A.3 preceded by the full network, with their base learning
// rates times `lr_scale` and `epochs` = {full, kernel, depth 1, depth 2, expand 1, expand 2}.
// The full network's learning rate is not in the reference code; `full_lr` sets it.
std::vector<OfaPhase> progressive_shrinking_phases(const OfaSpec& spec, const std::vector<double>& epochs, double lr_scale,
                                                   double full_lr);
// One phase of `epochs` that samples the whole space from the start, without distillation.
std::vector<OfaPhase> uniform_sampling_phases(const OfaSpec& spec, double epochs, double lr, int subnets_per_step);

struct OfaEpochRecord {
  std::string phase;
  int epoch = 0;  // within the phase, 1-based
  double train_loss = 0, lr = 0, seconds = 0;
};

// Trains `supernet` (built with OfaNetShape::supernet(spec)) on `train`; everything random comes
// from `seed`. `on_step(phase, epoch, step, steps, loss)` may throw to stop. With a `group`, every
// member calls this alike and trains on its share of each batch (core/data_parallel.hpp).
std::vector<OfaEpochRecord> train_ofa_supernet(
    OfaMbv3& supernet, const OfaSpec& spec, const ImageSet& train, const OfaTrainingOptions& options, std::uint64_t seed,
    const std::function<void(const OfaEpochRecord&, std::int64_t, std::int64_t, double)>& on_step,
    const TrainingCheckpoints& checkpoints = {}, DataParallel* group = nullptr);

}  // namespace nascent
