#pragma once
// Placeholder until the store's schema 3 lands: the stages an evaluation can belong to.
#include <string>
#include <vector>

#include "core/error.hpp"

namespace nascent {

enum class Stage { Query, Score, Epoch, Report, Measure, Search, Final };

inline std::string to_string(Stage stage) {
  switch (stage) {
    case Stage::Query: return "query";
    case Stage::Score: return "score";
    case Stage::Epoch: return "epoch";
    case Stage::Report: return "report";
    case Stage::Measure: return "measure";
    case Stage::Search: return "search";
    case Stage::Final: return "final";
  }
  return "query";
}

inline Stage parse_stage_name(const std::string& text) {
  for (Stage stage : {Stage::Query, Stage::Score, Stage::Epoch, Stage::Report, Stage::Measure, Stage::Search, Stage::Final})
    if (to_string(stage) == text) return stage;
  throw Error("unknown stage '" + text + "' (stages: query, score, epoch, report, measure, search, final)");
}

}  // namespace nascent
