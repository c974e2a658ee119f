#pragma once
// What a search optimises, shared by the run driver (`objective`, `objectives`), the result
// queries (`results pareto --objectives`) and the report.
#include <optional>
#include <string>

namespace nascent {

// A metric and whether larger is better.
struct Objective {
  std::string metric = "val_acc";
  bool maximize = true;
};

// "val_acc:max" or "flops:min" (spaces around either part ignored) -> the objective; nullopt for
// anything else. The last ':' splits, so metric names may hold colons. A config's `objectives`
// refuses a metric without a direction; `bare_maximises` reads the configs stored by older versions,
// which maximised it.
inline std::optional<Objective> parse_objective(const std::string& item, bool bare_maximises = false) {
  const auto trimmed = [](const std::string& text) {
    const std::size_t begin = text.find_first_not_of(" \t");
    return begin == std::string::npos ? std::string() : text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
  };
  const std::size_t colon = item.rfind(':');
  if (colon == std::string::npos) {
    if (!bare_maximises || trimmed(item).empty()) return std::nullopt;
    return Objective{trimmed(item), true};
  }
  const std::string metric = trimmed(item.substr(0, colon)), direction = trimmed(item.substr(colon + 1));
  if (metric.empty() || (direction != "max" && direction != "min")) return std::nullopt;
  return Objective{metric, direction == "max"};
}

}  // namespace nascent
