#include "strategies/asha.hpp"

#include <cmath>

#include "core/error.hpp"

namespace nascent {

Asha::Asha(std::vector<std::int64_t> rungs, double reduction, CandidateSampler sampler)
    : rungs_(std::move(rungs)), reduction_(reduction), sampler_(std::move(sampler)), results_(rungs_.size()) {
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

std::optional<FidelityJob> Asha::next(Rng& rng) {
  FidelityJob job;
  job.id = static_cast<std::int64_t>(jobs_.size());
  if (const std::size_t k = promotable(); k < rungs_.size()) {
    std::vector<RungResult>& rung = results_[k];
    const auto top = static_cast<std::size_t>(std::floor(static_cast<double>(rung.size()) / reduction_));
    const std::vector<std::size_t> order = ranked(rung);
    for (std::size_t i = 0; i < top; ++i) {
      RungResult& candidate = rung[order[i]];
      if (!candidate.fitness || candidate.promoted) continue;
      candidate.promoted = true;
      job.arch = candidate.arch;
      job.rung = k + 1;
      job.continues = candidate.job;
      job.origin = candidate.origin;
      break;
    }
  } else {
    if (exhausted_) return std::nullopt;
    job.arch = sampler_(rng);
    if (job.arch.empty()) {
      exhausted_ = true;  // nothing new to draw; promotions may still come as results arrive
      return std::nullopt;
    }
    job.rung = 0;
    job.origin = job.id;
  }
  job.epochs = rungs_[job.rung];
  jobs_.push_back(job);
  return job;
}

void Asha::tell(std::int64_t id, std::optional<double> fitness) {
  if (id < 0 || static_cast<std::size_t>(id) >= jobs_.size()) throw Error("asha: result for unknown job " + std::to_string(id));
  const FidelityJob& job = jobs_[static_cast<std::size_t>(id)];
  results_[job.rung].push_back(RungResult{job.id, job.arch, fitness, job.origin, false});
}

}  // namespace nascent
