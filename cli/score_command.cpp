#include "cli/score_command.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>

#include "cli/cli_run.hpp"
#include "core/input_shape.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"
#include "datasets/dataset.hpp"
#include "predictors/predictor.hpp"

namespace nascent {

namespace {

struct ScoreArgs {
  std::string space, arch, input, dataset;
  std::vector<std::string> metrics, space_options, data_options;
  std::int64_t batch = 64, classes = 10;
  std::uint64_t seed = 0;
  int threads = 0;
};

// The dataset section for the requested input shape: for images, Fashion-MNIST padded to the size
// (black borders) with the grey channel replicated, or learnable synthetic data of that shape; for
// token sequences (a shape of one dimension), WordNet glosses or a TSV/CSV file (`--data path=...`)
// in word tokens of that length. The transformer metrics' reference batch is OpenWebText through
// ELECTRA's tokenizer, which nascent cannot read offline: glosses are the default text here.
Config dataset_config(const ScoreArgs& args, const std::string& dataset, const std::vector<std::int64_t>& shape) {
  Config config;
  config.set("name=" + dataset);
  const std::string shape_text = args.input.empty() ? "the space's default" : "'" + args.input + "'";
  if (dataset == "fashion-mnist") {
    if (shape.size() != 3 || shape[1] != shape[2] || shape[1] < 28 || (shape[0] != 1 && shape[0] != 3))
      throw Error("--input: Fashion-MNIST batches are 1 or 3 channels of a square of side 28 or more, got " + shape_text);
    config.set("channels=" + std::to_string(shape[0]));
    if (shape[1] > 28) config.set("pad=" + std::to_string(shape[1]));
    config.set("val_size=0");
    config.set("train_subset=" + std::to_string(args.batch));
  } else if (dataset == "synthetic") {
    std::string dims;
    for (auto d : shape) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    config.set("shape=[" + dims + "]");
    config.set("classes=" + std::to_string(args.classes));
    config.set("train=" + std::to_string(args.batch));
  } else if (dataset == "wordnet" || dataset == "text") {
    if (shape.size() != 1) throw Error("--input: text batches are token sequences of one length L, got " + shape_text);
    config.set("tokens=words");
    config.set("max_length=" + std::to_string(shape[0]));
    config.set("train_subset=" + std::to_string(args.batch));
  } else {
    throw Error("--dataset: expected fashion-mnist, synthetic, wordnet or text, got '" + dataset + "'");
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

  std::vector<std::int64_t> shape = args.input.empty() ? space->default_input_shape() : parse_input_shape(args.input);
  if (shape.empty()) shape = {3, 32, 32};
  const std::string dataset = !args.dataset.empty() ? args.dataset : shape.size() == 1 ? "wordnet" : "fashion-mnist";
  DataSplits data = load_dataset(dataset_config(args, dataset, shape), ".");
  if (data.train.size() < args.batch)
    throw Error("the dataset has " + std::to_string(data.train.size()) + " training samples, fewer than --batch");
  if (args.threads > 0) at::set_num_threads(args.threads);

  std::vector<const Predictor*> list;
  for (const auto& p : predictors) list.push_back(p.get());
  const PredictorScores scores =
      score_architecture(*space, arch, Task{data.input_shape, data.num_classes, data.vocabulary_size}, args.seed, list,
                         data.train.images.slice(0, 0, args.batch), data.train.labels.slice(0, 0, args.batch));

  std::printf("%-30s %16s %10s\n", "metric", "score", "ms");
  for (const auto* predictor : list) {
    const std::string& name = predictor->name();
    std::printf("%-30s %16.8g %10.1f\n", name.c_str(), scores.scores.at(name), scores.milliseconds.at(name));
  }
  // A predictor that cannot score this architecture on this input is an error, not a NaN to read
  // past: the table above still shows the others.
  std::string failed;
  for (const auto& [name, message] : scores.errors) failed += (failed.empty() ? "" : "; ") + name + ": " + message;
  if (!failed.empty()) throw Error(failed);
}

}  // namespace

void add_score_command(CLI::App& app, const std::vector<std::string>& plugins) {
  auto args = std::make_shared<ScoreArgs>();
  auto* cmd = app.add_subcommand("score", "Score an architecture with training-free predictors");
  cmd->add_option("space", args->space, "Search space name")->required();
  cmd->add_option("arch", args->arch, "Architecture string")->required();
  cmd->add_option("--metric,-m", args->metrics, "Predictors, comma-separated (grad_norm, snip, grasp, fisher, "
                                                "jacob_cov, synflow, nwot, zen, epe_nas, l2_norm, plain, params, flops, "
                                                "hidden_cov[@LAYER], lga; on transformers also head_confidence, "
                                                "head_softmax_confidence, activation_distance, synaptic_diversity, "
                                                "synaptic_saliency, head_importance (each also NAME_normalised), "
                                                "jacobian_score, jacobian_cosine)")
      ->delimiter(',')
      ->required();
  cmd->add_option("--input", args->input, "Input shape: C x H x W, or L tokens (default: the space's)");
  cmd->add_option("--classes", args->classes, "Classes (synthetic data)")->capture_default_str();
  cmd->add_option("--dataset", args->dataset,
                  "fashion-mnist or synthetic for images, wordnet or text (TSV/CSV, --data path=DIR) for token "
                  "sequences (default: fashion-mnist, wordnet for token spaces)");
  cmd->add_option("--data", args->data_options, "Dataset option key=value (repeatable)");
  cmd->add_option("--batch", args->batch, "Batch size")->check(between(2, 100000))->capture_default_str();
  cmd->add_option("--seed", args->seed, "Weight initialisation and predictor seed")->check(at_least(0))->capture_default_str();
  cmd->add_option("--threads", args->threads, "LibTorch threads (0: LibTorch's default)")->check(between(0, 4096))->capture_default_str();
  cmd->add_option("--option", args->space_options, "Space option key=value (repeatable)");
  cmd->callback([args, &plugins] { run_score(*args, plugins); });
}

}  // namespace nascent
