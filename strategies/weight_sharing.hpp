#pragma once
// What the weight-sharing methods (Once-for-All, ViT-ResNAS) share: the supernet checkpoint that
// a rerun reuses, image data with a validation split, and training progress lines; and what every
// supernet method (DARTS and RARTS too) shares: its device.
#include <torch/torch.h>

#include <functional>
#include <optional>
#include <string>

#include "core/network.hpp"
#include "datasets/dataset.hpp"
#include "strategies/method.hpp"

namespace nascent {

// Everything a checkpoint's weights depend on; a stored checkpoint is reused only when it matches.
std::string checkpoint_identity(const Config& config, std::uint64_t seed);

// The supernet from `checkpoint` when it holds a matching one; otherwise initialised from the
// run's seed on the CPU, moved to `device`, trained by `train` and saved (write, then rename). In a
// data-parallel run (RunContext::data_parallel), process 0 decides whether the checkpoint loads,
// and only it writes one.
void load_or_train(Network& supernet, const std::string& checkpoint, const std::string& identity, RunContext& context,
                   const std::string& device, const std::function<void()>& train);

// The strategy's image dataset; text sets and sets without a validation split are one-line errors.
DataSplits load_image_data(const Config& dataset, const std::string& config_dir, const std::string& method);

// Resuming: the training state in the run's checkpoint file, checked to fit `supernet`; nothing
// when the run stopped before its first epoch ended. A state that does not fit is a one-line error.
std::optional<std::string> read_training_checkpoint(const std::string& path, torch::nn::Module& supernet);

// Supernet methods training data-parallel: RunContext::check_stop as process 0 decides it, on every
// process at the same step; and the resume state process 0 read, on every process.
void check_stop_together(const RunContext& context);
std::optional<std::string> resume_state_together(const RunContext& context, const std::optional<std::string>& mine);
// A data-parallel batch gives every process at least one row: `batch_size` (the option `name` of
// `section`) below the process count is a one-line config error.
void check_batch_splits(const Options& section, const std::string& name, std::int64_t batch_size, const RunContext& context);

// The method's device: --device, else its `device` option; checked.
std::string method_device(const Options& options, const RunContext& context);

// The run's `constraints` as the one upper bound a weight-sharing evolution searches under: the
// metric (one of `metrics`) and its max; nothing when the config has no `constraints`. `method`'s
// own `strategy.constraint` section is the other spelling, so giving both (`own_given`), a lower
// bound, another metric or several are one-line Errors. The objective must be val_acc (max), what
// the evolution ranks by.
std::optional<std::pair<std::string, double>> run_constraint(const RunContext& context, const std::string& method,
                                                            const std::vector<std::string>& metrics, bool own_given);

// The first n samples (all when n <= 0).
ImageSet first(const ImageSet& set, std::int64_t n);

// "[supernet <where>] loss L  elapsed E  ~R left", the remaining time extrapolated from the steps done.
std::string training_line(const std::string& where, double loss, double run_elapsed, double training_seconds, double done, double total);

}  // namespace nascent
