#include "strategies/asha.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace nascent {

Asha::Asha(std::vector<std::int64_t> rungs, double reduction, CandidateSampler sampler, bool endgame)
    : rungs_(std::move(rungs)), reduction_(reduction), sampler_(std::move(sampler)), results_(rungs_.size()), endgame_(endgame) {
  if (rungs_.empty()) throw Error("asha: no rungs");
}

std::size_t Asha::promotable() const {
  for (std::size_t k = rungs_.size() - 1; k-- > 0;) {
    const std::vector<RungResult>& rung = results_[k];
    // Only the top 1/reduction of the results so far may move up (the paper's top_k(rung, |rung|/eta)).
    const auto top = static_cast<std::size_t>(std::floor(static_cast<double>(rung.size()) / reduction_));
    const std::vector<std::size_t> order = ranked(rung);
    for (std::size_t i = 0; i < top; ++i)
      if (rung[order[i]].fitness && !rung[order[i]].promoted) return k;
  }
  return rungs_.size();
}

double Asha::usable_epochs() const {
  if (!endgame_ || !epochs_left_) return INFINITY;
  double left = *epochs_left_;
  for (std::size_t id = 0; id < jobs_.size(); ++id)
    if (endgame_job_[id] && !told_[id]) left -= to_top(jobs_[id].rung);
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
  if (const std::size_t k = promotable(); k < rungs_.size() && to_top(k) <= usable) {
    std::vector<RungResult>& rung = results_[k];
    const auto top = static_cast<std::size_t>(std::floor(static_cast<double>(rung.size()) / reduction_));
    const std::vector<std::size_t> order = ranked(rung);
    for (std::size_t i = 0; i < top && !job; ++i) {
      RungResult& candidate = rung[order[i]];
      if (candidate.fitness && !candidate.promoted) job = promote(candidate, k, id);
    }
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
    for (std::size_t k = rungs_.size() - 1; k-- > 0 && to_top(k) <= usable && !job;) {
      std::vector<RungResult>& rung = results_[k];
      for (const std::size_t i : ranked(rung)) {
        RungResult& candidate = rung[i];
        if (candidate.fitness && !candidate.promoted) {
          job = promote(candidate, k, id);
          break;
        }
      }
    }
    if (!job) {
      // Nothing fits now; once every job is told, nothing ever will.
      spent_ = std::all_of(told_.begin(), told_.end(), [](bool told) { return told; });
      return std::nullopt;
    }
    in_endgame = true;
  }
  job->epochs = rungs_[job->rung];
  jobs_.push_back(*job);
  told_.push_back(false);
  endgame_job_.push_back(in_endgame);
  return job;
}

void Asha::tell(std::int64_t id, std::optional<double> fitness) {
  if (id < 0 || static_cast<std::size_t>(id) >= jobs_.size()) throw Error("asha: result for unknown job " + std::to_string(id));
  const FidelityJob& job = jobs_[static_cast<std::size_t>(id)];
  told_[static_cast<std::size_t>(id)] = true;
  results_[job.rung].push_back(RungResult{job.id, job.arch, fitness, job.origin, false});
}

}  // namespace nascent
