#include "strategies/fidelity_schedule.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace nascent {

std::vector<std::int64_t> fidelity_rungs(std::int64_t min_epochs, std::int64_t max_epochs, double reduction) {
  if (min_epochs < 1) throw Error("config: strategy.min_epochs must be at least 1");
  if (max_epochs < min_epochs) throw Error("config: strategy.max_epochs must be at least min_epochs");
  if (!(reduction > 1)) throw Error("config: strategy.reduction must be above 1");
  std::vector<std::int64_t> rungs{max_epochs};
  for (double epochs = static_cast<double>(max_epochs) / reduction; epochs >= static_cast<double>(min_epochs) - 1e-9; epochs /= reduction) {
    const std::int64_t rounded = std::max<std::int64_t>(min_epochs, std::llround(epochs));
    if (rounded < rungs.back()) rungs.push_back(rounded);
  }
  std::reverse(rungs.begin(), rungs.end());
  return rungs;
}

std::vector<std::size_t> ranked(const std::vector<RungResult>& rung) {
  std::vector<std::size_t> order(rung.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto& x = rung[a].fitness;
    const auto& y = rung[b].fitness;
    if (x.has_value() != y.has_value()) return x.has_value();
    if (x && *x != *y) return *x > *y;
    return rung[a].job < rung[b].job;
  });
  return order;
}

}  // namespace nascent
