#include "runner/final_training.hpp"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <cstdio>
#include <thread>

#include "core/checkpoint.hpp"
#include "core/error.hpp"
#include "core/export.hpp"
#include "core/network.hpp"
#include "core/training_state.hpp"
#include "datasets/dataset.hpp"
#include "evaluators/train_evaluator.hpp"
#include "evaluators/training_loop.hpp"
#include "runner/search.hpp"

namespace nascent {

namespace {

namespace fs = std::filesystem;

// The final training's network and batches have their own stream, so adding a final training to a
// run changes nothing the search draws.
constexpr std::uint64_t kFinalTrainingStream = 0xF17A1;
// Each final evaluation carries its step number (from 1), so a resumed run knows which it has.
constexpr const char* kFinalStepMetric = "final_step";

}  // namespace

const OptionTable& final_training_options() {
  static const OptionTable table =
      OptionTable()
          .text("name", "train", "train (this step); other evaluators' names measure the architecture instead").one_of({"train"})
          .number("epochs", 10, "training epochs").at_least(1e-9)
          .integer("steps", 0, "training steps, overriding epochs (0: use epochs)").at_least(0)
          .integer("batch_size", 128, "training batch size").at_least(2)
          .integer("eval_batch_size", 512, "evaluation batch size").at_least(1)
          .number("lr", 0.1, "initial learning rate (cosine schedule per step)").at_least(0)
          .number("lr_min", 0, "final learning rate").at_least(0)
          .number("momentum", 0.9, "SGD momentum").at_least(0)
          .number("weight_decay", 5e-4, "weight decay").at_least(0)
          .flag("nesterov", true, "Nesterov momentum (SGD)")
          .text("optimizer", "sgd", "sgd or adamw").one_of({"sgd", "adamw"})
          .integer("loader_threads", 2, "threads preparing batches ahead (0: inline)").at_least(0)
          .integer("threads", 0, "LibTorch threads (0: every core)").at_least(0)
          .text("device", "cpu", "cpu, cuda or cuda:N (--device overrides)")
          .flag("test", true, "measure the test split at the end")
          .text("weights", "", "where the trained weights go (default: beside the database, DB.models/run-N.weights)")
          .section("dataset", "the data (default: the evaluator's or the strategy's dataset)")
          .optional("arch", OptionType::Text, "the architecture (nascent train sets it; a search trains its best)");
  return table;
}

namespace {

// The data a train step without its own `dataset` uses: the evaluator's, else the strategy's.
std::optional<Config> search_dataset_section(const Config& config) {
  for (const char* section : {"evaluator", "strategy"})
    if (config.child(section).has("dataset")) return config.child(section).child("dataset");
  return std::nullopt;
}

}  // namespace

std::optional<Config> run_dataset_section(const Config& config) {
  for (const Config& step : final_training_sections(config))
    if (step.get<std::string>("name", "train") == "train" && step.has("dataset")) return step.child("dataset");
  return search_dataset_section(config);
}

std::vector<Config> final_training_sections(const Config& config) {
  std::vector<Config> sections;
  if (!config.has("final_training")) return sections;
  const YAML::Node node = config.node()["final_training"];
  if (node.IsMap()) {
    sections.emplace_back(node, "final_training");
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      if (!node[i].IsMap()) throw Error("config: final_training[" + std::to_string(i) + "]: expected a step mapping (name: train, ...)");
      sections.emplace_back(node[i], "final_training[" + std::to_string(i) + "]");
    }
  } else {
    throw Error("config: final_training: expected a step mapping (name: train, epochs: ...) or a list of them");
  }
  return sections;
}

std::vector<FinalStep> read_final_steps(const Config& config, const RunContext& context) {
  std::vector<FinalStep> steps;
  const std::vector<Config> sections = final_training_sections(config);
  for (std::size_t k = 0; k < sections.size(); ++k) {
    FinalStep step;
    step.section = sections[k];
    step.name = sections[k].get<std::string>("name", "train");
    if (step.name == "train") {
      step.training = final_training_options().read(sections[k], "final_training", /*name_key=*/false);
      // A device this machine lacks is refused now, not after the search has run.
      checked_device(context.device_override.empty() ? step.training->get<std::string>("device") : context.device_override);
      if (k > 0 && sections[k].has("arch")) throw Error("config: " + sections[k].full("arch") + ": only the first step names the architecture");
      const std::optional<Config> dataset =
          sections[k].has("dataset") ? std::optional(sections[k].child("dataset")) : search_dataset_section(config);
      if (!dataset)
        throw Error("config: " + sections[k].path() + " needs data: give its dataset (the run has no evaluator or strategy dataset to reuse)");
      step.dataset = *dataset;
      // Loaded now, like the methods' own data: a bad key or a damaged file must write nothing.
      const std::string name = step.dataset.get<std::string>("name", "fashion-mnist");
      if (!registries().datasets.contains(name))
        throw Error("config: " + step.dataset.full("name") + ": unknown dataset '" + name + "' (registered: " +
                    registries().datasets.names() + ")");
      step.data = registries().datasets.create(name, step.dataset, context.config_dir);
    } else {
      if (sections[k].has("arch")) throw Error("config: " + sections[k].full("arch") + ": only a train step names the architecture");
      EvaluatorContext evaluator_context{context.config_dir, context.threads, context.device_override, context.space};
      evaluator_context.stop = [&context] { return context.interrupted(); };
      step.evaluator = make_evaluator(sections[k], evaluator_context);
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

namespace {

struct StepResult {
  bool completed = false;
  Evaluation evaluation;
};

StepResult train_step(const FinalStep& step, std::size_t index, const std::string& arch, RunContext& context,
                      const std::string& checkpoint, const std::string& weights_path) {
  const Options& options = *step.training;
  const std::string device_name =
      checked_device(context.device_override.empty() ? options.get<std::string>("device") : context.device_override);
  const torch::Device device(device_name);
  const std::shared_ptr<const DataSplits> data = step.data;
  const Task task{data->input_shape, data->num_classes, data->vocabulary_size};
  const std::string prefix = index == 0 ? "final." : "final" + std::to_string(index) + ".";

  const long long threads = options.get<long long>("threads");
  at::set_num_threads(threads > 0 ? static_cast<int>(threads)
                                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));

  const std::uint64_t seed = derive_seed(context.seed, kFinalTrainingStream + index);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::shared_ptr<Network> net = context.space->build(arch, task);
  net->reset_parameters(generator);
  net->to(device);

  TrainingLoop loop(*net, *data, read_training_settings(options), seed, device);
  // Ctrl-C ends the epoch in progress; --resume continues from the last epoch end's checkpoint.
  loop.stop_when([&context] { return context.interrupted(); });

  double train_seconds = 0;
  EpochStats last;
  if (auto state = read_checkpoint_file(checkpoint)) {
    try {
      StateReader reader(*state);
      if (reader.text("arch") != arch)
        throw Error("checkpoint " + checkpoint + " is the final training of another architecture; delete it to start over");
      reader.module("network", *net, device);
      loop.load(reader);
      train_seconds = reader.number("train_seconds");
      last.train_loss = reader.number("train_loss");
      last.train_acc = reader.number("train_acc");
    } catch (const c10::Error& error) {
      throw Error("checkpoint " + checkpoint + " does not fit this final training (" +
                  std::string(error.what_without_backtrace()).substr(0, 120) + ")");
    }
    context.progress("final training resumed after epoch " + std::to_string(loop.epochs_done()), true);
  }

  const std::int64_t eval_batch = options.get<long long>("eval_batch_size");
  const std::int64_t per_epoch_steps = std::max<std::int64_t>(1, loop.steps_per_epoch());
  const std::int64_t epochs = (loop.total_steps() + per_epoch_steps - 1) / per_epoch_steps;
  StepResult result;
  while (!loop.done()) {
    if (context.interrupted()) return result;
    try {
      last = loop.run_epoch();
    } catch (const TrainingStopped&) {
      return result;
    }
    train_seconds += last.seconds;
    const SetScore val = score_on(*net, data->val, eval_batch, device);
    const double epoch = static_cast<double>(loop.epochs_done());
    context.record_curve(prefix + "train_loss", epoch, last.train_loss);
    context.record_curve(prefix + "train_acc", epoch, last.train_acc);
    context.record_curve(prefix + "val_loss", epoch, val.loss);
    context.record_curve(prefix + "val_acc", epoch, val.accuracy);
    StateWriter writer;
    writer.text("arch", arch);
    writer.module("network", *net);
    loop.save(writer);
    writer.number("train_seconds", train_seconds);
    writer.number("train_loss", last.train_loss);
    writer.number("train_acc", last.train_acc);
    write_checkpoint_file(checkpoint, writer.bytes());
    const double seconds_per_epoch = train_seconds / std::max(1.0, epoch);
    char line[200];
    std::snprintf(line, sizeof line, "final training: epoch %lld/%lld  train_loss %.4f  val_acc %.2f  ~%s left",
                  static_cast<long long>(loop.epochs_done()), static_cast<long long>(epochs), last.train_loss, val.accuracy,
                  format_duration(seconds_per_epoch * std::max(0.0, static_cast<double>(epochs) - epoch)).c_str());
    context.progress(line, true);
  }

  Evaluation& evaluation = result.evaluation;
  evaluation.device = device_name;
  const SetScore val = score_on(*net, data->val, eval_batch, device);
  evaluation.metrics["val_acc"] = val.accuracy;
  evaluation.metrics["val_loss"] = val.loss;
  evaluation.metrics["train_acc"] = last.train_acc;
  evaluation.metrics["train_loss"] = last.train_loss;
  if (options.get<bool>("test") && data->test.size() > 0) {
    const SetScore test = score_on(*net, data->test, eval_batch, device);
    evaluation.metrics["test_acc"] = test.accuracy;
    evaluation.metrics["test_loss"] = test.loss;
  }
  std::int64_t params = 0;
  for (const auto& p : net->parameters()) params += p.numel();
  evaluation.metrics["params"] = static_cast<double>(params);
  evaluation.metrics["flops"] = context.space->describe(arch, task).flops;
  evaluation.metrics["train_seconds"] = train_seconds;
  evaluation.metrics["epochs"] = static_cast<double>(loop.epochs_done());
  evaluation.cost = train_seconds;
  evaluation.seconds = train_seconds;

  const fs::path weights(weights_path);
  if (weights.has_parent_path()) fs::create_directories(weights.parent_path());
  save_weights(*net, context.space->name(), arch, weights_path);
  result.completed = true;
  return result;
}

}  // namespace

FinalOutcome run_final_steps(std::vector<FinalStep>& steps, const std::string& arch, RunContext& context,
                             const std::string& checkpoint_prefix,
                             const std::function<std::string(std::size_t step)>& default_weights) {
  // A resumed run's stored steps, by the step number each evaluation carries.
  std::map<std::int64_t, const ReplayedEvaluation*> stored;
  for (const auto& [seq, replayed] : context.replay)
    if (replayed.stage == Stage::Final && replayed.result.metrics.count(kFinalStepMetric))
      stored[static_cast<std::int64_t>(replayed.result.metrics.at(kFinalStepMetric))] = &replayed;

  FinalOutcome outcome;
  std::optional<double> best;
  for (std::size_t k = 0; k < steps.size(); ++k) {
    FinalStep& step = steps[k];
    const std::string configured = step.training ? step.training->get<std::string>("weights") : "";
    const std::string weights = !configured.empty() ? resolve_path(configured, context.config_dir) : default_weights(k);
    Evaluation e;
    auto done = stored.find(static_cast<std::int64_t>(k + 1));
    if (done != stored.end()) {
      e = done->second->result;
    } else {
      context.progress("final training " + std::to_string(k + 1) + "/" + std::to_string(steps.size()) + " (" + step.name +
                           ") of " + arch, true);
      if (step.training) {
        StepResult trained = train_step(step, k, arch, context, checkpoint_prefix + std::to_string(k), weights);
        if (!trained.completed) return outcome;
        e = std::move(trained.evaluation);
      } else {
        try {
          e = step.evaluator->evaluate(*context.space, arch, derive_seed(context.seed, kFinalTrainingStream + k));
        } catch (const TrainingStopped&) {
          return outcome;
        } catch (const std::exception& error) {
          e = Evaluation{};
          e.ok = false;
          e.error = error.what();
        }
      }
      e.metrics[kFinalStepMetric] = static_cast<double>(k + 1);
      ++outcome.evaluated_now;
      context.record(Stage::Final, arch, e, objective_value(e, context.objective));
      if (step.training) {
        std::error_code ignored;
        fs::remove(checkpoint_prefix + std::to_string(k), ignored);
      }
      if (!e.ok) context.progress("final training step " + std::to_string(k + 1) + " failed: " + e.error, true);
    }
    ++outcome.evaluations;
    if (step.training) outcome.weights.push_back(weights);
    const auto fitness = fitness_of(e, context.objective);
    if (fitness && (!best || *fitness > *best)) {
      best = fitness;
      outcome.value = objective_value(e, context.objective);
      outcome.metrics = e.metrics;
    }
    if (!best && outcome.metrics.empty()) outcome.metrics = e.metrics;
  }
  outcome.completed = true;
  return outcome;
}

}  // namespace nascent
