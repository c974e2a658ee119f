#include "results/stage.hpp"

#include "core/error.hpp"

namespace nascent {

const std::vector<Stage>& all_stages() {
  static const std::vector<Stage> stages{Stage::Query,   Stage::Score,  Stage::Epoch, Stage::Report,
                                         Stage::Measure, Stage::Search, Stage::Final, Stage::Rung};
  return stages;
}

std::string to_string(Stage stage) {
  switch (stage) {
    case Stage::Query: return "query";
    case Stage::Score: return "score";
    case Stage::Epoch: return "epoch";
    case Stage::Report: return "report";
    case Stage::Measure: return "measure";
    case Stage::Search: return "search";
    case Stage::Final: return "final";
    case Stage::Rung: return "rung";
  }
  throw Error("invalid stage value " + std::to_string(static_cast<int>(stage)));
}

Stage parse_stage(const std::string& name) {
  std::string valid;
  for (Stage stage : all_stages()) {
    if (to_string(stage) == name) return stage;
    valid += (valid.empty() ? "" : ", ") + to_string(stage);
  }
  throw Error("unknown stage '" + name + "' (valid: " + valid + ")");
}

}  // namespace nascent
