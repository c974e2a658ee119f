#pragma once
// A capability an evaluator may implement: it knows before evaluating anything every metric it
// can report, so a run refuses an objective it would never see before anything is written.
// Evaluators without it are checked on their first evaluation instead.
#include <string>
#include <vector>

namespace nascent {

class ReportsMetrics {
 public:
  virtual ~ReportsMetrics() = default;
  // Every metric some evaluation may carry (a failed one carries fewer).
  virtual std::vector<std::string> reported_metrics() const = 0;
};

}  // namespace nascent
