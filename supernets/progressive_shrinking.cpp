#include "supernets/progressive_shrinking.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/data_parallel.hpp"
#include "core/error.hpp"
#include "core/rng.hpp"
#include "core/training_state.hpp"

namespace nascent {

namespace F = torch::nn::functional;

namespace {

std::vector<int> largest(const std::vector<int>& values, std::size_t n) {
  std::vector<int> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  return std::vector<int>(sorted.end() - static_cast<std::ptrdiff_t>(std::min(n, sorted.size())), sorted.end());
}

OfaArch sample_in_phase(const OfaSpec& spec, const OfaPhase& phase, Rng& rng) {
  OfaArch arch;
  for (int b = 0; b < OfaSpec::kBlocks; ++b) {
    arch.ks.push_back(phase.kernels[uniform_index(rng, phase.kernels.size())]);
    arch.e.push_back(phase.expands[uniform_index(rng, phase.expands.size())]);
  }
  for (int s = 0; s < OfaSpec::kStages; ++s) arch.d.push_back(phase.depths[uniform_index(rng, phase.depths.size())]);
  arch.r = spec.resolutions[uniform_index(rng, spec.resolutions.size())];
  return arch;
}

}  // namespace

std::vector<OfaPhase> progressive_shrinking_phases(const OfaSpec& spec, const std::vector<double>& epochs, double lr_scale,
                                                   double full_lr) {
  if (epochs.size() != 6)
    throw Error("config: progressive shrinking needs 6 epoch counts: full, kernel, depth 1, depth 2, expand 1, expand 2");
  const std::vector<int> k_max = largest(spec.kernels, 1), e_max = largest(spec.expands, 1), d_max = largest(spec.depths, 1);
  std::vector<OfaPhase> phases = {
      {"full", k_max, e_max, d_max, epochs[0], full_lr, 1, -1, false},
      {"kernel", spec.kernels, e_max, d_max, epochs[1], 3e-2 * lr_scale, 1, -1, true},
      {"depth1", spec.kernels, e_max, largest(spec.depths, 2), epochs[2], 2.5e-3 * lr_scale, 2, -1, true},
      {"depth2", spec.kernels, e_max, spec.depths, epochs[3], 7.5e-3 * lr_scale, 2, -1, true},
      {"expand1", spec.kernels, largest(spec.expands, 2), spec.depths, epochs[4], 2.5e-3 * lr_scale, 4, 0, true},
      {"expand2", spec.kernels, spec.expands, spec.depths, epochs[5], 7.5e-3 * lr_scale, 4, 1, true}};
  std::vector<OfaPhase> kept;
  for (auto& phase : phases)
    if (phase.epochs > 0) kept.push_back(phase);
  return kept;
}

std::vector<OfaPhase> uniform_sampling_phases(const OfaSpec& spec, double epochs, double lr, int subnets_per_step) {
  return {{"uniform", spec.kernels, spec.expands, spec.depths, epochs, lr, subnets_per_step, -1, false}};
}

namespace {

// optimizer.zero_grad() zeroes a gradient once defined rather than dropping it, so SGD goes on
// applying weight decay and momentum to weights no sub-network has used since. Which gradients are
// defined is thus part of the training state: a resumed training defines the same ones, as zeros.
torch::Tensor defined_gradients(OfaMbv3& supernet) {
  std::vector<std::int64_t> defined;
  for (const auto& p : supernet.parameters()) defined.push_back(p.grad().defined() ? 1 : 0);
  return torch::tensor(defined, torch::kInt64);
}

void restore_zero_gradients(OfaMbv3& supernet, const torch::Tensor& defined) {
  const auto parameters = supernet.parameters();
  if (defined.numel() != static_cast<std::int64_t>(parameters.size())) throw Error("checkpoint: the gradient mask does not fit this supernet");
  for (std::size_t i = 0; i < parameters.size(); ++i)
    if (defined[static_cast<std::int64_t>(i)].item<std::int64_t>() != 0) parameters[i].mutable_grad() = torch::zeros_like(parameters[i]);
}

}  // namespace

std::vector<OfaEpochRecord> train_ofa_supernet(
    OfaMbv3& supernet, const OfaSpec& spec, const ImageSet& train, const OfaTrainingOptions& options, std::uint64_t seed,
    const std::function<void(const OfaEpochRecord&, std::int64_t, std::int64_t, double)>& on_step,
    const TrainingCheckpoints& checkpoints, DataParallel* group) {
  if (options.batch_size < 2) throw Error("config: strategy.supernet_training.batch_size must be at least 2");
  const std::int64_t n = train.size();
  if (n < options.batch_size) throw Error("the supernet's training split has fewer images than one batch");
  Rng rng(seed);
  at::Generator generator = at::detail::createCPUGenerator(derive_seed(seed, 1));
  supernet.dropout_generator = &generator;
  const Task task{{train.images.size(1), train.images.size(2), train.images.size(3)}, supernet.classifier->weight.size(0)};
  std::shared_ptr<OfaMbv3> teacher;
  std::vector<OfaEpochRecord> records;
  torch::Tensor order;
  std::int64_t cursor = n;
  const std::int64_t steps = options.steps_per_epoch > 0 ? options.steps_per_epoch : n / options.batch_size;
  const torch::Device device = supernet.stem->weight.device();
  const DataParallelScope data_parallel(group);
  // Where a resumed training continues: the phase, the next epoch in it and the steps it has done.
  std::size_t first_phase = 0;
  int resume_epoch = 1;
  std::int64_t resume_done = 0;
  // A stop inside an epoch saves that epoch's steps so far; the resumed epoch continues after them.
  EpochInProgress interrupted;
  std::optional<StateReader> resumed;
  if (checkpoints.resume) {
    resumed.emplace(*checkpoints.resume);
    first_phase = static_cast<std::size_t>(resumed->integer("phase"));
    resume_epoch = static_cast<int>(resumed->integer("epoch"));
    resume_done = resumed->integer("done");
    interrupted = EpochInProgress::load(*resumed);
    resumed->rng("rng", rng);
    resumed->generator("generator", generator);
    order = resumed->tensor("order");
    cursor = resumed->integer("cursor");
    resumed->module("supernet", supernet, device);
    if (resumed->has("grad_defined")) restore_zero_gradients(supernet, resumed->tensor("grad_defined"));
    if (resumed->integer("has_teacher")) {
      teacher = std::make_shared<OfaMbv3>(supernet.shape(), task, 0.0);
      resumed->module("teacher", *teacher, device);
      teacher->train();
    }
    for (std::int64_t i = 0, count = resumed->integer("records"); i < count; ++i) {
      const std::string key = "record." + std::to_string(i) + ".";
      records.push_back({resumed->text(key + "phase"), static_cast<int>(resumed->integer(key + "epoch")), resumed->number(key + "train_loss"),
                         resumed->number(key + "lr"), resumed->number(key + "seconds")});
    }
  }
  for (std::size_t phase_index = first_phase; phase_index < options.phases.size(); ++phase_index) {
    const OfaPhase& phase = options.phases[phase_index];
    const bool continuing = resumed && phase_index == first_phase;
    if (phase.kernels.empty() || phase.expands.empty() || phase.depths.empty()) throw Error("OFA phase '" + phase.name + "' has nothing to sample");
    if (phase.distill && !teacher) {
      // The teacher is the full network as trained so far (the first phase), run in train mode without gradients.
      teacher = std::make_shared<OfaMbv3>(supernet.shape(), task, 0.0);
      torch::NoGradGuard no_grad;
      auto from = supernet.named_parameters();
      for (auto& item : teacher->named_parameters()) item.value().copy_(from[item.key()]);
      auto from_buffers = supernet.named_buffers();
      for (auto& item : teacher->named_buffers()) item.value().copy_(from_buffers[item.key()]);
      teacher->to(device);
      teacher->train();
    }
    // A continued phase had its channels sorted before its first epoch.
    if (phase.sort_stage >= 0 && !continuing) ofa_sort_channels(supernet, phase.expands, phase.sort_stage);
    std::vector<torch::Tensor> decay, no_decay;
    for (const auto& item : supernet.named_parameters()) {
      const bool bn_or_bias = item.key().find("bn") != std::string::npos || item.key().find("bias") != std::string::npos;
      (bn_or_bias ? no_decay : decay).push_back(item.value());
    }
    const auto sgd = [&](double decay_value) {
      return std::make_unique<torch::optim::SGDOptions>(
          torch::optim::SGDOptions(phase.lr).momentum(options.momentum).nesterov(options.nesterov).weight_decay(decay_value));
    };
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, sgd(options.weight_decay));
    groups.emplace_back(no_decay, sgd(0));
    torch::optim::SGD optimizer(std::move(groups), *sgd(options.weight_decay));
    if (continuing) resumed->optimizer("optimizer", optimizer);
    const std::int64_t phase_steps = static_cast<std::int64_t>(std::ceil(phase.epochs * static_cast<double>(steps)));
    supernet.train();
    std::int64_t done = continuing ? resume_done : 0;
    // An epoch a stop interrupted is finished and recorded even when its last step was the phase's.
    bool pending = continuing && interrupted.steps > 0;
    for (int epoch = continuing ? resume_epoch : 1; done < phase_steps || pending; ++epoch) {
      const auto started = std::chrono::steady_clock::now();
      const auto seconds_here = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
      const EpochInProgress earlier = pending ? interrupted : EpochInProgress{};
      pending = false;
      OfaEpochRecord record{phase.name, epoch, 0, earlier.lr, 0};
      double loss_sum = earlier.loss_sum;
      std::int64_t epoch_steps = earlier.steps;
      // The whole training state after `done_now` steps of the phase, `in_epoch.steps` of them in this epoch.
      const auto save = [&](int next_epoch, std::int64_t done_now, const EpochInProgress& in_epoch) {
        StateWriter state;
        state.integer("phase", static_cast<std::int64_t>(phase_index));
        state.integer("epoch", next_epoch);
        state.integer("done", done_now);
        in_epoch.save(state);
        state.rng("rng", rng);
        state.generator("generator", generator);
        state.tensor("order", order);
        state.integer("cursor", cursor);
        state.module("supernet", supernet);
        state.tensor("grad_defined", defined_gradients(supernet));
        state.integer("has_teacher", teacher ? 1 : 0);
        if (teacher) state.module("teacher", *teacher);
        state.optimizer("optimizer", optimizer);
        state.integer("records", static_cast<std::int64_t>(records.size()));
        for (std::size_t i = 0; i < records.size(); ++i) {
          const std::string key = "record." + std::to_string(i) + ".";
          state.text(key + "phase", records[i].phase);
          state.integer(key + "epoch", records[i].epoch);
          state.number(key + "train_loss", records[i].train_loss);
          state.number(key + "lr", records[i].lr);
          state.number(key + "seconds", records[i].seconds);
        }
        checkpoints.save(state.bytes());
      };
      for (; epoch_steps < steps && done < phase_steps; ++epoch_steps, ++done) {
        if (cursor + options.batch_size > n) {
          order = torch::randperm(n, generator, torch::kInt64);
          cursor = 0;
        }
        torch::Tensor index = order.slice(0, cursor, cursor + options.batch_size);
        cursor += options.batch_size;
        if (group) {
          const auto [begin, end] = share_of_batch(options.batch_size, *group);
          index = index.slice(0, begin, end);
          set_whole_batch_rows(options.batch_size);
        }
        const double lr = phase.lr * 0.5 * (1 + std::cos(M_PI * static_cast<double>(done) / static_cast<double>(phase_steps)));
        for (auto& group : optimizer.param_groups()) static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
        record.lr = lr;
        // One resolution per batch for every sub-network and the teacher (MyRandomResizedCrop).
        const std::int64_t r = spec.resolutions[uniform_index(rng, spec.resolutions.size())];
        torch::Tensor x = train.images.index_select(0, index).to(device);
        if (x.size(2) != r)
          x = F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<std::int64_t>{r, r}).mode(torch::kBilinear).align_corners(false));
        const torch::Tensor y = train.labels.index_select(0, index).to(device);
        torch::Tensor soft;
        if (phase.distill) {
          torch::NoGradGuard no_grad;
          OfaArch full = sample_in_phase(spec, {"", largest(spec.kernels, 1), largest(spec.expands, 1), largest(spec.depths, 1)}, rng);
          full.r = r;
          teacher->set_active(spec, full);
          soft = torch::softmax(teacher->forward(x), 1);
        }
        optimizer.zero_grad();
        double step_loss = 0;
        for (int j = 0; j < phase.subnets_per_step; ++j) {
          OfaArch arch = sample_in_phase(spec, phase, rng);
          arch.r = r;
          supernet.set_active(spec, arch);
          const torch::Tensor out = supernet.forward(x);
          torch::Tensor loss;
          if (!group) {
            loss = F::cross_entropy(out, y, F::CrossEntropyFuncOptions().label_smoothing(options.label_smoothing));
            if (phase.distill) loss = loss + options.kd_ratio * (-soft * torch::log_softmax(out, 1)).sum(1).mean();
          } else {
            // This share's part of the whole batch's means.
            const double rows = static_cast<double>(options.batch_size);
            loss = F::cross_entropy(out, y, F::CrossEntropyFuncOptions().label_smoothing(options.label_smoothing).reduction(torch::kSum)) / rows;
            if (phase.distill) loss = loss + options.kd_ratio * (-soft * torch::log_softmax(out, 1)).sum() / rows;
          }
          loss.backward();
          step_loss += loss.item<double>();
        }
        if (group) step_loss = sum_step(supernet, step_loss, *group);
        optimizer.step();
        step_loss /= phase.subnets_per_step;
        if (!std::isfinite(step_loss)) throw Error("OFA supernet training diverged (non-finite loss) in phase " + phase.name);
        loss_sum += step_loss;
        if (on_step) {
          try {
            on_step(record, epoch_steps + 1, std::min(steps, phase_steps - (done - epoch_steps)), step_loss);
          } catch (...) {
            // A stop after this step: checkpoint it, so that --resume continues with the next one.
            if (checkpoints.save) save(epoch, done + 1, {epoch_steps + 1, loss_sum, earlier.seconds + seconds_here(), record.lr});
            throw;
          }
        }
      }
      record.train_loss = loss_sum / static_cast<double>(std::max<std::int64_t>(1, epoch_steps));
      record.seconds = earlier.seconds + seconds_here();
      records.push_back(record);
      if (checkpoints.save) save(epoch + 1, done, {});
    }
  }
  supernet.dropout_generator = nullptr;
  supernet.eval();
  return records;
}

}  // namespace nascent
