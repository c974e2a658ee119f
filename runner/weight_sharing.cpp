// Runs of the weight-sharing strategies: Once-for-All (strategy `ofa`) and ViT-ResNAS (strategy
// `vit_resnas`). Each trains its supernet, or loads it from `strategy.checkpoint` when that file
// holds one trained with the same space, data, training settings and seed, then searches
// sub-networks under an efficiency constraint and re-measures the winners for real.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include "core/error.hpp"
#include "core/registry.hpp"
#include "core/stats.hpp"
#include "evaluators/ofa_latency_table.hpp"
#include "evaluators/train_evaluator.hpp"
#include "predictors/ofa_accuracy_predictor.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"
#include "search_spaces/ofa/ofa.hpp"
#include "search_spaces/vit_resnas/vit_resnas.hpp"
#include "strategies/ofa_evolution.hpp"
#include "strategies/vit_resnas_evolution.hpp"
#include "supernets/ofa_mbv3.hpp"
#include "supernets/progressive_shrinking.hpp"
#include "supernets/vit_resnas_supernet.hpp"

namespace nascent {

namespace {

struct Interrupted {};

using Clock = std::chrono::steady_clock;

// Everything a checkpoint's weights depend on; a stored checkpoint is reused only when it matches.
std::string checkpoint_identity(const Config& config, std::uint64_t seed) {
  const Config strategy = config.child("strategy");
  std::ostringstream id;
  id << "space: " << config.child("space").dump() << "\ndataset: " << strategy.child("dataset").dump()
     << "\nsupernet_training: " << strategy.child("supernet_training").dump() << "\nseed: " << seed;
  return id.str();
}

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

struct RunContext {
  const SearchOptions& options;
  std::unique_ptr<ResultStore> store;  // opened by begin(), so that a bad config writes nothing
  std::int64_t run = 0;
  std::int64_t seq = 0;
  std::string space_name;
  const SearchSpace* space = nullptr;
  std::function<void()> begin;  // records the run; called once the config has been read and checked
  Clock::time_point started = Clock::now();
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - started).count(); }

  void add(const std::string& arch, Stage stage, std::map<std::string, double> metrics, double seconds,
           std::optional<double> fitness, const std::string& device) {
    StoredEvaluation e;
    e.run = run;
    e.seq = seq++;
    e.space = space_name;
    e.arch = space->canonical(arch);
    e.fingerprint = space->fingerprint(e.arch);
    e.stage = stage;
    e.result.metrics = std::move(metrics);
    e.result.seconds = seconds;
    e.result.cost = seconds;
    e.result.device = device;
    e.fitness = fitness;
    e.elapsed = elapsed();
    store->add_evaluation(e);
  }
  // One point per named value, each curve "<prefix>.<name>".
  void curve(const std::string& prefix, const std::map<std::string, double>& values, double step, const std::string& label = "") {
    std::vector<CurvePoint> points;
    for (const auto& [name, value] : values) points.push_back({run, prefix + "." + name, step, value, label});
    store->add_curve_points(run, points);
  }
};

// Progress lines at most every 10 s; Ctrl-C stops within a step.
class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet) {}
  void line(const std::function<std::string()>& text, bool force = false) {
    if (stop_requested()) throw Interrupted{};
    if (quiet_) return;
    const auto now = Clock::now();
    if (!force && std::chrono::duration<double>(now - last_).count() < 10) return;
    last_ = now;
    std::fprintf(stderr, "%s\n", text().c_str());
  }

 private:
  bool quiet_;
  Clock::time_point last_ = Clock::now() - std::chrono::hours(1);
};

ImageSet first(const ImageSet& set, std::int64_t n) {
  if (n <= 0 || n >= set.size()) return set;
  return {set.images.slice(0, 0, n), set.labels.slice(0, 0, n)};
}

DataSplits load_image_data(const Config& strategy, const SearchOptions& options, const std::string& method) {
  DataSplits data = load_dataset(strategy.child("dataset"), options.config_dir);
  if (data.train.images.scalar_type() == torch::kLong)
    throw Error("config: strategy.dataset: " + method + " searches image networks; '" + data.name + "' is text");
  if (data.val.size() == 0) throw Error("config: strategy.dataset needs a validation split (it scores the sub-networks)");
  return data;
}

// The supernet from `checkpoint` when it holds a matching one; otherwise initialised from `seed`,
// trained by `train` (which stores its records) and saved.
void load_or_train(Network& supernet, const std::string& checkpoint, const std::string& identity, std::uint64_t seed, bool quiet,
                   const std::string& device, const std::function<void()>& train) {
  if (load_checkpoint(supernet, checkpoint, identity)) {
    supernet.to(torch::Device(device));
    if (!quiet) std::fprintf(stderr, "supernet loaded from %s\n", checkpoint.c_str());
    return;
  }
  // Initialised on the CPU from the seed, then moved: the same weights on every device.
  at::Generator init = at::detail::createCPUGenerator(seed);
  supernet.reset_parameters(init);
  supernet.to(torch::Device(device));
  train();
  save_checkpoint(supernet, checkpoint, identity);
  if (!quiet) std::fprintf(stderr, "supernet saved to %s\n", checkpoint.c_str());
}

// "[supernet <where>] loss L  elapsed E  ~R left", the remaining time extrapolated from the steps done.
std::string training_line(const std::string& where, double loss, double run_elapsed, double training_seconds, double done, double total) {
  char text[256];
  std::snprintf(text, sizeof text, "[supernet %s] loss %.4f  elapsed %s  ~%s left", where.c_str(), loss, format_duration(run_elapsed).c_str(),
                format_duration(training_seconds / done * (total - done)).c_str());
  return text;
}

// ---------------------------------------------------------------- Once-for-All

struct OfaMeasure {
  double val_acc = 0, test_acc = 0, seconds = 0;
};

SearchSummary run_ofa(const SearchOptions& options, const Config& config, RunContext& ctx, std::uint64_t seed) {
  const Config strategy = config.child("strategy");
  strategy.check_keys({"name", "checkpoint", "dataset", "supernet_training", "bn_calibration", "predictor", "constraint", "latency_table",
                       "evolution", "remeasure", "latency_repeats", "device", "report"});
  const OfaSpace& space = dynamic_cast<const OfaSpace&>(*ctx.space);
  const OfaSpec& spec = space.spec();
  const std::string device = checked_device(options.device.value_or(strategy.get<std::string>("device", "cpu")));
  const DataSplits data = load_image_data(strategy, options, "OFA");
  const Task task{data.input_shape, data.num_classes};
  const std::string checkpoint = strategy.get<std::string>("checkpoint");  // like --db: relative to the working directory

  const Config training = strategy.child("supernet_training");
  training.check_keys({"schedule", "epochs", "lr_scale", "full_lr", "lr", "subnets_per_step", "batch_size", "steps_per_epoch", "kd_ratio",
                       "label_smoothing", "weight_decay"});
  OfaTrainingOptions train_options;
  const std::string schedule = training.get<std::string>("schedule", "progressive");
  if (schedule == "progressive") {
    train_options.phases = progressive_shrinking_phases(spec, training.get<std::vector<double>>("epochs", {2, 1, 1, 1, 1, 1}),
                                                        training.get<double>("lr_scale", 1.0), training.get<double>("full_lr", 0.05));
  } else if (schedule == "uniform") {
    const std::vector<double> epochs = training.get<std::vector<double>>("epochs", {7});
    double total = 0;
    for (double e : epochs) total += e;
    train_options.phases = uniform_sampling_phases(spec, total, training.get<double>("lr", 0.05), training.get<int>("subnets_per_step", 4));
  } else {
    throw Error("config: strategy.supernet_training.schedule: expected progressive or uniform, got '" + schedule + "'");
  }
  train_options.batch_size = training.get<long>("batch_size", 64);
  train_options.steps_per_epoch = training.get<long>("steps_per_epoch", 0);
  train_options.kd_ratio = training.get<double>("kd_ratio", 1.0);
  train_options.label_smoothing = training.get<double>("label_smoothing", 0.1);
  train_options.weight_decay = training.get<double>("weight_decay", 3e-5);

  const Config calibration = strategy.child("bn_calibration");
  calibration.check_keys({"images", "batch_size"});
  const std::int64_t calibration_images = calibration.get<long>("images", 2000);
  const std::int64_t calibration_batch = calibration.get<long>("batch_size", 200);
  const Config predictor_config = strategy.child("predictor");
  predictor_config.check_keys({"samples", "holdout", "epochs", "lr"});
  const int samples = predictor_config.get<int>("samples", 200);
  const double holdout = predictor_config.get<double>("holdout", 0.2);
  if (samples < 10) throw Error("config: strategy.predictor.samples must be at least 10");
  if (!(holdout > 0 && holdout < 0.9)) throw Error("config: strategy.predictor.holdout must be in (0, 0.9)");
  const Config constraint_config = strategy.child("constraint");
  constraint_config.check_keys({"flops", "latency_ms"});
  const bool by_latency = constraint_config.has("latency_ms");
  if (by_latency == constraint_config.has("flops")) throw Error("config: strategy.constraint needs exactly one of flops or latency_ms");
  const double constraint = by_latency ? constraint_config.get<double>("latency_ms") : constraint_config.get<double>("flops");
  const Config evolution_config = strategy.child("evolution");
  evolution_config.check_keys({"population", "generations", "parent_ratio", "mutation_ratio", "mutate_prob", "resolution_mutate_prob", "max_tries"});
  OfaEvolutionOptions evolution;
  evolution.population = evolution_config.get<int>("population", evolution.population);
  evolution.generations = evolution_config.get<int>("generations", evolution.generations);
  evolution.parent_ratio = evolution_config.get<double>("parent_ratio", evolution.parent_ratio);
  evolution.mutation_ratio = evolution_config.get<double>("mutation_ratio", evolution.mutation_ratio);
  evolution.mutate_prob = evolution_config.get<double>("mutate_prob", evolution.mutate_prob);
  evolution.resolution_mutate_prob = evolution_config.get<double>("resolution_mutate_prob", evolution.resolution_mutate_prob);
  evolution.max_tries = evolution_config.get<int>("max_tries", evolution.max_tries);
  const int remeasure = strategy.get<int>("remeasure", 5);
  const int latency_repeats = strategy.get<int>("latency_repeats", 20);

  // `report`: sub-networks measured for real right after the supernet (smallest, middle, largest or
  // any architecture string), e.g. to compare training schedules.
  std::vector<OfaArch> report;
  for (const std::string& name : strategy.get<std::vector<std::string>>("report", {})) {
    if (name == "smallest") {
      report.push_back(space.smallest());
    } else if (name == "largest") {
      report.push_back(space.largest());
    } else if (name == "middle") {
      OfaArch middle = space.largest();
      const auto mid_of = [](const std::vector<int>& v) { return v[v.size() / 2]; };
      for (auto& k : middle.ks) k = mid_of(spec.kernels);
      for (auto& e : middle.e) e = mid_of(spec.expands);
      for (auto& d : middle.d) d = mid_of(spec.depths);
      middle.r = spec.resolutions[spec.resolutions.size() / 2];
      report.push_back(space.parse(print_ofa_arch(middle)));
    } else {
      report.push_back(space.parse(name));
    }
  }
  ctx.begin();
  Progress progress(options.quiet);
  SearchSummary summary;
  auto supernet = std::make_shared<OfaMbv3>(OfaNetShape::supernet(spec), task);
  const std::string identity = checkpoint_identity(config, seed);
  load_or_train(*supernet, checkpoint, identity, seed, options.quiet, device, [&] {
    double total_steps = 0;
    const std::int64_t steps = train_options.steps_per_epoch > 0 ? train_options.steps_per_epoch : data.train.size() / train_options.batch_size;
    for (const auto& phase : train_options.phases) total_steps += std::ceil(phase.epochs * static_cast<double>(steps));
    double done = 0;
    const auto training_started = Clock::now();
    const auto records = train_ofa_supernet(*supernet, spec, data.train, train_options, seed,
                                            [&](const OfaEpochRecord& r, std::int64_t step, std::int64_t steps_in_epoch, double loss) {
                                              ++done;
                                              progress.line([&] {
                                                return training_line(r.phase + " epoch " + std::to_string(r.epoch) + " step " + std::to_string(step) + "/" +
                                                                         std::to_string(steps_in_epoch),
                                                                     loss, ctx.elapsed(), std::chrono::duration<double>(Clock::now() - training_started).count(),
                                                                     done, total_steps);
                                              });
                                            });
    for (const auto& r : records)
      ctx.curve("supernet", {{"train_loss", r.train_loss}, {"lr", r.lr}, {"seconds", r.seconds}}, r.epoch, r.phase);
  });

  // Calibration images: a fixed random subset of the training split (set_running_statistics).
  at::Generator calibration_generator = at::detail::createCPUGenerator(derive_seed(seed, 2));
  const torch::Tensor calibration_index =
      torch::randperm(data.train.size(), calibration_generator, torch::kInt64).slice(0, 0, std::min(calibration_images, data.train.size()));
  const torch::Tensor calibration_set = data.train.images.index_select(0, calibration_index).to(torch::Device(device));
  const auto measure = [&](const OfaArch& arch, bool with_test) {
    const auto started = Clock::now();
    supernet->set_active(spec, arch);
    auto subnet = extract_ofa_subnet(*supernet, spec, arch, task);
    subnet->recalibrate_bn(calibration_set, calibration_batch);
    OfaMeasure m;
    m.val_acc = score_on(*subnet, data.val, 500, torch::Device(device)).accuracy;
    if (with_test && data.test.size() > 0) m.test_acc = score_on(*subnet, data.test, 500, torch::Device(device)).accuracy;
    m.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return std::make_pair(m, subnet);
  };
  for (const OfaArch& arch : report) {
    auto [m, subnet] = measure(arch, true);
    ctx.add(print_ofa_arch(arch), Stage::Report,
            {{"val_acc", m.val_acc}, {"test_acc", m.test_acc}, {"flops", ofa_flops(spec, arch, task.input_shape[0], task.num_classes)}}, m.seconds,
            m.val_acc, device);
    if (!options.quiet) std::fprintf(stderr, "report %s: val_acc %.2f test_acc %.2f\n", print_ofa_arch(arch).c_str(), m.val_acc, m.test_acc);
  }

  // The accuracy predictor's data: random sub-networks measured for real.
  Rng rng(derive_seed(seed, 3));
  std::vector<OfaArch> measured_archs;
  std::vector<double> measured_acc;
  for (int i = 0; i < samples; ++i) {
    OfaArch arch = space.sample_arch(rng);
    auto [m, subnet] = measure(arch, false);
    measured_archs.push_back(arch);
    measured_acc.push_back(m.val_acc / 100);
    ctx.add(print_ofa_arch(arch), Stage::Measure, {{"val_acc", m.val_acc}, {"flops", ofa_flops(spec, arch, task.input_shape[0], task.num_classes)}},
            m.seconds, m.val_acc, device);
    progress.line([&] {
      return "[predictor data " + std::to_string(i + 1) + "/" + std::to_string(samples) + "] val_acc " + std::to_string(m.val_acc).substr(0, 5) +
             "  elapsed " + format_duration(ctx.elapsed());
    }, i + 1 == samples);
  }
  const std::size_t train_count = static_cast<std::size_t>(std::round(samples * (1 - holdout)));
  std::vector<std::size_t> order(measured_archs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::vector<double>> x_train, x_held;
  std::vector<double> y_train, y_held;
  for (std::size_t i = 0; i < order.size(); ++i) {
    auto features = space.encode(print_ofa_arch(measured_archs[order[i]]));
    (i < train_count ? x_train : x_held).push_back(features);
    (i < train_count ? y_train : y_held).push_back(measured_acc[order[i]]);
  }
  OfaAccuracyPredictor::Options predictor_options;
  predictor_options.epochs = predictor_config.get<int>("epochs", predictor_options.epochs);
  predictor_options.lr = predictor_config.get<double>("lr", predictor_options.lr);
  OfaAccuracyPredictor predictor(static_cast<std::int64_t>(x_train.front().size()), predictor_options);
  predictor.fit(x_train, y_train, derive_seed(seed, 4));
  const std::vector<double> held_predictions = predictor.predict(x_held);
  const double held_spearman = spearman(held_predictions, y_held);
  double held_rmse = 0;
  for (std::size_t i = 0; i < y_held.size(); ++i) held_rmse += (held_predictions[i] - y_held[i]) * (held_predictions[i] - y_held[i]);
  held_rmse = std::sqrt(held_rmse / static_cast<double>(std::max<std::size_t>(1, y_held.size()))) * 100;
  ctx.curve("predictor",
            {{"spearman_heldout", held_spearman}, {"rmse_heldout", held_rmse}, {"train_samples", static_cast<double>(y_train.size())},
             {"heldout_samples", static_cast<double>(y_held.size())}},
            0);
  if (!options.quiet) std::fprintf(stderr, "accuracy predictor: held-out Spearman %.3f, RMSE %.2f points (%zu held out)\n", held_spearman, held_rmse, y_held.size());

  // Efficiency: the FLOPs formula, or the latency table measured on this device.
  std::optional<OfaLatencyTable> table;
  if (by_latency) {
    const std::string table_path = strategy.get<std::string>("latency_table", checkpoint + ".latency.yaml");
    const std::string key = ofa_latency_space_key(spec, task.input_shape[0], task.num_classes);
    if (std::filesystem::exists(table_path)) {
      table = OfaLatencyTable::load(table_path);
      if (table->space != key || table->device != device)
        throw Error("strategy.latency_table '" + table_path + "' was measured for another space or device (" + table->device + "); delete it to re-measure");
    } else {
      table = OfaLatencyTable::measure(spec, task.input_shape[0], task.num_classes, device, latency_repeats, [&](std::size_t d, std::size_t t) {
        progress.line([&] { return "[latency table " + std::to_string(d) + "/" + std::to_string(t) + "]"; });
      });
      table->save(table_path);
      if (!options.quiet) std::fprintf(stderr, "latency table (%zu entries) saved to %s\n", table->entries.size(), table_path.c_str());
    }
  }
  const auto efficiency = [&](const OfaArch& arch) {
    return by_latency ? table->predict(spec, arch) : ofa_flops(spec, arch, task.input_shape[0], task.num_classes);
  };
  const auto score = [&](const std::vector<OfaArch>& archs) {
    std::vector<std::vector<double>> features;
    for (const auto& a : archs) features.push_back(space.encode(print_ofa_arch(a)));
    return predictor.predict(features);
  };
  const OfaEvolutionResult result = ofa_evolution(space, score, efficiency, constraint, evolution, rng, [&](int generation, double best) {
    progress.line([&] {
      return "[evolution generation " + std::to_string(generation) + "/" + std::to_string(evolution.generations) + "] best predicted " +
             std::to_string(best * 100).substr(0, 5) + "  elapsed " + format_duration(ctx.elapsed());
    }, generation == evolution.generations);
  });

  // The winners, measured for real: accuracy after BN recalibration, counted FLOPs, and latency.
  std::optional<double> best;
  for (std::size_t i = 0; i < result.population.size() && static_cast<int>(i) < remeasure; ++i) {
    const OfaArch& arch = result.population[i];
    auto [m, subnet] = measure(arch, true);
    std::map<std::string, double> metrics{{"val_acc", m.val_acc},
                                          {"test_acc", m.test_acc},
                                          {"predicted_acc", result.scores[i] * 100},
                                          {"flops", subnet->measured_macs()},
                                          {"params", ofa_params(spec, arch, task.input_shape[0], task.num_classes)},
                                          {"resolution", static_cast<double>(arch.r)}};
    subnet->to(torch::Device(device));
    metrics["latency_ms"] = measure_latency_ms(*subnet, {task.input_shape[0], arch.r, arch.r}, device, latency_repeats);
    if (by_latency) metrics["latency_predicted_ms"] = table->predict(spec, arch);
    const double efficiency_measured = by_latency ? metrics["latency_ms"] : metrics["flops"];
    metrics["constraint"] = constraint;
    metrics["satisfies_constraint"] = efficiency_measured <= constraint ? 1 : 0;
    ctx.add(print_ofa_arch(arch), Stage::Final, metrics, m.seconds, m.val_acc, device);
    if (!options.quiet)
      std::fprintf(stderr, "winner %zu: %s  val_acc %.2f (predicted %.2f)  test_acc %.2f  flops %.3gM  latency %.2f ms  %s\n", i + 1,
                   print_ofa_arch(arch).c_str(), m.val_acc, result.scores[i] * 100, m.test_acc, metrics["flops"] / 1e6, metrics["latency_ms"],
                   metrics["satisfies_constraint"] > 0 ? "within the constraint" : "OVER the constraint");
    if (!best || m.val_acc > *best) {
      best = m.val_acc;
      summary.best_arch = print_ofa_arch(arch);
      summary.best_fitness = m.val_acc;
      summary.best_metrics = metrics;
    }
    ++summary.evaluated_now;
  }
  return summary;
}

// ---------------------------------------------------------------- ViT-ResNAS

SearchSummary run_vit_resnas(const SearchOptions& options, const Config& config, RunContext& ctx, std::uint64_t seed) {
  const Config strategy = config.child("strategy");
  strategy.check_keys({"name", "checkpoint", "dataset", "supernet_training", "constraint", "evolution", "fitness_images", "remeasure", "device"});
  const VitResNasSpace& space = dynamic_cast<const VitResNasSpace&>(*ctx.space);
  const VitSpaceSpec& spec = space.spec();
  const std::string device = checked_device(options.device.value_or(strategy.get<std::string>("device", "cpu")));
  const DataSplits data = load_image_data(strategy, options, "ViT-ResNAS");
  const Task task{data.input_shape, data.num_classes};
  if (task.input_shape[1] != task.input_shape[2]) throw Error("config: strategy.dataset: ViT-ResNAS needs square images");
  vit_tokens_per_side(task.input_shape[1], spec.stages.size());
  const std::string checkpoint = strategy.get<std::string>("checkpoint");  // like --db: relative to the working directory
  const Config training = strategy.child("supernet_training");
  training.check_keys({"epochs", "warmup_width_epochs", "batch_size", "examples_per_arch", "lr", "weight_decay", "warmup_epochs",
                       "label_smoothing", "drop_path", "steps_per_epoch"});
  VitSupernetOptions train_options;
  train_options.epochs = training.get<int>("epochs", train_options.epochs);
  train_options.warmup_width_epochs = training.get<int>("warmup_width_epochs", train_options.warmup_width_epochs);
  train_options.batch_size = training.get<long>("batch_size", train_options.batch_size);
  train_options.examples_per_arch = training.get<long>("examples_per_arch", train_options.examples_per_arch);
  train_options.lr = training.get<double>("lr", train_options.lr);
  train_options.weight_decay = training.get<double>("weight_decay", train_options.weight_decay);
  train_options.warmup_epochs = training.get<int>("warmup_epochs", train_options.warmup_epochs);
  train_options.label_smoothing = training.get<double>("label_smoothing", train_options.label_smoothing);
  train_options.drop_path = training.get<double>("drop_path", train_options.drop_path);
  train_options.steps_per_epoch = training.get<long>("steps_per_epoch", train_options.steps_per_epoch);
  const Config constraint = strategy.child("constraint");
  constraint.check_keys({"macs"});
  const double macs_max = constraint.get<double>("macs");
  const Config evolution_config = strategy.child("evolution");
  evolution_config.check_keys({"initial_population", "iterations", "parents", "mutations", "crossovers", "mutate_prob", "window_low", "max_tries"});
  VitEvolutionOptions evolution;
  evolution.initial_population = evolution_config.get<int>("initial_population", evolution.initial_population);
  evolution.iterations = evolution_config.get<int>("iterations", evolution.iterations);
  evolution.parents = evolution_config.get<int>("parents", evolution.parents);
  evolution.mutations = evolution_config.get<int>("mutations", evolution.mutations);
  evolution.crossovers = evolution_config.get<int>("crossovers", evolution.crossovers);
  evolution.mutate_prob = evolution_config.get<double>("mutate_prob", evolution.mutate_prob);
  evolution.window_low = evolution_config.get<double>("window_low", evolution.window_low);
  evolution.max_tries = evolution_config.get<int>("max_tries", evolution.max_tries);
  const ImageSet sub_val = first(data.val, strategy.get<long>("fitness_images", 0));
  const int remeasure = strategy.get<int>("remeasure", 5);
  const std::int64_t size = task.input_shape[1];
  const auto macs = [&](const VitArch& arch) { return vit_macs(arch, size, task.input_shape[0], task.num_classes); };
  // Checked before training so that an impossible window costs nothing.
  if (macs(spec.smallest()) > macs_max || macs(spec.largest()) < evolution.window_low * macs_max) {
    std::ostringstream message;
    message << "config: strategy.constraint.macs " << macs_max << " leaves no network in the window: this space spans "
            << macs(spec.smallest()) << " to " << macs(spec.largest()) << " MACs at " << size << " px";
    throw Error(message.str());
  }

  ctx.begin();
  Progress progress(options.quiet);
  SearchSummary summary;
  auto supernet = std::make_shared<VitResNet>(spec.largest(), task, train_options.drop_path);
  const std::string identity = checkpoint_identity(config, seed);
  load_or_train(*supernet, checkpoint, identity, seed, options.quiet, device, [&] {
    const auto training_started = Clock::now();
    const std::int64_t steps = train_options.steps_per_epoch > 0 ? train_options.steps_per_epoch : data.train.size() / train_options.batch_size;
    const double total_steps = static_cast<double>(steps) * train_options.epochs;
    double done = 0;
    const auto records = train_vit_supernet(*supernet, spec, data.train, train_options, seed, [&](int epoch, std::int64_t step, std::int64_t steps_in_epoch, double loss) {
      ++done;
      progress.line([&] {
        return training_line("epoch " + std::to_string(epoch) + "/" + std::to_string(train_options.epochs) + " step " + std::to_string(step) + "/" +
                                 std::to_string(steps_in_epoch),
                             loss, ctx.elapsed(), std::chrono::duration<double>(Clock::now() - training_started).count(), done, total_steps);
      });
    });
    for (const auto& r : records)
      ctx.curve("supernet", {{"train_loss", r.train_loss}, {"lr", r.lr}, {"widths_in_use", r.widths_in_use}, {"seconds", r.seconds}}, r.epoch);
  });
  supernet->eval();

  Rng rng(derive_seed(seed, 3));
  std::int64_t scored = 0;
  const auto fitness = [&](const std::vector<VitArch>& archs) {
    std::vector<double> scores;
    for (const auto& arch : archs) {
      const auto started = Clock::now();
      auto subnet = slice_vit(*supernet, arch, task);
      subnet->eval();
      const double acc = score_on(*subnet, sub_val, 250, torch::Device(device)).accuracy;
      scores.push_back(acc);
      ctx.add(print_vit_arch(arch), Stage::Search, {{"val_acc", acc}, {"macs", macs(arch)}},
              std::chrono::duration<double>(Clock::now() - started).count(), acc, device);
      ++scored;
      progress.line([&] { return "[search " + std::to_string(scored) + " sub-networks scored] elapsed " + format_duration(ctx.elapsed()); });
    }
    return scores;
  };
  const auto history = vit_resnas_evolution(space, macs, fitness, macs_max, evolution, rng, [&](int iteration, const VitCandidate& best) {
    progress.line([&] {
      char text[200];
      std::snprintf(text, sizeof text, "[evolution iteration %d/%d] best sub-val %.2f at %.4g MACs  elapsed %s", iteration + 1,
                    evolution.iterations, best.fitness, best.macs, format_duration(ctx.elapsed()).c_str());
      return std::string(text);
    }, true);
  });

  std::optional<double> best;
  for (std::size_t i = 0; i < history.size() && static_cast<int>(i) < remeasure; ++i) {
    const VitArch& arch = history[i].arch;
    const auto started = Clock::now();
    auto subnet = slice_vit(*supernet, arch, task);
    subnet->eval();
    std::map<std::string, double> metrics{{"val_acc", score_on(*subnet, data.val, 250, torch::Device(device)).accuracy},
                                          {"search_fitness", history[i].fitness},
                                          {"macs", subnet->measured_macs()},
                                          {"macs_formula", history[i].macs},
                                          {"params", vit_params(arch, size, task.input_shape[0], task.num_classes)},
                                          {"constraint", macs_max}};
    if (data.test.size() > 0) metrics["test_acc"] = score_on(*subnet, data.test, 250, torch::Device(device)).accuracy;
    metrics["satisfies_constraint"] = metrics["macs"] <= macs_max && metrics["macs"] >= evolution.window_low * macs_max ? 1 : 0;
    const double val_acc = metrics["val_acc"];
    ctx.add(print_vit_arch(arch), Stage::Final, metrics, std::chrono::duration<double>(Clock::now() - started).count(), val_acc, device);
    if (!options.quiet)
      std::fprintf(stderr, "winner %zu: val_acc %.2f test_acc %.2f  MACs %.4g (window %.4g..%.4g) %s\n  %s\n", i + 1, val_acc, metrics["test_acc"],
                   metrics["macs"], evolution.window_low * macs_max, macs_max, metrics["satisfies_constraint"] > 0 ? "inside" : "OUTSIDE",
                   print_vit_arch(arch).c_str());
    if (!best || val_acc > *best) {
      best = val_acc;
      summary.best_arch = print_vit_arch(arch);
      summary.best_fitness = val_acc;
      summary.best_metrics = metrics;
    }
    ++summary.evaluated_now;
  }
  summary.evaluated_now += scored;
  return summary;
}

}  // namespace

SearchSummary run_weight_sharing_search(const SearchOptions& options, const Config& config) {
  config.check_keys({"name", "description", "seed", "space", "strategy", "parallel", "plugins", "evaluator", "objective", "budget"});
  const Config strategy = config.child("strategy");
  const std::string method = strategy.get<std::string>("name");
  if (config.has("evaluator"))
    throw Error("config: " + method + " scores sub-networks with its supernet; it takes no evaluator section (see strategy.dataset)");
  if (options.resume) throw Error("--resume: " + method + " runs cannot be resumed; rerun (the trained supernet is reused from strategy.checkpoint)");
  if (!strategy.has("checkpoint")) throw Error("config: strategy.checkpoint: name the file the trained supernet is saved to and reused from");
  const std::uint64_t seed = options.seed ? *options.seed : config.get<unsigned long>("seed", 0);
  const Config space_config = config.child("space");
  const std::string space_name = space_config.get<std::string>("name");
  const std::string expected = method == "ofa" ? "ofa_mbv3" : "vit_resnas";
  if (space_name != expected) throw Error("config: strategy " + method + " searches the " + expected + " space, not '" + space_name + "'");
  const Config parallel = config.child("parallel");
  parallel.check_keys({"threads_per_worker"});
  const int threads = parallel.get<int>("threads_per_worker", static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  if (threads < 1) throw Error("config: parallel.threads_per_worker must be at least 1");
  at::set_num_threads(threads);
  auto space = SpaceRegistry::instance().create(space_name, space_config);

  RunContext ctx{options, nullptr};
  ctx.space_name = space_name;
  ctx.space = space.get();
  // Config errors surface before the run is recorded (ctx.begin); a failure after it marks the run failed.
  bool begun = false;
  ctx.begin = [&] {
    ctx.store = std::make_unique<ResultStore>(options.db_path, ResultStore::Mode::ReadWrite);
    RunInfo info;
    info.config = config.dump();
    info.seed = seed;
    info.space = space_name;
    info.strategy = method;
    info.evaluator = "supernet";
    info.final_stage = Stage::Final;  // the re-measured winners; objective: val_acc, max
    ctx.run = ctx.store->begin_run(info);
    ctx.started = Clock::now();
    begun = true;
  };
  SearchSummary summary;
  std::string status = "finished";
  try {
    summary = method == "ofa" ? run_ofa(options, config, ctx, seed) : run_vit_resnas(options, config, ctx, seed);
  } catch (const Interrupted&) {
    status = "interrupted";
  } catch (...) {
    if (begun) ctx.store->finish_run(ctx.run, "failed");
    throw;
  }
  if (!begun) throw Error("the run ended before it started");
  ctx.store->finish_run(ctx.run, status);
  summary.run = ctx.run;
  summary.status = status;
  summary.evaluations = ctx.seq;
  summary.elapsed = ctx.elapsed();
  return summary;
}

}  // namespace nascent
