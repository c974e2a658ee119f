#include "core/error.hpp"
#include "evaluators/proxy_evaluator.hpp"
#include "evaluators/table_evaluator.hpp"
#include "evaluators/train_evaluator.hpp"

namespace nascent {

std::unique_ptr<Evaluator> make_evaluator(const Config& config, const EvaluatorContext& context) {
  const std::string name = config.get<std::string>("name", "train");
  if (name == "train") return TrainEvaluator::from_config(config, context);
  if (name == "table") return TableEvaluator::from_config(config, context);
  if (name == "proxy") return ProxyEvaluator::from_config(config, context);
  throw Error("config: evaluator.name: unknown evaluator '" + name + "' (expected train, table or proxy)");
}

}  // namespace nascent
