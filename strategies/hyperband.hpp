#pragma once
// Successive halving (Jamieson & Talwalkar 2016) and Hyperband (Li et al. 2018) over training
// epochs: synchronous schedules, where a rung's survivors are chosen once every candidate of the
// rung has its result.
#include <deque>
#include <memory>

#include "strategies/fidelity_schedule.hpp"

namespace nascent {

// One bracket: `candidates` new candidates at rung `first`, then the best 1/reduction of each rung
// (at least one) continue to the next, until the last rung.
class SuccessiveHalving final : public FidelitySchedule {
 public:
  SuccessiveHalving(std::vector<std::int64_t> rungs, std::size_t first, std::size_t candidates, double reduction,
                    CandidateSampler sampler);
  std::optional<FidelityJob> next(Rng& rng) override { return next_numbered(rng, next_id_); }
  // The same, numbering the job `id` (Hyperband numbers the jobs of all its brackets in one sequence).
  std::optional<FidelityJob> next_numbered(Rng& rng, std::int64_t id);
  void tell(std::int64_t job, std::optional<double> fitness) override;
  bool finished() const override { return finished_; }

 private:
  // Chooses the survivors of a rung whose results are all told.
  void complete_rung();

  std::vector<std::int64_t> rungs_;
  std::size_t rung_, first_;
  std::size_t expected_;  // the jobs the current rung holds once it is filled
  double reduction_;
  CandidateSampler sampler_;
  std::int64_t next_id_ = 0;
  std::vector<RungResult> current_;     // the current rung's jobs handed out, told or not
  std::size_t told_ = 0;
  std::deque<FidelityJob> promotions_;  // the current rung's jobs, not yet handed out
  bool finished_ = false;
};

// Hyperband: brackets from the most aggressive (many candidates from the smallest rung) to plain
// full training (few candidates at the largest), each a successive halving with the paper's counts
// n = ceil((s_max + 1) / (s + 1) * reduction^s). A bracket that waits for its rung's results lets
// the next one start, so workers stay busy. After the last bracket the brackets start again, for
// `passes` passes in all (0: until the budget ends, as the paper's experiments repeat Hyperband).
class Hyperband final : public FidelitySchedule {
 public:
  Hyperband(std::vector<std::int64_t> rungs, double reduction, CandidateSampler sampler, std::size_t passes = 1);
  std::optional<FidelityJob> next(Rng& rng) override;
  void tell(std::int64_t job, std::optional<double> fitness) override;
  bool finished() const override;
  // The candidates each bracket starts with, most aggressive first.
  const std::vector<std::size_t>& bracket_sizes() const { return sizes_; }

 private:
  std::vector<std::int64_t> rungs_;
  double reduction_;
  CandidateSampler sampler_;
  std::size_t passes_;
  std::vector<std::size_t> sizes_;
  std::vector<std::unique_ptr<SuccessiveHalving>> open_;  // started brackets, in order
  std::vector<std::size_t> owner_;                          // job id -> index into open_
  std::int64_t next_id_ = 0;
  bool exhausted_ = false;  // the sampler has nothing new
};

}  // namespace nascent
