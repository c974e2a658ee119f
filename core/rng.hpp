#pragma once
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace nascent {

// One engine type everywhere so that a seed means the same thing in every component.
using Rng = std::mt19937_64;

// libstdc++'s distributions are deterministic for a given engine state, but we keep the few draws
// we need in plain functions so results do not depend on distribution implementation details.
inline std::uint64_t uniform_index(Rng& rng, std::uint64_t n) {
  // Rejection sampling: unbiased and portable.
  const std::uint64_t limit = Rng::max() - (Rng::max() % n);
  std::uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return x % n;
}

inline double uniform_real(Rng& rng) {
  return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
}

template <typename T>
const T& pick(Rng& rng, const std::vector<T>& items) {
  return items[uniform_index(rng, items.size())];
}

// 0 .. n-1 in the order of a Fisher-Yates shuffle from the top (swap i with a draw from [0, i]),
// the fixed permutation data splits and benchmark samples are taken from.
inline std::vector<std::int64_t> shuffled_indices(std::int64_t n, Rng& rng) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[i] = i;
  for (std::int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[uniform_index(rng, i + 1)]);
  return order;
}

// Derives an independent stream (e.g. one per candidate) from a run seed, so that parallel
// evaluation order cannot change any candidate's randomness.
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace nascent
