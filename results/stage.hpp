#pragma once
#include <string>
#include <vector>

namespace nascent {

// What an evaluation was for, so that queries compare like with like (a training-free score is no
// accuracy, and a supernet-scored fitness is no final result).
enum class Stage {
  Query,    // an ask/tell candidate evaluated by the run's evaluator (by a multi-fidelity search: trained in full)
  Score,    // a pool candidate's training-free score (the config's `predictor` evaluator)
  Epoch,    // the genotype a differentiable search derives after a supernet epoch
  Report,   // a fixed sub-network of a trained supernet (OFA), measured for the record
  Measure,  // a random sub-network measured to train an accuracy predictor (OFA)
  Search,   // a candidate's supernet-scored fitness during a weight-sharing evolution (ViT-ResNAS)
  Final,    // a final candidate of a one-shot method, trained or re-measured on its own
  Rung,     // a multi-fidelity search's candidate trained short of its full epochs (metrics rung, epochs)
};

// The name stored in the database and written by `results`: "query", "score", ...
std::string to_string(Stage stage);
// The inverse of to_string; throws Error naming the valid stages for any other text.
Stage parse_stage(const std::string& name);
// Every stage, in declaration order.
const std::vector<Stage>& all_stages();

}  // namespace nascent
