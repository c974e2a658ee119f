#include "strategies/metric_pool.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_set>

#include "core/error.hpp"
#include "evaluators/table_evaluator.hpp"

namespace nascent {

void MetricPool::add(const std::string& arch, const std::map<std::string, double>& scores) {
  archs.push_back(arch);
  std::vector<double> row;
  for (const auto& metric : metrics) {
    auto it = scores.find(metric);
    row.push_back(it == scores.end() ? std::numeric_limits<double>::quiet_NaN() : it->second);
  }
  values.push_back(std::move(row));
}

MetricPool min_max_normalised(const MetricPool& pool) {
  MetricPool out = pool;
  for (std::size_t m = 0; m < pool.metrics.size(); ++m) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& row : pool.values)
      if (std::isfinite(row[m])) lo = std::min(lo, row[m]), hi = std::max(hi, row[m]);
    for (auto& row : out.values) {
      if (!std::isfinite(row[m])) row[m] = std::numeric_limits<double>::quiet_NaN();
      else if (hi > lo) row[m] = (row[m] - lo) / (hi - lo);
    }
  }
  return out;
}

std::vector<std::size_t> rank_by_weights(const MetricPool& pool, const std::vector<double>& weights) {
  if (weights.size() != pool.metrics.size()) throw Error("rank_by_weights: one weight per metric expected");
  std::vector<double> score(pool.size(), 0);
  for (std::size_t a = 0; a < pool.size(); ++a)
    for (std::size_t m = 0; m < weights.size(); ++m)
      if (std::isfinite(pool.values[a][m])) score[a] += weights[m] * pool.values[a][m];
  std::vector<std::size_t> order(pool.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return score[a] < score[b]; });
  std::reverse(order.begin(), order.end());
  return order;
}

MetricPool read_metric_table(const std::string& path, const std::string& key, const std::vector<std::string>& metrics,
                             const SearchSpace& space) {
  CsvFile file(path, "metric table '" + path + "'");
  const std::size_t key_column = file.column(key, "key");
  std::vector<std::size_t> metric_columns;
  for (const auto& m : metrics) metric_columns.push_back(file.column(m, "metric"));
  MetricPool pool;
  pool.metrics = metrics;
  std::unordered_set<std::string> seen;
  for (std::vector<std::string> cells; file.reader.next(cells);) {
    const std::string where = file.source + " line " + std::to_string(file.reader.line());
    if (cells.size() != file.header.size())
      throw Error(where + ": " + std::to_string(cells.size()) + " fields, the header has " +
                  std::to_string(file.header.size()));
    std::string arch;
    try {
      arch = space.canonical(cells[key_column]);
    } catch (const std::exception& error) {
      throw Error(where + ": " + error.what());
    }
    if (!seen.insert(arch).second) throw Error(where + ": duplicate architecture " + arch);
    std::vector<double> row;
    for (std::size_t m = 0; m < metrics.size(); ++m) {
      const std::string& text = cells[metric_columns[m]];
      // A score that could not be computed is written as an empty cell, nan or inf; it stays non-finite.
      std::string lower;
      for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower.empty() || lower == "nan" || lower == "-nan") row.push_back(std::numeric_limits<double>::quiet_NaN());
      else if (lower == "inf" || lower == "+inf") row.push_back(std::numeric_limits<double>::infinity());
      else if (lower == "-inf") row.push_back(-std::numeric_limits<double>::infinity());
      else if (const auto value = parse_csv_number(text)) row.push_back(*value);
      else throw Error(where + ": column " + metrics[m] + ": '" + text + "' is not a number");
    }
    pool.archs.push_back(arch);
    pool.values.push_back(std::move(row));
  }
  if (pool.archs.empty()) throw Error(file.source + ": no rows");
  return pool;
}

std::vector<std::string> pool_candidates(const SearchSpace& space, std::size_t size, Rng& rng) {
  if (size == 0) {
    std::vector<std::string> all = space.enumerate();
    if (all.empty()) throw Error("space " + space.name() + " cannot list itself: give the strategy a pool size");
    for (auto& arch : all) arch = space.canonical(arch);
    return all;
  }
  std::vector<std::string> pool;
  std::unordered_set<std::string> seen;
  // A small space may hold fewer than `size` architectures: stop after many fruitless draws.
  for (std::size_t tries = 0; pool.size() < size && tries < 100 * size; ++tries) {
    std::string arch = space.canonical(space.sample(rng));
    if (seen.insert(arch).second) pool.push_back(arch);
  }
  return pool;
}

}  // namespace nascent
