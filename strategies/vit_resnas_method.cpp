// ViT-ResNAS as a run method: train the multi-architectural sampling supernet (or load it from
// strategy.checkpoint), search its sub-networks in the MACs window with the windowed evolution,
// scoring each by the sliced sub-network's validation accuracy, and re-measure the winners.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <sstream>

#include "core/checkpoint.hpp"
#include "core/error.hpp"
#include "core/training_state.hpp"
#include "evaluators/train_evaluator.hpp"
#include "search_spaces/vit_resnas/vit_resnas.hpp"
#include "strategies/vit_resnas_evolution.hpp"
#include "strategies/weight_sharing.hpp"
#include "supernets/vit_resnas_supernet.hpp"

namespace nascent {

namespace {

using Clock = std::chrono::steady_clock;

OptionTable vit_options() {
  const VitSupernetOptions training;
  const VitEvolutionOptions evolution;
  return OptionTable()
      .text("checkpoint", "", "file the trained supernet is saved to and reused from (relative to the working directory)").required()
      .section("dataset", "the image data (square images, needs a validation split)")
      .section("supernet_training", "how the supernet trains",
               OptionTable()
                   .integer("epochs", training.epochs, "epochs").at_least(1)
                   .integer("warmup_width_epochs", training.warmup_width_epochs, "progressive widths and rewiring up to this epoch").at_least(0)
                   .integer("batch_size", training.batch_size, "batch size").at_least(1)
                   .integer("examples_per_arch", training.examples_per_arch, "examples per sampled sub-network").at_least(1)
                   .number("lr", training.lr, "AdamW learning rate (scaled by batch / 512)").at_least(0)
                   .number("weight_decay", training.weight_decay, "weight decay").at_least(0)
                   .integer("warmup_epochs", training.warmup_epochs, "linear learning-rate warm-up epochs").at_least(0)
                   .number("label_smoothing", training.label_smoothing, "label smoothing").at_least(0).at_most(1)
                   .number("drop_path", training.drop_path, "stochastic depth").at_least(0).at_most(1)
                   .integer("steps_per_epoch", training.steps_per_epoch, "steps per epoch (0: one pass)").at_least(0))
      .section("constraint", "the MACs window's upper end (or the run's constraints: {macs: {max: ...}})",
               OptionTable().optional("macs", OptionType::Number, "MACs limit per sample at the dataset's size"))
      .section("evolution", "the windowed evolution (ViT-ResNAS B.4)",
               OptionTable()
                   .integer("initial_population", evolution.initial_population, "random sub-networks first").at_least(1)
                   .integer("iterations", evolution.iterations, "iterations (0 is the random population)").at_least(1)
                   .integer("parents", evolution.parents, "parents per iteration").at_least(1)
                   .integer("mutations", evolution.mutations, "children by mutation").at_least(0)
                   .integer("crossovers", evolution.crossovers, "children by crossover").at_least(0)
                   .number("mutate_prob", evolution.mutate_prob, "per-choice mutation probability").at_least(0).at_most(1)
                   .number("window_low", evolution.window_low, "the window's lower end, as a share of macs").at_least(0).at_most(1)
                   .integer("max_tries", evolution.max_tries, "tries per child inside the window").at_least(1))
      .integer("fitness_images", 0, "validation images that score a sub-network during the search (0: all)").at_least(0)
      .integer("remeasure", 5, "winners re-measured on the whole validation and test splits").at_least(0)
      .text("device", "cpu", "cpu, cuda or cuda:N (--device overrides)");
}

class VitResNasMethod final : public Method {
 public:
  explicit VitResNasMethod(const Options& options) : options_(options) {}
  std::string label() const override { return "vit_resnas"; }
  std::string evaluator_label() const override { return "supernet"; }
  std::vector<std::string> sections() const override { return {"constraints"}; }
  bool resumable() const override { return true; }
  bool trains_data_parallel() const override { return true; }

  // A killed training continues from its last epoch-end state; the search after it is replayed
  // from the store.
  void restore(RunContext& context) override { resume_state_ = read_training_checkpoint(context.checkpoint_path, *supernet_); }

  void prepare(RunContext& context) override {
    spec_ = &require_capability<VitResNasSupernetSpace>(*context.space, "vit_resnas", "is not a ViT-ResNAS space (vit_resnas)").vit_resnas();
    const VitSpaceSpec& spec = *spec_;
    device_ = method_device(options_, context);
    data_ = load_image_data(options_.section("dataset"), context.config_dir, "ViT-ResNAS");
    task_ = Task{data_.input_shape, data_.num_classes};
    if (task_.input_shape[1] != task_.input_shape[2]) throw Error("config: strategy.dataset: ViT-ResNAS needs square images");
    vit_tokens_per_side(task_.input_shape[1], spec.stages.size());
    checkpoint_ = options_.get<std::string>("checkpoint");
    read_settings();
    check_batch_splits(options_.nested("supernet_training"), "batch_size", training_.batch_size, context);
    const Options constraint = options_.nested("constraint");
    const auto bound = run_constraint(context, "vit_resnas", {"macs"}, constraint.given("macs"));
    if (!bound && !constraint.given("macs"))
      throw Error("config: vit_resnas needs an upper bound on MACs: constraints: {macs: {max: ...}} (or strategy.constraint.macs)");
    macs_max_ = bound ? bound->second : constraint.get<double>("macs");
    // Checked before training so that an impossible window costs nothing.
    if (macs(spec.smallest()) > macs_max_ || macs(spec.largest()) < evolution_.window_low * macs_max_) {
      std::ostringstream message;
      message << "config: strategy.constraint.macs " << macs_max_ << " leaves no network in the window: this space spans "
              << macs(spec.smallest()) << " to " << macs(spec.largest()) << " MACs at " << task_.input_shape[1] << " px";
      throw Error(message.str());
    }
    supernet_ = std::make_shared<VitResNet>(spec.largest(), task_, training_.drop_path);
  }

  MethodResult run(RunContext& context) override {
    MethodResult result;
    load_or_train(*supernet_, checkpoint_, checkpoint_identity(*context.config, context.seed), context, device_, [&] { train(context); });
    if (context.replica) return result;  // the search after training runs in process 0
    supernet_->eval();
    Rng rng(derive_seed(context.seed, 3));
    const ImageSet sub_val = first(data_.val, options_.get<long>("fitness_images"));
    const auto fitness = [&](const std::vector<VitArch>& archs) {
      std::vector<double> scores;
      for (const auto& arch : archs) {
        context.check_stop();
        const auto started = Clock::now();
        const std::int64_t seq = seq_++;
        double acc = 0;
        if (const Evaluation* stored = context.stored_at(seq)) {
          acc = stored->metrics.at("val_acc");
        } else {
          auto subnet = slice_vit(*supernet_, arch, task_);
          subnet->eval();
          acc = score_on(*subnet, sub_val, 250, torch::Device(device_)).accuracy;
        }
        scores.push_back(acc);
        context.record(Stage::Search, print_vit_arch(arch), evaluation({{"val_acc", acc}, {"macs", macs(arch)}}, seconds_since(started)), acc, seq);
        ++result.evaluated_now;
        context.progress("[search " + std::to_string(result.evaluated_now) + " sub-networks scored] elapsed " + format_duration(context.elapsed()));
      }
      return scores;
    };
    const auto history = vit_resnas_evolution(*spec_, [&](const VitArch& a) { return macs(a); }, fitness, macs_max_, evolution_, rng,
                                              [&](int iteration, const VitCandidate& best) {
                                                char text[200];
                                                std::snprintf(text, sizeof text, "[evolution iteration %d/%d] best sub-val %.2f at %.4g MACs  elapsed %s",
                                                              iteration + 1, evolution_.iterations, best.fitness, best.macs,
                                                              format_duration(context.elapsed()).c_str());
                                                context.progress(text, true);
                                              });
    remeasure(context, history, result);
    return result;
  }

 private:
  static double seconds_since(Clock::time_point started) { return std::chrono::duration<double>(Clock::now() - started).count(); }

  double macs(const VitArch& arch) const { return vit_macs(arch, task_.input_shape[1], task_.input_shape[0], task_.num_classes); }

  Evaluation evaluation(std::map<std::string, double> metrics, double seconds) const {
    Evaluation e;
    e.metrics = std::move(metrics);
    e.seconds = seconds;
    e.cost = seconds;
    e.device = device_;
    return e;
  }

  void read_settings() {
    const Options training = options_.nested("supernet_training");
    training_.epochs = training.get<int>("epochs");
    training_.warmup_width_epochs = training.get<int>("warmup_width_epochs");
    training_.batch_size = training.get<long>("batch_size");
    training_.examples_per_arch = training.get<long>("examples_per_arch");
    training_.lr = training.get<double>("lr");
    training_.weight_decay = training.get<double>("weight_decay");
    training_.warmup_epochs = training.get<int>("warmup_epochs");
    training_.label_smoothing = training.get<double>("label_smoothing");
    training_.drop_path = training.get<double>("drop_path");
    training_.steps_per_epoch = training.get<long>("steps_per_epoch");
    const Options evolution = options_.nested("evolution");
    evolution_.initial_population = evolution.get<int>("initial_population");
    evolution_.iterations = evolution.get<int>("iterations");
    evolution_.parents = evolution.get<int>("parents");
    evolution_.mutations = evolution.get<int>("mutations");
    evolution_.crossovers = evolution.get<int>("crossovers");
    evolution_.mutate_prob = evolution.get<double>("mutate_prob");
    evolution_.window_low = evolution.get<double>("window_low");
    evolution_.max_tries = evolution.get<int>("max_tries");
  }

  void train(RunContext& context) {
    const auto started = Clock::now();
    const std::int64_t steps = training_.steps_per_epoch > 0 ? training_.steps_per_epoch : data_.train.size() / training_.batch_size;
    const double total_steps = static_cast<double>(steps) * training_.epochs;
    double done = 0;
    const auto records = train_vit_supernet(*supernet_, *spec_, data_.train, training_, context.seed,
                                            [&](int epoch, std::int64_t step, std::int64_t steps_in_epoch, double loss) {
                                              check_stop_together(context);
                                              ++done;
                                              context.progress(training_line("epoch " + std::to_string(epoch) + "/" + std::to_string(training_.epochs) +
                                                                                 " step " + std::to_string(step) + "/" + std::to_string(steps_in_epoch),
                                                                             loss, context.elapsed(), seconds_since(started), done, total_steps));
                                            },
                                            TrainingCheckpoints{context.replica ? std::function<void(const std::string&)>()
                                                                                : [&](const std::string& state) { write_checkpoint_file(context.checkpoint_path, state); },
                                                                resume_state_together(context, resume_state_)},
                                            context.data_parallel);
    for (const auto& r : records) {
      context.record_curve("supernet.train_loss", r.epoch, r.train_loss);
      context.record_curve("supernet.lr", r.epoch, r.lr);
      context.record_curve("supernet.widths_in_use", r.epoch, r.widths_in_use);
    }
  }

  void remeasure(RunContext& context, const std::vector<VitCandidate>& history, MethodResult& result) {
    const int count = options_.get<int>("remeasure");
    for (std::size_t i = 0; i < history.size() && static_cast<int>(i) < count; ++i) {
      context.check_stop();
      const VitArch& arch = history[i].arch;
      const auto started = Clock::now();
      const std::int64_t seq = seq_++;
      std::map<std::string, double> metrics;
      if (const Evaluation* stored = context.stored_at(seq)) {
        metrics = stored->metrics;
      } else {
        auto subnet = slice_vit(*supernet_, arch, task_);
        subnet->eval();
        metrics = {{"val_acc", score_on(*subnet, data_.val, 250, torch::Device(device_)).accuracy},
                   {"search_fitness", history[i].fitness},
                   {"macs", subnet->measured_macs()},
                   {"macs_formula", history[i].macs},
                   {"params", vit_params(arch, task_.input_shape[1], task_.input_shape[0], task_.num_classes)},
                   {"constraint", macs_max_}};
        if (data_.test.size() > 0) metrics["test_acc"] = score_on(*subnet, data_.test, 250, torch::Device(device_)).accuracy;
        metrics["satisfies_constraint"] = metrics["macs"] <= macs_max_ && metrics["macs"] >= evolution_.window_low * macs_max_ ? 1 : 0;
      }
      const double val_acc = metrics["val_acc"];
      context.record(Stage::Final, print_vit_arch(arch), evaluation(metrics, seconds_since(started)), val_acc, seq);
      char line[600];
      std::snprintf(line, sizeof line, "winner %zu: val_acc %.2f test_acc %.2f  MACs %.4g (window %.4g..%.4g) %s\n  %s", i + 1, val_acc,
                    metrics["test_acc"], metrics["macs"], evolution_.window_low * macs_max_, macs_max_,
                    metrics["satisfies_constraint"] > 0 ? "inside" : "OUTSIDE", print_vit_arch(arch).c_str());
      context.progress(line, true);
      if (!result.best_value || val_acc > *result.best_value) {
        result.best_value = val_acc;
        result.best_arch = print_vit_arch(arch);
        result.best_metrics = metrics;
      }
      ++result.evaluated_now;
    }
    result.counted = result.evaluated_now;
  }

  Options options_;
  const VitSpaceSpec* spec_ = nullptr;
  std::string device_, checkpoint_;
  DataSplits data_;
  Task task_;
  VitSupernetOptions training_;
  VitEvolutionOptions evolution_;
  double macs_max_ = 0;
  std::shared_ptr<VitResNet> supernet_;
  std::optional<std::string> resume_state_;
  std::int64_t seq_ = 0;  // the run's evaluations in the order this method makes them (resumes replay them)
};

}  // namespace

void register_vit_resnas_method(Registries& registries) {
  registries.methods.add("vit_resnas", "ViT-ResNAS (Liao et al. 2021): multi-architectural sampling supernet and windowed evolution",
                         vit_options(), [](const Options& options) -> std::unique_ptr<Method> { return std::make_unique<VitResNasMethod>(options); });
}

}  // namespace nascent
