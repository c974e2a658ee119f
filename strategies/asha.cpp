#include "strategies/asha.hpp"

#include <cmath>

#include "core/error.hpp"

namespace nascent {

Asha::Asha(std::vector<std::int64_t> rungs, double reduction, CandidateSampler sampler, bool endgame)
    : rungs_(std::move(rungs)), reduction_(reduction), sampler_(std::move(sampler)), results_(rungs_.size()), endgame_(endgame) {
  if (rungs_.empty()) throw Error("asha: no rungs");
}

namespace {

// Among the first `limit` of a rung's results ranked best first, the best that succeeded and has
// not moved up yet: its index in the rung.
std::optional<std::size_t> best_unpromoted(const std::vector<RungResult>& rung, std::size_t limit) {
  const std::vector<std::size_t> order = ranked(rung);
  for (std::size_t i = 0; i < limit && i < order.size(); ++i)
    if (rung[order[i]].fitness && !rung[order[i]].promoted) return order[i];
  return std::nullopt;
}

}  // namespace

std::size_t Asha::top_count(std::size_t k) const {
  // Only the top 1/reduction of the results so far may move up (the paper's top_k(rung, |rung|/eta)).
  return static_cast<std::size_t>(std::floor(static_cast<double>(results_[k].size()) / reduction_));
}

std::optional<Asha::Promotion> Asha::promotable() const {
  for (std::size_t k = rungs_.size() - 1; k-- > 0;)
    if (const auto i = best_unpromoted(results_[k], top_count(k))) return Promotion{k, *i};
  return std::nullopt;
}

double Asha::usable_epochs() const {
  if (!endgame_ || !epochs_left_) return INFINITY;
  double left = *epochs_left_;
  for (const std::int64_t id : endgame_training_) left -= to_top(jobs_[static_cast<std::size_t>(id)].rung);
  return left;
}

FidelityJob Asha::promote(RungResult& candidate, std::size_t from_rung, std::int64_t id) {
  candidate.promoted = true;
  FidelityJob job;
  job.id = id;
  job.arch = candidate.arch;
  job.rung = from_rung + 1;
  job.continues = candidate.job;
  job.origin = candidate.origin;
  return job;
}

std::optional<FidelityJob> Asha::next(Rng& rng) {
  const auto id = static_cast<std::int64_t>(jobs_.size());
  const double usable = usable_epochs();
  std::optional<FidelityJob> job;
  bool in_endgame = false;
  if (const auto promotion = promotable(); promotion && to_top(promotion->rung) <= usable) {
    job = promote(results_[promotion->rung][promotion->index], promotion->rung, id);
  } else if (static_cast<double>(rungs_.back()) <= usable) {
    if (exhausted_) return std::nullopt;
    FidelityJob fresh;
    fresh.id = id;
    fresh.arch = sampler_(rng);
    if (fresh.arch.empty()) {
      exhausted_ = true;  // nothing new to draw; promotions may still come as results arrive
      return std::nullopt;
    }
    fresh.rung = 0;
    fresh.origin = id;
    job = fresh;
  } else {
    // The endgame: the best unpromoted result of the highest rung whose way to the top still fits.
    for (std::size_t k = rungs_.size() - 1; k-- > 0 && to_top(k) <= usable && !job;)
      if (const auto i = best_unpromoted(results_[k], results_[k].size())) job = promote(results_[k][*i], k, id);
    if (!job) {
      // Nothing fits now; once every job is told, nothing ever will.
      std::size_t told = 0;
      for (const auto& rung : results_) told += rung.size();
      spent_ = told == jobs_.size();
      return std::nullopt;
    }
    in_endgame = true;
  }
  job->epochs = rungs_[job->rung];
  jobs_.push_back(*job);
  if (in_endgame) endgame_training_.insert(id);
  return job;
}

void Asha::tell(std::int64_t id, std::optional<double> fitness) {
  if (id < 0 || static_cast<std::size_t>(id) >= jobs_.size()) throw Error("asha: result for unknown job " + std::to_string(id));
  const FidelityJob& job = jobs_[static_cast<std::size_t>(id)];
  endgame_training_.erase(id);
  results_[job.rung].push_back(RungResult{job.id, job.arch, fitness, job.origin, false});
}

}  // namespace nascent
