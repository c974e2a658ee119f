#pragma once
// Multi-fidelity schedules over training epochs: which candidate trains next and to how many
// epochs. Successive halving and Hyperband (strategies/hyperband.hpp) and ASHA
// (strategies/asha.hpp) decide; the multi-fidelity method (strategies/multi_fidelity_method.cpp)
// trains, stores and tells the results back in the order the jobs were scheduled, so a schedule is
// a plain deterministic state machine that never sees a thread.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/rng.hpp"

namespace nascent {

// One training job: `arch` trained until `epochs` epochs are done in all.
struct FidelityJob {
  std::int64_t id = 0;  // the order it was scheduled in, from 0: the evaluation's seq
  std::string arch;
  std::size_t rung = 0;     // index into the schedule's rungs
  std::int64_t epochs = 0;  // rungs[rung]
  // A promotion continues the trained state of the job that reached the rung below; the first
  // job of a candidate (`origin` == id) trains from scratch.
  std::optional<std::int64_t> continues;
  std::int64_t origin = 0;  // the candidate's first job: its seed, so that continuing matches training straight through
};

// Draws a new candidate (canonical, not drawn before, within the static constraints), or "" when
// the space has none left.
using CandidateSampler = std::function<std::string(Rng&)>;

class FidelitySchedule {
 public:
  virtual ~FidelitySchedule() = default;
  // The next job, its id the number of jobs scheduled before it; nothing when no job can start
  // until a result still owed is told (a synchronous rung), or ever again (finished()).
  virtual std::optional<FidelityJob> next(Rng& rng) = 0;
  // A scheduled job's outcome: larger is better; nothing for a failed or infeasible one, which is
  // never promoted.
  virtual void tell(std::int64_t job, std::optional<double> fitness) = 0;
  // No job will ever be scheduled again.
  virtual bool finished() const = 0;
  // The epochs an epoch budget leaves for jobs not scheduled yet, told before each next() (nothing
  // without an epoch budget). A schedule may spend the last of them differently.
  virtual void set_epochs_left(std::optional<double> /*epochs*/) {}
};

// The rungs' epochs: the largest is max_epochs, each below it `reduction` times smaller (rounded),
// the smallest at least min_epochs. Throws Error for min_epochs < 1, max_epochs < min_epochs or
// reduction <= 1.
std::vector<std::int64_t> fidelity_rungs(std::int64_t min_epochs, std::int64_t max_epochs, double reduction);

// A rung's results ranked best first (failed ones last, ties by job id): what successive halving
// and ASHA promote from.
struct RungResult {
  std::int64_t job = 0;
  std::string arch;
  std::optional<double> fitness;
  std::int64_t origin = 0;
  bool promoted = false;
};
std::vector<std::size_t> ranked(const std::vector<RungResult>& rung);

}  // namespace nascent
