#pragma once
#include <unordered_map>

#include "evaluators/evaluator.hpp"

namespace nascent {

// Looks architectures up in a table of published results (a CSV such as NAS-Bench-201's), so a
// strategy can be benchmarked in seconds. The metric column becomes the search metric, `report`
// columns are recorded beside it and the `cost` column is what the budget is charged.
class TableEvaluator : public Evaluator {
 public:
  struct Options {
    std::string path;
    std::string key = "arch";
    std::string metric;
    std::vector<std::string> report;
    std::string cost;  // empty: every query costs 0
  };
  explicit TableEvaluator(Options options);
  static std::unique_ptr<Evaluator> from_config(const Config& config, const EvaluatorContext& context);

  std::string name() const override { return "table"; }
  Evaluation evaluate(const SearchSpace& space, const std::string& arch, std::uint64_t seed) override;
  std::size_t rows() const { return rows_.size(); }

 private:
  struct Row {
    std::map<std::string, double> metrics;
    double cost = 0;
  };
  Options options_;
  std::unordered_map<std::string, Row> rows_;  // read-only after construction: lookups are thread-safe
};

// Splits one CSV record (RFC 4180 quoting). Throws Error on an unterminated quote.
std::vector<std::string> split_csv_line(const std::string& line);

}  // namespace nascent
