// What the weight-sharing methods share (strategies/weight_sharing.hpp).
#include "strategies/weight_sharing.hpp"

#include <filesystem>
#include <sstream>

#include "core/checkpoint.hpp"
#include "core/data_parallel.hpp"
#include "core/error.hpp"
#include "core/training_state.hpp"
#include "evaluators/train_evaluator.hpp"

namespace nascent {

namespace {
bool load_checkpoint(torch::nn::Module& net, const std::string& path, const std::string& identity) {
  if (!std::filesystem::exists(path)) return false;
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const std::exception&) {
    throw Error("strategy.checkpoint '" + path + "' is not a nascent supernet checkpoint (unreadable); move it away or name another file");
  }
  c10::IValue stored;
  if (!archive.try_read("nascent_identity", stored) || !stored.isString())
    throw Error("strategy.checkpoint '" + path + "' is not a nascent supernet checkpoint; move it away or name another file");
  if (stored.toStringRef() != identity)
    throw Error("strategy.checkpoint '" + path + "' holds a supernet trained with another space, dataset, supernet_training or seed; "
                "delete it to retrain, or name a new checkpoint");
  try {
    net.load(archive);
  } catch (const std::exception&) {
    throw Error("strategy.checkpoint '" + path + "' does not fit this supernet (damaged file?); delete it to retrain");
  }
  return true;
}

void save_checkpoint(torch::nn::Module& net, const std::string& path, const std::string& identity) {
  torch::serialize::OutputArchive archive;
  net.save(archive);
  archive.write("nascent_identity", c10::IValue(identity));
  const std::string temporary = path + ".partial";
  try {
    archive.save_to(temporary);
    std::filesystem::rename(temporary, path);
  } catch (const std::exception& error) {
    throw Error("strategy.checkpoint: cannot write '" + path + "': " + std::string(error.what()).substr(0, 200));
  }
}

}  // namespace

// Everything a checkpoint's weights depend on; a stored checkpoint is reused only when it matches.
std::string checkpoint_identity(const Config& config, std::uint64_t seed) {
  const Config strategy = config.child("strategy");
  std::ostringstream id;
  id << "space: " << config.child("space").dump() << "\ndataset: " << strategy.child("dataset").dump()
     << "\nsupernet_training: " << strategy.child("supernet_training").dump() << "\nseed: " << seed;
  return id.str();
}


std::optional<std::string> read_training_checkpoint(const std::string& path, torch::nn::Module& supernet) {
  auto state = read_checkpoint_file(path);
  if (!state) return state;
  try {
    StateReader(*state).module("supernet", supernet, torch::kCPU);
  } catch (const c10::Error& error) {
    throw Error("checkpoint '" + path + "' does not fit this run's supernet (" + std::string(error.what_without_backtrace()).substr(0, 120) + ")");
  }
  return state;
}

std::string method_device(const Options& options, const RunContext& context) {
  return checked_device(context.device_override.empty() ? options.get<std::string>("device") : context.device_override);
}

ImageSet first(const ImageSet& set, std::int64_t n) {
  if (n <= 0 || n >= set.size()) return set;
  return {set.images.slice(0, 0, n), set.labels.slice(0, 0, n)};
}

DataSplits load_image_data(const Config& dataset, const std::string& config_dir, const std::string& method) {
  DataSplits data = load_dataset(dataset, config_dir);
  if (data.train.images.scalar_type() == torch::kLong)
    throw Error("config: strategy.dataset: " + method + " searches image networks; '" + data.name + "' is text");
  if (data.val.size() == 0) throw Error("config: strategy.dataset needs a validation split (it scores the sub-networks)");
  return data;
}

void load_or_train(Network& supernet, const std::string& checkpoint, const std::string& identity, RunContext& context,
                   const std::string& device, const std::function<void()>& train) {
  // In a data-parallel run, process 0 reads and writes the checkpoint; the others train with it
  // when it trains, and otherwise have nothing to do.
  bool loaded = !context.replica && load_checkpoint(supernet, checkpoint, identity);
  if (context.data_parallel) loaded = context.data_parallel->agree(loaded);
  if (loaded) {
    supernet.to(torch::Device(device));
    context.progress("supernet loaded from " + checkpoint, true);
    return;
  }
  // Initialised on the CPU from the seed, then moved: the same weights on every device.
  at::Generator init = at::detail::createCPUGenerator(context.seed);
  supernet.reset_parameters(init);
  supernet.to(torch::Device(device));
  train();
  if (context.replica) return;
  save_checkpoint(supernet, checkpoint, identity);
  context.progress("supernet saved to " + checkpoint, true);
}

void check_stop_together(const RunContext& context) {
  if (!context.data_parallel) return context.check_stop();
  const std::string mine = context.interrupted() ? "interrupted" : context.out_of_time() ? "budget" : "";
  const std::string status = context.data_parallel->broadcast(mine);
  if (!status.empty()) throw RunStopped{status};
}

void check_batch_splits(const Options& section, const std::string& name, std::int64_t batch_size, const RunContext& context) {
  if (context.data_parallel && batch_size < context.data_parallel->size())
    section.fail(name, std::to_string(batch_size) + " cannot be split over " + std::to_string(context.data_parallel->size()) + " processes");
}

std::optional<std::string> resume_state_together(const RunContext& context, const std::optional<std::string>& mine) {
  if (!context.data_parallel) return mine;
  const std::string first = context.data_parallel->broadcast(mine ? "1" + *mine : std::string("0"));
  if (first.empty() || first[0] != '1') return std::nullopt;
  return first.substr(1);
}

std::string training_line(const std::string& where, double loss, double run_elapsed, double training_seconds, double done, double total) {
  char text[256];
  std::snprintf(text, sizeof text, "[supernet %s] loss %.4f  elapsed %s  ~%s left", where.c_str(), loss, format_duration(run_elapsed).c_str(),
                format_duration(training_seconds / done * (total - done)).c_str());
  return text;
}

std::optional<std::pair<std::string, double>> run_constraint(const RunContext& context, const std::string& method,
                                                            const std::vector<std::string>& metrics, bool own_given) {
  if (context.objective.metric != "val_acc" || !context.objective.maximize)
    throw Error("config: objective: " + method + " ranks sub-networks by val_acc (max), not " + context.objective.metric +
                (context.objective.maximize ? " (max)" : " (min)"));
  if (context.constraints.empty()) return std::nullopt;
  std::string allowed;
  for (std::size_t i = 0; i < metrics.size(); ++i) allowed += (i == 0 ? "" : " or ") + metrics[i];
  if (own_given) throw Error("config: give constraints or strategy.constraint, not both");
  const Constraint& bound = context.constraints.front();
  if (context.constraints.size() != 1 || std::find(metrics.begin(), metrics.end(), bound.metric) == metrics.end() || bound.min ||
      !bound.max)
    throw Error("config: constraints: " + method + " searches under one upper bound, on " + allowed + " (e.g. constraints: {" +
                metrics.front() + ": {max: ...}})");
  return std::make_pair(bound.metric, *bound.max);
}

}  // namespace nascent
