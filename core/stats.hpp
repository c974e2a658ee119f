#pragma once
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace nascent {

inline double sample_mean(const std::vector<double>& values) {
  if (values.empty()) return NAN;
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

// The standard error of sample_mean (n - 1 in the variance); NaN for fewer than two values.
inline double standard_error_of_mean(const std::vector<double>& values) {
  if (values.size() < 2) return NAN;
  const double m = sample_mean(values);
  double squares = 0;
  for (double v : values) squares += (v - m) * (v - m);
  const double n = static_cast<double>(values.size());
  return std::sqrt(squares / (n - 1) / n);
}

// Ranks from 1, ties sharing their average rank (as scipy.stats.rankdata).
inline std::vector<double> average_ranks(const std::vector<double>& values) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    for (std::size_t k = i; k <= j; ++k) ranks[order[k]] = (static_cast<double>(i + j) / 2) + 1;
    i = j + 1;
  }
  return ranks;
}

inline double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

// Spearman's rho over the pairs where both values are finite (NaN when fewer than 3).
inline double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<double> a, b;
  for (std::size_t i = 0; i < x.size() && i < y.size(); ++i)
    if (std::isfinite(x[i]) && std::isfinite(y[i])) a.push_back(x[i]), b.push_back(y[i]);
  if (a.size() < 3) return std::nan("");
  return pearson(average_ranks(a), average_ranks(b));
}

// Kendall's tau-b (ties in either variable corrected, as scipy.stats.kendalltau), O(n^2).
inline double kendall_tau(const std::vector<double>& x, const std::vector<double>& y) {
  double concordant = 0, discordant = 0, tied_x = 0, tied_y = 0;
  const std::size_t n = std::min(x.size(), y.size());
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      const double dx = x[i] - x[j], dy = y[i] - y[j];
      if (dx == 0 && dy == 0) continue;
      if (dx == 0) tied_x += 1;
      else if (dy == 0) tied_y += 1;
      else if ((dx > 0) == (dy > 0)) concordant += 1;
      else discordant += 1;
    }
  const double denominator = std::sqrt((concordant + discordant + tied_x) * (concordant + discordant + tied_y));
  return denominator > 0 ? (concordant - discordant) / denominator : std::nan("");
}

// Rescales each column of `rows` to zero mean and unit standard deviation (population); a
// constant column is only centred.
inline void standardize_columns(std::vector<std::vector<double>>& rows) {
  if (rows.empty()) return;
  const double n = static_cast<double>(rows.size());
  for (std::size_t d = 0; d < rows.front().size(); ++d) {
    double mean = 0, square = 0;
    for (const auto& x : rows) mean += x[d];
    mean /= n;
    for (const auto& x : rows) square += (x[d] - mean) * (x[d] - mean);
    double spread = std::sqrt(square / n);
    if (!(spread > 1e-12)) spread = 1;
    for (auto& x : rows) x[d] = (x[d] - mean) / spread;
  }
}

}  // namespace nascent
