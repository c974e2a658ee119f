#include "evaluators/proxy_evaluator.hpp"

#include <chrono>
#include <cmath>

#include "core/error.hpp"
#include "evaluators/train_evaluator.hpp"

namespace nascent {

std::vector<std::unique_ptr<Predictor>> predictors_from_config(const Config& list) {
  std::vector<std::unique_ptr<Predictor>> predictors;
  const YAML::Node& node = list.node();
  if (!node || !node.IsSequence() || node.size() == 0)
    throw Error("config: metrics must be a non-empty list of predictor names");
  for (std::size_t i = 0; i < node.size(); ++i) {
    if (node[i].IsScalar()) {
      predictors.push_back(make_predictor(node[i].as<std::string>()));
    } else if (node[i].IsMap() && node[i]["name"]) {
      predictors.push_back(make_predictor(node[i]["name"].as<std::string>(), Config(node[i])));
    } else {
      throw Error("config: metrics[" + std::to_string(i) + "] must be a predictor name or a map with a name");
    }
  }
  return predictors;
}

ProxyEvaluator::ProxyEvaluator(DataSplits data, std::vector<std::unique_ptr<Predictor>> predictors, Options options)
    : data_(std::move(data)), predictors_(std::move(predictors)), options_(std::move(options)) {
  options_.device = checked_device(options_.device);
  if (options_.batch_size < 2) throw Error("config: predictor batch_size must be at least 2");
  if (data_.train.size() < options_.batch_size)
    throw Error("dataset '" + data_.name + "': the training split has fewer than batch_size = " +
                std::to_string(options_.batch_size) + " samples");
  inputs_ = data_.train.images.slice(0, 0, options_.batch_size).to(options_.device);
  labels_ = data_.train.labels.slice(0, 0, options_.batch_size).to(options_.device);
}

std::vector<std::string> ProxyEvaluator::reported_metrics() const {
  std::vector<std::string> names;
  for (const auto& predictor : predictors_) names.push_back(predictor->name());
  return names;
}

Evaluation ProxyEvaluator::evaluate(const SearchSpace& space, const std::string& arch, std::uint64_t seed) {
  const auto started = std::chrono::steady_clock::now();
  Evaluation evaluation;
  evaluation.device = options_.device;
  try {
    std::vector<const Predictor*> list;
    for (const auto& p : predictors_) list.push_back(p.get());
    const PredictorScores scores = score_architecture(space, arch, Task{data_.input_shape, data_.num_classes}, seed,
                                                      list, inputs_, labels_, options_.device);
    evaluation.metrics = scores.scores;
    for (const auto& [name, message] : scores.errors)
      evaluation.error += (evaluation.error.empty() ? "" : "; ") + name + ": " + message;
    evaluation.ok = scores.errors.size() < list.size();
  } catch (const c10::Error& error) {
    evaluation.ok = false;
    const std::string message = error.what_without_backtrace();
    evaluation.error = message.substr(0, message.find('\n'));
    evaluation.out_of_memory = reads_as_out_of_memory(evaluation.error);
  } catch (const std::exception& error) {
    evaluation = failed_evaluation(error);
    evaluation.device = options_.device;
  }
  evaluation.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  evaluation.cost = evaluation.seconds;
  return evaluation;
}

}  // namespace nascent
