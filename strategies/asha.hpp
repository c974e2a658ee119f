#pragma once
// Asynchronous successive halving (ASHA, Li et al. 2020): whenever a worker is free, promote a
// candidate that is in the top 1/reduction of its rung's results so far and has not been promoted,
// from the highest rung down; when none is, start a new candidate at the smallest rung. No job
// ever waits for a rung to fill, so every worker stays busy.
//
// With an epoch budget and `endgame` on, the last epochs go where they still produce a result at
// the top rung: once the budget left cannot carry a new candidate (or the promotion ASHA would
// choose) up to the top, a free worker continues the best unpromoted result of the highest rung
// that still fits instead, even outside its rung's top 1/reduction. Without it a budget ends on
// candidates that stop part way, whose training the final answer never uses.
#include <set>

#include "strategies/fidelity_schedule.hpp"

namespace nascent {

class Asha final : public FidelitySchedule {
 public:
  Asha(std::vector<std::int64_t> rungs, double reduction, CandidateSampler sampler, bool endgame = false);
  std::optional<FidelityJob> next(Rng& rng) override;
  void tell(std::int64_t job, std::optional<double> fitness) override;
  bool finished() const override { return spent_ || (exhausted_ && !promotable()); }
  void set_epochs_left(std::optional<double> epochs) override { epochs_left_ = epochs; }

 private:
  struct Promotion {
    std::size_t rung;
    std::size_t index;  // in results_[rung]
  };
  // The best promotable result of the highest rung below the top that has one.
  std::optional<Promotion> promotable() const;
  // How many of rung k's results so far are in its top 1/reduction.
  std::size_t top_count(std::size_t k) const;
  // Epochs from the end of rung k's training to the top rung's.
  double to_top(std::size_t k) const { return static_cast<double>(rungs_.back() - rungs_[k]); }
  // The epoch budget left once the endgame jobs still training are carried to the top.
  double usable_epochs() const;
  FidelityJob promote(RungResult& candidate, std::size_t from_rung, std::int64_t id);
  std::vector<std::int64_t> rungs_;
  double reduction_;
  CandidateSampler sampler_;
  std::vector<std::vector<RungResult>> results_;  // per rung, the told results
  std::vector<FidelityJob> jobs_;                 // every scheduled job, by id
  bool exhausted_ = false;
  bool endgame_;
  std::optional<double> epochs_left_;
  std::set<std::int64_t> endgame_training_;  // jobs the endgame scheduled, not told yet
  bool spent_ = false;                        // the endgame found nothing more that fits
};

}  // namespace nascent
