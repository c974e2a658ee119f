#pragma once
// Asynchronous successive halving (ASHA, Li et al. 2020): whenever a worker is free, promote a
// candidate that is in the top 1/reduction of its rung's results so far and has not been promoted,
// from the highest rung down; when none is, start a new candidate at the smallest rung. No job
// ever waits for a rung to fill, so every worker stays busy.
#include "strategies/fidelity_schedule.hpp"

namespace nascent {

class Asha final : public FidelitySchedule {
 public:
  Asha(std::vector<std::int64_t> rungs, double reduction, CandidateSampler sampler);
  std::optional<FidelityJob> next(Rng& rng) override;
  void tell(std::int64_t job, std::optional<double> fitness) override;
  bool finished() const override { return exhausted_ && promotable() == rungs_.size(); }

 private:
  // The lowest rung below the top with a promotable result, scanning from the top; rungs_.size() when none.
  std::size_t promotable() const;
  std::vector<std::int64_t> rungs_;
  double reduction_;
  CandidateSampler sampler_;
  std::vector<std::vector<RungResult>> results_;  // per rung, the told results
  std::vector<FidelityJob> jobs_;                 // every scheduled job, by id
  bool exhausted_ = false;
};

}  // namespace nascent
