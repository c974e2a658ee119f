#pragma once
#include <optional>
#include <string>
#include <vector>

#include "results/store.hpp"

namespace nascent {

// One objective of a Pareto query: a metric and whether larger is better.
struct Objective {
  std::string metric;
  bool maximize = true;
};

// "val_acc:max,params:min" -> objectives; throws Error on a malformed list or fewer than two.
std::vector<Objective> parse_objectives(const std::string& text);

// Value of `metric` for an evaluation: the stored fitness for "fitness", else the named metric.
std::optional<double> metric_value(const StoredEvaluation& e, const std::string& metric);

// The best k successful evaluations by metric (descending, or ascending when !maximize);
// evaluations without a finite value are left out. Ties keep storage order.
std::vector<StoredEvaluation> top_k(std::vector<StoredEvaluation> evaluations, std::size_t k, const std::string& metric,
                                    bool maximize);

// The successful evaluations that no other one dominates on all objectives.
std::vector<StoredEvaluation> pareto_front(const std::vector<StoredEvaluation>& evaluations,
                                           const std::vector<Objective>& objectives);

// Serialisations shared by every listing. JSON: an array of objects with run, seq, space, arch,
// fingerprint, ok, error, fitness, cost, seconds, device and metrics (non-finite numbers as null).
std::string evaluations_to_json(const std::vector<StoredEvaluation>& evaluations);
std::string evaluations_to_csv(const std::vector<StoredEvaluation>& evaluations);
std::string evaluations_to_table(const std::vector<StoredEvaluation>& evaluations, const std::vector<std::string>& metrics);
std::string runs_to_json(const std::vector<RunRecord>& runs);
std::string runs_to_csv(const std::vector<RunRecord>& runs);
std::string runs_to_table(const std::vector<RunRecord>& runs);

// RFC 4180 quoting for one CSV field.
std::string csv_field(const std::string& text);

}  // namespace nascent
