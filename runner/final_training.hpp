#pragma once
// Final training: after any method's search, its best architecture goes through the config's
// `final_training` steps, one section or a list of them:
//   - a `train` step (`name: train`, or no name) trains it on its own for the configured epochs,
//     checkpointed at every epoch end (a killed run resumes there), its per-epoch curves and
//     final metrics stored in the run (stage final) and its weights saved;
//   - any other registered evaluator (`name: table`, `name: proxy`, ...) measures it once.
// `nascent train` runs the train steps for a given architecture with no search before them.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/options.hpp"
#include "strategies/method.hpp"

namespace nascent {

// A `train` step's declared options.
const OptionTable& final_training_options();

struct FinalStep {
  std::string name;                     // "train", or the evaluator's name
  Config section;
  std::optional<Options> training;      // train steps: the section read through final_training_options()
  Config dataset;                       // train steps: their data's section
  std::shared_ptr<const struct DataSplits> data;  // train steps: loaded with the config, before the run is recorded
  std::unique_ptr<Evaluator> evaluator; // other steps
};

// Reads and checks every step and loads each train step's data, so that a bad section or a bad
// data file is an error before the run is recorded.
std::vector<FinalStep> read_final_steps(const Config& config, const RunContext& context);

struct FinalOutcome {
  bool completed = false;                 // every step ran (false: Ctrl-C at an epoch end; checkpoints stay)
  std::map<std::string, double> metrics;  // the best step's metrics by the run's objective
  std::optional<double> value;            // its objective value
  std::vector<std::string> weights;       // the weights files the train steps wrote
  std::int64_t evaluations = 0;           // steps with a stored evaluation, replayed ones included
  std::int64_t evaluated_now = 0;
};

// Runs the steps for `arch`, recording their evaluations (stage final) and curves in `context`'s
// run. A resumed run skips the steps it had stored and continues a train step from its checkpoint
// (`checkpoint_prefix` + step index); weights go to the step's `weights`, else default_weights(step).
FinalOutcome run_final_steps(std::vector<FinalStep>& steps, const std::string& arch, RunContext& context,
                             const std::string& checkpoint_prefix,
                             const std::function<std::string(std::size_t step)>& default_weights);

}  // namespace nascent
