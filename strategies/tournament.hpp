#pragma once
// A tournament without replacement, as regularised evolution holds it: `contestants` distinct
// members of a population of `size`, drawn by a partial Fisher-Yates shuffle; the winner is the
// one no later contestant is `better` than. `order` is scratch space, reused across calls.
#include <algorithm>
#include <cstddef>
#include <numeric>
#include <vector>

#include "core/rng.hpp"

namespace nascent {

template <typename Better>
std::size_t tournament_without_replacement(std::size_t size, std::size_t contestants, Rng& rng, std::vector<std::size_t>& order,
                                           const Better& better) {
  order.resize(size);
  std::iota(order.begin(), order.end(), 0);
  contestants = std::min(contestants, size);
  std::size_t best = 0;
  for (std::size_t i = 0; i < contestants; ++i) {
    std::swap(order[i], order[i + uniform_index(rng, order.size() - i)]);
    if (i == 0 || better(order[i], best)) best = order[i];
  }
  return best;
}

}  // namespace nascent
