#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/search_space.hpp"

namespace nascent {

// Candidates with training-free metric values, for strategies that rank a whole pool by them
// (training-free search, RoBoT). Values may be NaN (a failed or missing score).
struct MetricPool {
  std::vector<std::string> archs;    // canonical strings
  std::vector<std::string> metrics;  // column order of `values`
  std::vector<std::vector<double>> values;  // [candidate][metric]

  std::size_t size() const { return archs.size(); }
  void add(const std::string& arch, const std::map<std::string, double>& scores);
};

// Per metric, (x - min) / (max - min) over the finite values of the pool; a constant metric is
// left unchanged and non-finite values become NaN (RoBoT's normalisation).
MetricPool min_max_normalised(const MetricPool& pool);

// S(a; w) = sum_m w_m x_m(a), NaN terms skipped; the pool's indices from the highest S down.
// Ties keep the later candidate first, as numpy's flip(argsort()) does for a stable sort.
std::vector<std::size_t> rank_by_weights(const MetricPool& pool, const std::vector<double>& weights);

// Reads a CSV with one row per architecture: the `key` column (canonicalised by `space`; rows
// the space cannot parse are an Error naming the line) and one column per metric.
MetricPool read_metric_table(const std::string& path, const std::string& key, const std::vector<std::string>& metrics,
                             const SearchSpace& space);

// The candidates to score for a pool: the whole space when `size` is 0 and the space can list
// itself, otherwise `size` distinct samples.
std::vector<std::string> pool_candidates(const SearchSpace& space, std::size_t size, Rng& rng);

}  // namespace nascent
