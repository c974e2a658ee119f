#include "cli/score_command.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>

#include "core/input_shape.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"
#include "datasets/dataset.hpp"
#include "predictors/predictor.hpp"

namespace nascent {

namespace {

struct ScoreArgs {
  std::string space, arch, input = "3x32x32", dataset = "fashion-mnist";
  std::vector<std::string> metrics, space_options, data_options;
  std::int64_t batch = 64, classes = 10;
  std::uint64_t seed = 0;
  int threads = 0;
};

// The dataset section for the requested input shape: Fashion-MNIST padded to the size (black
// borders) with the grey channel replicated, or learnable synthetic data of that shape.
Config dataset_config(const ScoreArgs& args, const std::vector<std::int64_t>& shape) {
  Config config;
  config.set("name=" + args.dataset);
  if (args.dataset == "fashion-mnist") {
    if (shape.size() != 3 || shape[1] != shape[2] || shape[1] < 28 || (shape[0] != 1 && shape[0] != 3))
      throw Error("--input: Fashion-MNIST batches are 1 or 3 channels of a square of side 28 or more, got '" +
                  args.input + "'");
    config.set("channels=" + std::to_string(shape[0]));
    if (shape[1] > 28) config.set("pad=" + std::to_string(shape[1]));
    config.set("val_size=0");
    config.set("train_subset=" + std::to_string(args.batch));
  } else if (args.dataset == "synthetic") {
    std::string dims;
    for (auto d : shape) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    config.set("shape=[" + dims + "]");
    config.set("classes=" + std::to_string(args.classes));
    config.set("train=" + std::to_string(args.batch));
  } else {
    throw Error("--dataset: expected fashion-mnist or synthetic, got '" + args.dataset + "'");
  }
  for (const auto& assignment : args.data_options) config.set(assignment);
  return config;
}

void run_score(const ScoreArgs& args, const std::vector<std::string>& plugins) {
  for (const auto& plugin : plugins) load_plugin(plugin);
  Config space_config;
  for (const auto& option : args.space_options) space_config.set(option);
  auto space = registries().spaces.create(args.space, space_config);
  const std::string arch = space->canonical(args.arch);

  std::vector<std::unique_ptr<Predictor>> predictors;
  for (const auto& name : args.metrics) predictors.push_back(make_predictor(name));
  if (predictors.empty()) throw Error("--metric: name at least one predictor");

  const std::vector<std::int64_t> shape = parse_input_shape(args.input);
  DataSplits data = load_dataset(dataset_config(args, shape), ".");
  if (data.train.size() < args.batch)
    throw Error("the dataset has " + std::to_string(data.train.size()) + " training samples, fewer than --batch");
  if (args.threads > 0) at::set_num_threads(args.threads);

  std::vector<const Predictor*> list;
  for (const auto& p : predictors) list.push_back(p.get());
  const PredictorScores scores =
      score_architecture(*space, arch, Task{data.input_shape, data.num_classes}, args.seed, list,
                         data.train.images.slice(0, 0, args.batch), data.train.labels.slice(0, 0, args.batch));

  std::printf("%-14s %16s %10s\n", "metric", "score", "ms");
  for (const auto* predictor : list) {
    const std::string& name = predictor->name();
    std::printf("%-14s %16.8g %10.1f\n", name.c_str(), scores.scores.at(name), scores.milliseconds.at(name));
  }
  for (const auto& [name, message] : scores.errors) std::fprintf(stderr, "%s: %s\n", name.c_str(), message.c_str());
}

}  // namespace

void add_score_command(CLI::App& app, const std::vector<std::string>& plugins) {
  auto args = std::make_shared<ScoreArgs>();
  auto* cmd = app.add_subcommand("score", "Score an architecture with training-free predictors");
  cmd->add_option("space", args->space, "Search space name")->required();
  cmd->add_option("arch", args->arch, "Architecture string")->required();
  cmd->add_option("--metric,-m", args->metrics, "Predictors, comma-separated (grad_norm, snip, grasp, fisher, "
                                                "jacob_cov, synflow, nwot, zen, epe_nas, l2_norm, plain, params, flops, "
                                                "hidden_cov[@LAYER], lga)")
      ->delimiter(',')
      ->required();
  cmd->add_option("--input", args->input, "Input shape C x H x W")->capture_default_str();
  cmd->add_option("--classes", args->classes, "Classes (synthetic data)")->capture_default_str();
  cmd->add_option("--dataset", args->dataset, "fashion-mnist or synthetic")->capture_default_str();
  cmd->add_option("--data", args->data_options, "Dataset option key=value (repeatable)");
  cmd->add_option("--batch", args->batch, "Batch size")->check(CLI::Range(2, 100000))->capture_default_str();
  cmd->add_option("--seed", args->seed, "Weight initialisation and predictor seed")->capture_default_str();
  cmd->add_option("--threads", args->threads, "LibTorch threads (default: LibTorch's)");
  cmd->add_option("--option", args->space_options, "Space option key=value (repeatable)");
  cmd->callback([args, &plugins] { run_score(*args, plugins); });
}

}  // namespace nascent
