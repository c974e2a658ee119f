// Once-for-All as a run method: train the elastic MobileNetV3 supernet with progressive shrinking
// (or load it from strategy.checkpoint), fit the accuracy predictor on sub-networks measured for
// real, run the constrained evolution, and re-measure the winners.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <cstdio>
#include <filesystem>

#include "core/checkpoint.hpp"
#include "core/error.hpp"
#include "core/training_state.hpp"
#include "core/stats.hpp"
#include "evaluators/ofa_latency_table.hpp"
#include "evaluators/train_evaluator.hpp"
#include "predictors/ofa_accuracy_predictor.hpp"
#include "search_spaces/ofa/ofa.hpp"
#include "strategies/ofa_evolution.hpp"
#include "strategies/weight_sharing.hpp"
#include "supernets/ofa_mbv3.hpp"
#include "supernets/progressive_shrinking.hpp"

namespace nascent {

namespace {

using Clock = std::chrono::steady_clock;

OptionTable ofa_options() {
  const OfaEvolutionOptions evolution;
  const OfaAccuracyPredictor::Options predictor;
  return OptionTable()
      .text("checkpoint", "", "file the trained supernet is saved to and reused from (relative to the working directory)").required()
      .section("dataset", "the image data (needs a validation split)")
      .section("supernet_training", "how the supernet trains",
               OptionTable()
                   .text("schedule", "progressive", "progressive shrinking, or uniform sampling (the ablation)").one_of({"progressive", "uniform"})
                   .optional("epochs", OptionType::Numbers, "epochs per phase (progressive: [2, 1, 1, 1, 1, 1]; uniform: [7], summed)")
                   .number("lr_scale", 1.0, "progressive: scales every phase's learning rate").at_least(0)
                   .number("full_lr", 0.05, "progressive: learning rate of the full network").at_least(0)
                   .number("lr", 0.05, "uniform: learning rate").at_least(0)
                   .integer("subnets_per_step", 4, "uniform: sub-networks per step").at_least(1)
                   .integer("batch_size", 64, "batch size").at_least(2)
                   .integer("steps_per_epoch", 0, "steps per epoch (0: one pass)").at_least(0)
                   .number("kd_ratio", 1.0, "in-place distillation weight").at_least(0)
                   .number("label_smoothing", 0.1, "label smoothing").at_least(0).at_most(1)
                   .number("weight_decay", 3e-5, "weight decay (not on BN and biases)").at_least(0))
      .section("bn_calibration", "BatchNorm recalibration of each sub-network",
               OptionTable()
                   .integer("images", 2000, "training images used").at_least(1)
                   .integer("batch_size", 200, "batch size").at_least(1))
      .section("predictor", "the accuracy predictor",
               OptionTable()
                   .integer("samples", 200, "sub-networks measured for real").at_least(10)
                   .number("holdout", 0.2, "share held out to report its quality").at_least(1e-9).at_most(0.9)
                   .integer("epochs", predictor.epochs, "training epochs").at_least(1)
                   .number("lr", predictor.lr, "learning rate").at_least(0))
      .section("constraint", "exactly one of flops or latency_ms",
               OptionTable()
                   .optional("flops", OptionType::Number, "FLOPs limit per sample")
                   .optional("latency_ms", OptionType::Number, "latency limit on this device, from the latency table"))
      .text("latency_table", "", "latency table file (default: <checkpoint>.latency.yaml)")
      .section("evolution", "the constrained evolution (OFA's A.6)",
               OptionTable()
                   .integer("population", evolution.population, "population").at_least(2)
                   .integer("generations", evolution.generations, "generations").at_least(1)
                   .number("parent_ratio", evolution.parent_ratio, "share kept as parents").at_least(0).at_most(1)
                   .number("mutation_ratio", evolution.mutation_ratio, "share of children by mutation").at_least(0).at_most(1)
                   .number("mutate_prob", evolution.mutate_prob, "per block and stage").at_least(0).at_most(1)
                   .number("resolution_mutate_prob", evolution.resolution_mutate_prob, "resolution mutation").at_least(0).at_most(1)
                   .integer("max_tries", evolution.max_tries, "tries per individual under the constraint").at_least(1))
      .integer("remeasure", 5, "winners re-measured for real").at_least(0)
      .integer("latency_repeats", 20, "timing repeats").at_least(1)
      .text("device", "cpu", "cpu, cuda or cuda:N (--device overrides)")
      .texts("report", {}, "sub-networks measured right after training: smallest, middle, largest or architecture strings");
}

class OfaMethod final : public Method {
 public:
  explicit OfaMethod(const Options& options) : options_(options) {}
  std::string label() const override { return "ofa"; }
  std::string evaluator_label() const override { return "supernet"; }
  std::vector<std::string> sections() const override { return {"constraints"}; }
  bool resumable() const override { return true; }
  bool trains_data_parallel() const override { return true; }

  // A killed training continues from its last epoch-end state; the stages after it are replayed
  // from the store.
  void restore(RunContext& context) override { resume_state_ = read_training_checkpoint(context.checkpoint_path, *supernet_); }

  void prepare(RunContext& context) override {
    space_ = context.space;
    spec_ = &require_capability<ElasticMbv3Space>(*space_, "ofa", "is not an elastic MobileNetV3 space (ofa_mbv3)").elastic_mbv3();
    const OfaSpec& spec = *spec_;
    device_ = method_device(options_, context);
    data_ = load_image_data(options_.section("dataset"), context.config_dir, "OFA");
    task_ = Task{data_.input_shape, data_.num_classes};
    checkpoint_ = options_.get<std::string>("checkpoint");
    read_training(spec);
    check_batch_splits(options_.nested("supernet_training"), "batch_size", training_.batch_size, context);
    const Options constraint = options_.nested("constraint");
    const bool own = constraint.given("latency_ms") || constraint.given("flops");
    if (const auto bound = run_constraint(context, "ofa", {"flops", "latency_ms"}, own)) {
      by_latency_ = bound->first == "latency_ms";
      constraint_ = bound->second;
    } else {
      by_latency_ = constraint.given("latency_ms");
      if (by_latency_ == constraint.given("flops"))
        throw Error("config: ofa needs exactly one upper bound, on flops or latency_ms: constraints: {flops: {max: ...}} (or strategy.constraint)");
      constraint_ = by_latency_ ? constraint.get<double>("latency_ms") : constraint.get<double>("flops");
    }
    const Options evolution = options_.nested("evolution");
    evolution_.population = evolution.get<int>("population");
    evolution_.generations = evolution.get<int>("generations");
    evolution_.parent_ratio = evolution.get<double>("parent_ratio");
    evolution_.mutation_ratio = evolution.get<double>("mutation_ratio");
    evolution_.mutate_prob = evolution.get<double>("mutate_prob");
    evolution_.resolution_mutate_prob = evolution.get<double>("resolution_mutate_prob");
    evolution_.max_tries = evolution.get<int>("max_tries");
    for (const std::string& name : options_.get<std::vector<std::string>>("report")) report_.push_back(named_arch(name));
    supernet_ = std::make_shared<OfaMbv3>(OfaNetShape::supernet(spec), task_);
  }

  MethodResult run(RunContext& context) override {
    MethodResult result;
    load_or_train(*supernet_, checkpoint_, checkpoint_identity(*context.config, context.seed), context, device_, [&] { train(context); });
    if (context.replica) return result;  // the stages after training run in process 0
    prepare_calibration(context);
    for (const OfaArch& arch : report_) {
      const std::int64_t seq = seq_++;
      Measured m;
      if (const Evaluation* stored = context.stored_at(seq)) {
        m = {stored->metrics.at("val_acc"), stored->metrics.at("test_acc"), stored->seconds};
      } else {
        m = measure(arch, true).first;
      }
      context.record(Stage::Report, print_ofa_arch(arch),
                     evaluation({{"val_acc", m.val_acc}, {"test_acc", m.test_acc}, {"flops", flops(arch)}}, m.seconds), m.val_acc, seq);
      context.progress("report " + print_ofa_arch(arch) + ": val_acc " + std::to_string(m.val_acc) + " test_acc " + std::to_string(m.test_acc), true);
    }
    Rng rng(derive_seed(context.seed, 3));
    const auto predictor = fit_predictor(context, rng);
    const OfaEvolutionResult found = evolve(context, *predictor, rng);
    remeasure(context, found, result);
    return result;
  }

 private:
  struct Measured {
    double val_acc = 0, test_acc = 0, seconds = 0;
  };

  void read_training(const OfaSpec& spec) {
    const Options training = options_.nested("supernet_training");
    if (training.get<std::string>("schedule") == "progressive") {
      training_.phases = progressive_shrinking_phases(spec, training.maybe<std::vector<double>>("epochs").value_or(std::vector<double>{2, 1, 1, 1, 1, 1}),
                                                      training.get<double>("lr_scale"), training.get<double>("full_lr"));
    } else {
      double total = 0;
      for (double e : training.maybe<std::vector<double>>("epochs").value_or(std::vector<double>{7})) total += e;
      training_.phases = uniform_sampling_phases(spec, total, training.get<double>("lr"), training.get<int>("subnets_per_step"));
    }
    training_.batch_size = training.get<long>("batch_size");
    training_.steps_per_epoch = training.get<long>("steps_per_epoch");
    training_.kd_ratio = training.get<double>("kd_ratio");
    training_.label_smoothing = training.get<double>("label_smoothing");
    training_.weight_decay = training.get<double>("weight_decay");
  }

  // `report`'s names: smallest, middle, largest, or an architecture string.
  OfaArch named_arch(const std::string& name) const {
    if (name == "smallest") return spec_->smallest();
    if (name == "largest") return spec_->largest();
    if (name != "middle") return parse_ofa_arch(name, *spec_);
    const OfaSpec& spec = *spec_;
    OfaArch middle = spec_->largest();
    const auto mid_of = [](const std::vector<int>& v) { return v[v.size() / 2]; };
    for (auto& k : middle.ks) k = mid_of(spec.kernels);
    for (auto& e : middle.e) e = mid_of(spec.expands);
    for (auto& d : middle.d) d = mid_of(spec.depths);
    middle.r = spec.resolutions[spec.resolutions.size() / 2];
    return parse_ofa_arch(print_ofa_arch(middle), *spec_);
  }

  double flops(const OfaArch& arch) const { return ofa_flops(*spec_, arch, task_.input_shape[0], task_.num_classes); }

  Evaluation evaluation(std::map<std::string, double> metrics, double seconds) const {
    Evaluation e;
    e.metrics = std::move(metrics);
    e.seconds = seconds;
    e.cost = seconds;
    e.device = device_;
    return e;
  }

  void train(RunContext& context) {
    double total_steps = 0;
    const std::int64_t steps = training_.steps_per_epoch > 0 ? training_.steps_per_epoch : data_.train.size() / training_.batch_size;
    for (const auto& phase : training_.phases) total_steps += std::ceil(phase.epochs * static_cast<double>(steps));
    double done = 0;
    const auto started = Clock::now();
    const auto records = train_ofa_supernet(
        *supernet_, *spec_, data_.train, training_, context.seed,
        [&](const OfaEpochRecord& r, std::int64_t step, std::int64_t steps_in_epoch, double loss) {
          check_stop_together(context);
          ++done;
          context.progress(training_line(r.phase + " epoch " + std::to_string(r.epoch) + " step " + std::to_string(step) + "/" +
                                             std::to_string(steps_in_epoch),
                                         loss, context.elapsed(), std::chrono::duration<double>(Clock::now() - started).count(), done, total_steps));
        },
        TrainingCheckpoints{context.replica ? std::function<void(const std::string&)>()
                                            : [&](const std::string& state) { write_checkpoint_file(context.checkpoint_path, state); },
                            resume_state_together(context, resume_state_)},
        context.data_parallel);
    double step = 0;
    for (const auto& r : records) {
      ++step;
      context.record_curve("supernet.train_loss", step, r.train_loss, r.phase + " epoch " + std::to_string(r.epoch));
      context.record_curve("supernet.lr", step, r.lr, r.phase + " epoch " + std::to_string(r.epoch));
    }
  }

  // Calibration images: a fixed random subset of the training split (set_running_statistics).
  void prepare_calibration(RunContext& context) {
    const Options calibration = options_.nested("bn_calibration");
    calibration_batch_ = calibration.get<long>("batch_size");
    at::Generator generator = at::detail::createCPUGenerator(derive_seed(context.seed, 2));
    const torch::Tensor index = torch::randperm(data_.train.size(), generator, torch::kInt64)
                                    .slice(0, 0, std::min<std::int64_t>(calibration.get<long>("images"), data_.train.size()));
    calibration_set_ = data_.train.images.index_select(0, index).to(torch::Device(device_));
  }

  std::pair<Measured, std::shared_ptr<OfaMbv3>> measure(const OfaArch& arch, bool with_test) {
    const auto started = Clock::now();
    supernet_->set_active(*spec_, arch);
    auto subnet = extract_ofa_subnet(*supernet_, *spec_, arch, task_);
    subnet->recalibrate_bn(calibration_set_, calibration_batch_);
    Measured m;
    m.val_acc = score_on(*subnet, data_.val, 500, torch::Device(device_)).accuracy;
    if (with_test && data_.test.size() > 0) m.test_acc = score_on(*subnet, data_.test, 500, torch::Device(device_)).accuracy;
    m.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return {m, subnet};
  }

  // The accuracy predictor's data: random sub-networks measured for real; its held-out quality is a curve.
  std::unique_ptr<OfaAccuracyPredictor> fit_predictor(RunContext& context, Rng& rng) {
    const Options settings = options_.nested("predictor");
    const int samples = settings.get<int>("samples");
    std::vector<OfaArch> archs;
    std::vector<double> accuracies;
    for (int i = 0; i < samples; ++i) {
      context.check_stop();
      OfaArch arch = spec_->sample(rng);
      const std::int64_t seq = seq_++;
      Measured m;
      if (const Evaluation* stored = context.stored_at(seq)) {
        m = {stored->metrics.at("val_acc"), 0, stored->seconds};
      } else {
        m = measure(arch, false).first;
      }
      archs.push_back(arch);
      accuracies.push_back(m.val_acc / 100);
      measured_.push_back({arch, m.val_acc});
      context.record(Stage::Measure, print_ofa_arch(arch), evaluation({{"val_acc", m.val_acc}, {"flops", flops(arch)}}, m.seconds), m.val_acc, seq);
      context.progress("[predictor data " + std::to_string(i + 1) + "/" + std::to_string(samples) + "] val_acc " +
                           std::to_string(m.val_acc).substr(0, 5) + "  elapsed " + format_duration(context.elapsed()),
                       i + 1 == samples);
    }
    const std::size_t train_count = static_cast<std::size_t>(std::round(samples * (1 - settings.get<double>("holdout"))));
    std::vector<std::size_t> order(archs.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<std::vector<double>> x_train, x_held;
    std::vector<double> y_train, y_held;
    for (std::size_t i = 0; i < order.size(); ++i) {
      auto features = space_->encode(print_ofa_arch(archs[order[i]]));
      (i < train_count ? x_train : x_held).push_back(features);
      (i < train_count ? y_train : y_held).push_back(accuracies[order[i]]);
    }
    OfaAccuracyPredictor::Options predictor_options;
    predictor_options.epochs = settings.get<int>("epochs");
    predictor_options.lr = settings.get<double>("lr");
    auto predictor = std::make_unique<OfaAccuracyPredictor>(static_cast<std::int64_t>(x_train.front().size()), predictor_options);
    predictor->fit(x_train, y_train, derive_seed(context.seed, 4));
    const std::vector<double> held = predictor->predict(x_held);
    const double rho = spearman(held, y_held);
    double rmse = 0;
    for (std::size_t i = 0; i < y_held.size(); ++i) rmse += (held[i] - y_held[i]) * (held[i] - y_held[i]);
    rmse = std::sqrt(rmse / static_cast<double>(std::max<std::size_t>(1, y_held.size()))) * 100;
    context.record_curve("predictor.spearman_heldout", 0, rho);
    context.record_curve("predictor.rmse_heldout", 0, rmse);
    context.record_curve("predictor.train_samples", 0, static_cast<double>(y_train.size()));
    context.record_curve("predictor.heldout_samples", 0, static_cast<double>(y_held.size()));
    char line[160];
    std::snprintf(line, sizeof line, "accuracy predictor: held-out Spearman %.3f, RMSE %.2f points (%zu held out)", rho, rmse, y_held.size());
    context.progress(line, true);
    return predictor;
  }

  // Efficiency: the FLOPs formula, or the latency table measured on this device.
  OfaEvolutionResult evolve(RunContext& context, OfaAccuracyPredictor& predictor, Rng& rng) {
    const OfaSpec& spec = *spec_;
    if (by_latency_) {
      const std::string given = options_.get<std::string>("latency_table");
      const std::string path = given.empty() ? checkpoint_ + ".latency.yaml" : given;
      const std::string key = ofa_latency_space_key(spec, task_.input_shape[0], task_.num_classes);
      if (std::filesystem::exists(path)) {
        table_ = OfaLatencyTable::load(path);
        if (table_->space != key || table_->device != device_)
          throw Error("strategy.latency_table '" + path + "' was measured for another space or device (" + table_->device + "); delete it to re-measure");
      } else {
        table_ = OfaLatencyTable::measure(spec, task_.input_shape[0], task_.num_classes, device_, options_.get<int>("latency_repeats"),
                                          [&](std::size_t d, std::size_t t) {
                                            context.check_stop();
                                            context.progress("[latency table " + std::to_string(d) + "/" + std::to_string(t) + "]");
                                          });
        table_->save(path);
        context.progress("latency table (" + std::to_string(table_->entries.size()) + " entries) saved to " + path, true);
      }
    }
    const auto efficiency = [&](const OfaArch& arch) { return by_latency_ ? table_->predict(spec, arch) : flops(arch); };
    const auto score = [&](const std::vector<OfaArch>& archs) {
      std::vector<std::vector<double>> features;
      for (const auto& a : archs) features.push_back(space_->encode(print_ofa_arch(a)));
      return predictor.predict(features);
    };
    return ofa_evolution(*spec_, score, efficiency, constraint_, evolution_, rng, [&](int generation, double best) {
      context.check_stop();
      context.progress("[evolution generation " + std::to_string(generation) + "/" + std::to_string(evolution_.generations) + "] best predicted " +
                           std::to_string(best * 100).substr(0, 5) + "  elapsed " + format_duration(context.elapsed()),
                       generation == evolution_.generations);
    });
  }

  // The winners, measured for real: accuracy after BN recalibration, counted FLOPs, and latency.
  void remeasure(RunContext& context, const OfaEvolutionResult& found, MethodResult& result) {
    const OfaSpec& spec = *spec_;
    const int count = options_.get<int>("remeasure");
    std::vector<std::pair<OfaArch, double>> finalists;  // (sub-network, predicted accuracy)
    for (std::size_t i = 0; i < found.population.size() && static_cast<int>(i) < count; ++i)
      finalists.push_back({found.population[i], found.scores[i] * 100});
    // The answer must never be worse than a feasible sub-network already measured for the
    // predictor's data: unless it is among the winners, the best of those is re-measured with
    // them (test split, latency) and the best measurement is the answer.
    const auto efficiency = [&](const OfaArch& arch) { return by_latency_ ? table_->predict(spec, arch) : flops(arch); };
    const std::pair<OfaArch, double>* best_measured = nullptr;
    for (const auto& candidate : measured_)
      if (efficiency(candidate.first) <= constraint_ && (!best_measured || candidate.second > best_measured->second))
        best_measured = &candidate;
    if (best_measured) {
      bool among = false;
      for (const auto& f : finalists) among = among || print_ofa_arch(f.first) == print_ofa_arch(best_measured->first);
      if (!among) finalists.push_back({best_measured->first, std::numeric_limits<double>::quiet_NaN()});
    }
    const int repeats = options_.get<int>("latency_repeats");
    for (std::size_t i = 0; i < finalists.size(); ++i) {
      context.check_stop();
      const OfaArch& arch = finalists[i].first;
      const bool from_measured = std::isnan(finalists[i].second);
      const std::int64_t seq = seq_++;
      std::map<std::string, double> metrics;
      Measured m;
      if (const Evaluation* stored = context.stored_at(seq)) {
        metrics = stored->metrics;
        m = {metrics.at("val_acc"), metrics.at("test_acc"), stored->seconds};
      } else {
        auto [measured_now, subnet] = measure(arch, true);
        m = measured_now;
        metrics = {{"val_acc", m.val_acc},
                   {"test_acc", m.test_acc},
                   {"predicted_acc", finalists[i].second},
                   {"flops", subnet->measured_macs()},
                   {"params", ofa_params(spec, arch, task_.input_shape[0], task_.num_classes)},
                   {"resolution", static_cast<double>(arch.r)}};
        subnet->to(torch::Device(device_));
        metrics["latency_ms"] = measure_latency_ms(*subnet, {task_.input_shape[0], arch.r, arch.r}, device_, repeats);
        if (by_latency_) metrics["latency_predicted_ms"] = table_->predict(spec, arch);
        const double measured = by_latency_ ? metrics["latency_ms"] : metrics["flops"];
        metrics["constraint"] = constraint_;
        metrics["satisfies_constraint"] = measured <= constraint_ ? 1 : 0;
        if (from_measured) metrics.erase("predicted_acc");
      }
      context.record(Stage::Final, print_ofa_arch(arch), evaluation(metrics, m.seconds), m.val_acc, seq);
      char line[400];
      const std::string label = from_measured ? std::string("best measured for the predictor")
                                              : "winner " + std::to_string(i + 1) + " (predicted " + std::to_string(finalists[i].second).substr(0, 5) + ")";
      std::snprintf(line, sizeof line, "%s: %s  val_acc %.2f  test_acc %.2f  flops %.3gM  latency %.2f ms  %s", label.c_str(),
                    print_ofa_arch(arch).c_str(), m.val_acc, m.test_acc, metrics["flops"] / 1e6, metrics["latency_ms"],
                    metrics["satisfies_constraint"] > 0 ? "within the constraint" : "OVER the constraint");
      context.progress(line, true);
      if (!result.best_value || m.val_acc > *result.best_value) {
        result.best_value = m.val_acc;
        result.best_arch = print_ofa_arch(arch);
        result.best_metrics = metrics;
      }
      ++result.evaluated_now;
      ++result.counted;
    }
  }

  Options options_;
  std::vector<std::pair<OfaArch, double>> measured_;  // the predictor's data: sub-network, val_acc
  const SearchSpace* space_ = nullptr;  // encodes sub-networks for the predictor
  const OfaSpec* spec_ = nullptr;
  std::string device_, checkpoint_;
  DataSplits data_;
  Task task_;
  OfaTrainingOptions training_;
  OfaEvolutionOptions evolution_;
  bool by_latency_ = false;
  double constraint_ = 0;
  std::vector<OfaArch> report_;
  std::shared_ptr<OfaMbv3> supernet_;
  torch::Tensor calibration_set_;
  std::int64_t calibration_batch_ = 200;
  std::optional<OfaLatencyTable> table_;
  std::optional<std::string> resume_state_;
  std::int64_t seq_ = 0;  // the run's evaluations in the order this method makes them (resumes replay them)
};

}  // namespace

void register_ofa_method(Registries& registries) {
  registries.methods.add("ofa", "Once-for-All (Cai et al. 2020): progressive shrinking, accuracy predictor, constrained evolution",
                         ofa_options(), [](const Options& options) -> std::unique_ptr<Method> { return std::make_unique<OfaMethod>(options); });
}

}  // namespace nascent
