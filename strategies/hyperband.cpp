#include "strategies/hyperband.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace nascent {

SuccessiveHalving::SuccessiveHalving(std::vector<std::int64_t> rungs, std::size_t first, std::size_t candidates, double reduction,
                                     CandidateSampler sampler)
    : rungs_(std::move(rungs)), rung_(first), first_(first), expected_(candidates), reduction_(reduction), sampler_(std::move(sampler)) {
  if (rung_ >= rungs_.size()) throw Error("successive halving: no rung " + std::to_string(rung_));
  if (candidates < 1) throw Error("config: strategy.candidates must be at least 1");
}

std::optional<FidelityJob> SuccessiveHalving::next_numbered(Rng& rng, std::int64_t id) {
  if (finished_) return std::nullopt;
  FidelityJob job;
  if (!promotions_.empty()) {
    job = promotions_.front();
    promotions_.pop_front();
  } else if (rung_ == first_ && current_.size() < expected_) {
    // The bracket's first rung: new candidates.
    job.arch = sampler_(rng);
    if (job.arch.empty()) {
      // The space has fewer candidates than the bracket wants: the rung holds those it has.
      expected_ = current_.size();
      if (told_ == expected_) complete_rung();
      return promotions_.empty() ? std::nullopt : next_numbered(rng, id);
    }
    job.rung = rung_;
    job.epochs = rungs_[rung_];
  } else {
    return std::nullopt;  // waiting for the rung's results
  }
  job.id = id;
  if (!job.continues) job.origin = id;
  next_id_ = std::max(next_id_, id + 1);
  current_.push_back(RungResult{id, job.arch, std::nullopt, job.origin, false});
  return job;
}

void SuccessiveHalving::tell(std::int64_t job, std::optional<double> fitness) {
  auto it = std::find_if(current_.begin(), current_.end(), [&](const RungResult& r) { return r.job == job; });
  if (it == current_.end()) throw Error("successive halving: result for job " + std::to_string(job) + ", which is not in the current rung");
  it->fitness = fitness;
  if (++told_ == expected_) complete_rung();
}

void SuccessiveHalving::complete_rung() {
  if (current_.empty() || rung_ + 1 >= rungs_.size()) {
    finished_ = true;
    return;
  }
  const std::vector<std::size_t> order = ranked(current_);
  const std::size_t keep = std::max<std::size_t>(1, static_cast<std::size_t>(std::floor(static_cast<double>(current_.size()) / reduction_)));
  ++rung_;
  for (std::size_t i = 0; i < keep && i < order.size(); ++i) {
    const RungResult& survivor = current_[order[i]];
    if (!survivor.fitness) break;  // failed candidates never continue
    FidelityJob promoted;
    promoted.arch = survivor.arch;
    promoted.rung = rung_;
    promoted.epochs = rungs_[rung_];
    promoted.continues = survivor.job;
    promoted.origin = survivor.origin;
    promotions_.push_back(promoted);
  }
  current_.clear();
  told_ = 0;
  expected_ = promotions_.size();
  if (promotions_.empty()) finished_ = true;
}

Hyperband::Hyperband(std::vector<std::int64_t> rungs, double reduction, CandidateSampler sampler, std::size_t passes)
    : rungs_(std::move(rungs)), reduction_(reduction), sampler_(std::move(sampler)), passes_(passes) {
  const std::size_t s_max = rungs_.size() - 1;
  for (std::size_t s = s_max + 1; s-- > 0;)
    sizes_.push_back(static_cast<std::size_t>(
        std::ceil(static_cast<double>(s_max + 1) / static_cast<double>(s + 1) * std::pow(reduction_, static_cast<double>(s)) - 1e-9)));
}

std::optional<FidelityJob> Hyperband::next(Rng& rng) {
  // The earliest started bracket with a job ready goes first; a new bracket opens only when
  // every open one is waiting.
  for (std::size_t b = 0;; ++b) {
    if (b == open_.size()) {
      if (exhausted_) return std::nullopt;
      if (passes_ > 0 && open_.size() == sizes_.size() * passes_) return std::nullopt;
      // Bracket i (s = s_max - i in the paper) starts at rung i.
      const std::size_t first = open_.size() % sizes_.size();
      open_.push_back(std::make_unique<SuccessiveHalving>(rungs_, first, sizes_[first], reduction_, sampler_));
    }
    if (open_[b]->finished()) continue;
    if (auto job = open_[b]->next_numbered(rng, next_id_)) {
      ++next_id_;
      owner_.push_back(b);
      return job;
    }
    if (b + 1 == open_.size() && open_[b]->finished()) {
      // A bracket that ended before its first job: the space has no new candidates left.
      exhausted_ = true;
      return std::nullopt;
    }
  }
}

void Hyperband::tell(std::int64_t job, std::optional<double> fitness) {
  if (job < 0 || static_cast<std::size_t>(job) >= owner_.size()) throw Error("hyperband: result for unknown job " + std::to_string(job));
  open_[owner_[static_cast<std::size_t>(job)]]->tell(job, fitness);
}

bool Hyperband::finished() const {
  if (!exhausted_ && (passes_ == 0 || open_.size() < sizes_.size() * passes_)) return false;
  return std::all_of(open_.begin(), open_.end(), [](const auto& bracket) { return bracket->finished(); });
}

}  // namespace nascent
