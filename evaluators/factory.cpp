// The built-in evaluators and their declared options.
#include "core/error.hpp"
#include "core/registry.hpp"
#include "datasets/dataset.hpp"
#include "evaluators/proxy_evaluator.hpp"
#include "evaluators/table_evaluator.hpp"
#include "evaluators/train_evaluator.hpp"
#include "evaluators/training_loop.hpp"

namespace nascent {

namespace {

std::string device_of(const Options& options, const EvaluatorContext& context) {
  return context.device_override.empty() ? options.get<std::string>("device") : context.device_override;
}

}  // namespace

void register_builtin_evaluators(Registries& registries) {
  const TrainEvaluator::Options train;
  registries.evaluators.add(
      "train", "trains each candidate from scratch on a dataset and reports validation (and test) accuracy, loss, params, FLOPs, latency",
      OptionTable()
          .section("dataset", "the data (name: fashion-mnist, synthetic, wordnet or a plugin's, plus its options)")
          .number("epochs", train.training.epochs, "training epochs (fractions allowed)").at_least(0)
          .integer("steps", 0, "training steps; when > 0, overrides epochs").at_least(0)
          .integer("batch_size", train.training.batch_size, "training batch size").at_least(1)
          .integer("eval_batch_size", train.eval_batch_size, "evaluation batch size").at_least(1)
          .number("lr", train.training.lr, "initial learning rate (cosine schedule)").at_least(0)
          .number("lr_min", train.training.lr_min, "final learning rate").at_least(0)
          .number("momentum", train.training.momentum, "SGD momentum").at_least(0)
          .flag("nesterov", train.training.nesterov, "Nesterov momentum")
          .number("weight_decay", train.training.weight_decay, "weight decay").at_least(0)
          .text("device", train.device, "cpu, cuda or cuda:N (--device overrides)")
          .flag("test", train.test, "also report test accuracy")
          .flag("latency", train.latency, "also measure inference latency")
          .text("optimizer", train.training.optimizer, "the optimiser").one_of({"sgd", "adamw"})
          .integer("loader_threads", train.training.loader_threads,
                   "threads preparing (gathering, augmenting) training batches ahead of each step; 0: inline; results do not depend on it")
          .at_least(0)
          .integer("pretrain_steps", 0, "text tasks: masked-language-model steps before fine-tuning").at_least(0)
          .number("pretrain_lr", train.pretrain_lr, "masked-language-model learning rate").at_least(0)
          .number("mask_fraction", train.mask_fraction, "share of tokens masked in pre-training").at_least(0).at_most(1)
          .integer("keep_weights", 0, "trained weights kept in memory for weight transfer (BOSHNAS)").at_least(0)
          .integer("oom_retries", train.oom_retries,
                   "a candidate that runs out of memory trains again with half the batch size, up to this many times; 0: stored as oom")
          .at_least(0),
      [](const Options& options, const EvaluatorContext& context) -> std::unique_ptr<Evaluator> {
        TrainEvaluator::Options o;
        o.training = read_training_settings(options);
        o.eval_batch_size = options.get<long long>("eval_batch_size");
        o.test = options.get<bool>("test");
        o.latency = options.get<bool>("latency");
        o.pretrain_steps = options.get<long long>("pretrain_steps");
        o.pretrain_lr = options.get<double>("pretrain_lr");
        o.mask_fraction = options.get<double>("mask_fraction");
        o.keep_weights = static_cast<std::size_t>(options.get<long long>("keep_weights"));
        o.oom_retries = static_cast<int>(options.get<long long>("oom_retries"));
        o.device = device_of(options, context);
        o.stop = context.stop;
        return std::make_unique<TrainEvaluator>(load_dataset(options.section("dataset"), context.config_dir), o);
      });

  const TableEvaluator::Options table;
  registries.evaluators.add(
      "table", "looks candidates up in a benchmark table (CSV, or JSON records such as BERT_benchmark.json)",
      OptionTable()
          .text("path", "", "the table file (relative: to the working directory, else the config's folder)").required()
          .text("key", table.key, "the architecture column (JSON: member or pointer)")
          .text("metric", "", "the column reported as the objective's default metric").required()
          .texts("report", {}, "further columns reported as metrics")
          .text("cost", "", "the column the cost budget charges (empty: every query costs 0)")
          .text("duplicates", table.duplicates, "repeated keys").one_of({"error", "mean"}),
      [](const Options& options, const EvaluatorContext& context) -> std::unique_ptr<Evaluator> {
        TableEvaluator::Options o;
        o.path = resolve_path(options.get<std::string>("path"), context.config_dir);
        o.key = options.get<std::string>("key");
        o.metric = options.get<std::string>("metric");
        o.report = options.get<std::vector<std::string>>("report");
        o.cost = options.get<std::string>("cost");
        o.duplicates = options.get<std::string>("duplicates");
        o.space = context.space;
        return std::make_unique<TableEvaluator>(o);
      });

  const ProxyEvaluator::Options proxy;
  registries.evaluators.add(
      "proxy", "scores candidates with training-free predictors (zero-cost proxies, hidden covariance, LGA) on one batch",
      OptionTable()
          .optional("metrics", OptionType::Value, "predictor names, or maps with a name and the predictor's options").required()
          .section("dataset", "the data the batch comes from")
          .integer("batch_size", proxy.batch_size, "the scored batch's size").at_least(2)
          .text("device", proxy.device, "cpu, cuda or cuda:N (--device overrides)"),
      [](const Options& options, const EvaluatorContext& context) -> std::unique_ptr<Evaluator> {
        ProxyEvaluator::Options o;
        o.batch_size = options.get<long long>("batch_size");
        o.device = device_of(options, context);
        return std::make_unique<ProxyEvaluator>(load_dataset(options.section("dataset"), context.config_dir),
                                                predictors_from_config(Config(options.config().node()["metrics"], options.config().full("metrics"))),
                                                o);
      });
}

std::unique_ptr<Evaluator> make_evaluator(const Config& config, const EvaluatorContext& context) {
  return registries().evaluators.create(config.get<std::string>("name", "train"), config, context);
}

}  // namespace nascent
