#pragma once
// A capability an evaluator may implement: it knows before evaluating anything every metric it
// can report, so a run refuses an objective it would never see before anything is written.
// Evaluators without it are checked on their first evaluation instead.
#include <string>
#include <vector>

#include "core/search_space.hpp"

namespace nascent {

// A capability an evaluator may implement: the task its networks are built for (input shape,
// classes). Metrics computable without training (params, flops) are measured for it before a
// candidate is evaluated, so that a constraint on them costs nothing; evaluators without it are
// taken to run the space's default input with 10 classes (the benchmark tables' setting).
class EvaluatesTask {
 public:
  virtual ~EvaluatesTask() = default;
  virtual Task evaluation_task() const = 0;
};

class ReportsMetrics {
 public:
  virtual ~ReportsMetrics() = default;
  // Every metric some evaluation may carry (a failed one carries fewer).
  virtual std::vector<std::string> reported_metrics() const = 0;
};

}  // namespace nascent
