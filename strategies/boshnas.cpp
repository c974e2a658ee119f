#include "strategies/boshnas.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "core/error.hpp"
#include "core/stats.hpp"

namespace nascent {

Boshnas::Boshnas(const SearchSpace& space, Options options) : space_(space), options_(std::move(options)) {
  if (options_.initial < 1) throw Error("config: strategy.initial must be at least 1");
  if (!(options_.uncertainty_probability >= 0 && options_.diversity_probability >= 0 &&
        options_.uncertainty_probability + options_.diversity_probability <= 1))
    throw Error("config: strategy.uncertainty_probability and diversity_probability must be non-negative and sum to at most 1");
  if (!(options_.fitness_scale > 0)) throw Error("config: strategy.fitness_scale must be positive");
  if (options_.gobi.restarts < 1 || options_.gobi.iterations < 1)
    throw Error("config: strategy.restarts and gobi_iterations must be at least 1");
}

Boshnas::~Boshnas() = default;

void Boshnas::build_library(Rng& rng) {
  library_ = space_.enumerate();
  if (library_.empty()) {
    std::unordered_set<std::string> seen;
    const std::size_t attempts = 20 * options_.library_size;
    for (std::size_t i = 0; i < attempts && library_.size() < options_.library_size; ++i) {
      std::string arch = space_.canonical(space_.sample(rng));
      if (seen.insert(arch).second) library_.push_back(std::move(arch));
    }
  }
  if (library_.empty()) throw Error("boshnas: the space gave no candidates");
  for (std::size_t i = 0; i < library_.size(); ++i) {
    library_[i] = space_.canonical(library_[i]);
    index_of_.emplace(library_[i], i);
  }
  for (const auto& arch : library_) inputs_.push_back(space_.encode(arch));
  const std::size_t dims = inputs_.front().size();
  if (dims == 0) throw Error("boshnas: space '" + space_.name() + "' gives no encoding (encode() is empty)");
  // Standardised per dimension, so that the surrogate's softplus units see inputs of unit scale
  // whatever the encoding's units (edit distances, one-hot codes).
  standardize_columns(inputs_);
  surrogate_ = std::make_unique<BoshnasSurrogate>(static_cast<int>(dims), rng(), options_.surrogate);
}

std::vector<std::size_t> Boshnas::untrained() const {
  std::vector<std::size_t> free;
  for (std::size_t i = 0; i < library_.size(); ++i)
    if (!fitness_.count(i) && !failed_.count(i) && !asked_.count(i)) free.push_back(i);
  return free;
}

std::size_t Boshnas::nearest_untrained(std::size_t index) const {
  std::size_t best = library_.size();
  double best_distance = 0;
  for (std::size_t i : untrained()) {
    double distance = 0;
    for (std::size_t d = 0; d < inputs_[i].size(); ++d) distance += std::abs(inputs_[i][d] - inputs_[index][d]);
    if (best == library_.size() || distance < best_distance) {
      best = i;
      best_distance = distance;
    }
  }
  return best;
}

void Boshnas::retrain(Rng& rng) {
  if (!dirty_) return;
  std::vector<std::vector<double>> x;
  if (options_.targets == Options::Targets::kRelative && target_norm_ <= 0) {
    std::size_t counted = 0;
    for (std::size_t i : trained_order_) {
      if (counted++ == options_.initial) break;
      target_norm_ = std::max(target_norm_, 1 - fitness_.at(i) / options_.fitness_scale);
    }
    if (!(target_norm_ > 0))
      throw Error("boshnas: strategy.fitness_scale (" + std::to_string(options_.fitness_scale) +
                  ") must exceed the fitness values (targets are 1 - fitness / fitness_scale)");
  }
  std::vector<double> fitness;
  for (std::size_t i : trained_order_) {
    x.push_back(inputs_[i]);
    fitness.push_back(fitness_.at(i));
  }
  surrogate_->train(x, boshnas_targets(fitness, options_.targets, options_.fitness_scale, target_norm_), rng);
  dirty_ = false;
}

std::vector<std::string> Boshnas::ask(std::size_t count, Rng& rng) {
  if (library_.empty()) build_library(rng);
  if (stopped_ || count == 0) return {};
  std::vector<std::size_t> free = untrained();
  if (free.empty()) return {};
  std::vector<std::size_t> chosen;
  const std::size_t told = fitness_.size() + failed_.size();
  if (told + asked_.size() < options_.initial || fitness_.empty()) {
    step_kind_ = Step::kInitial;
    const std::size_t want = std::min({count, free.size(), std::max<std::size_t>(1, options_.initial - std::min(options_.initial, told + asked_.size()))});
    for (std::size_t k = 0; k < want; ++k) {
      const std::size_t at = uniform_index(rng, free.size());
      chosen.push_back(free[at]);
      free.erase(free.begin() + static_cast<std::ptrdiff_t>(at));
    }
  } else {
    retrain(rng);
    const double u = uniform_real(rng);
    const double optimise = 1 - options_.uncertainty_probability - options_.diversity_probability;
    if (u < optimise) {
      step_kind_ = Step::kOptimisation;
      BoshnasSurrogate::GobiOptions gobi = options_.gobi;
      gobi.add_aleatoric = active_learning_;
      const bool over_library = options_.acquisition_search == Options::AcquisitionSearch::kLibrary;
      std::vector<BoshnasSurrogate::GobiResult> results;
      if (over_library) {
        std::vector<std::vector<double>> candidates;
        for (std::size_t i : free) candidates.push_back(inputs_[i]);
        const std::vector<double> values = surrogate_->acquisition(candidates, gobi.add_aleatoric);
        for (std::size_t k = 0; k < free.size(); ++k) results.push_back({free[k], values[k]});
      } else {
        results = surrogate_->gobi(inputs_, gobi, rng);
      }
      std::stable_sort(results.begin(), results.end(), [](const auto& a, const auto& b) { return a.acquisition < b.acquisition; });
      // As many queries as GOBI's restarts would give, so that weight transfer chooses among the
      // same number of candidates.
      if (over_library) results.resize(std::min<std::size_t>(results.size(), static_cast<std::size_t>(gobi.restarts)));
      const std::unordered_set<std::size_t> free_set(free.begin(), free.end());
      std::vector<std::size_t> queries;
      for (const auto& result : results)
        if (free_set.count(result.index) && std::find(queries.begin(), queries.end(), result.index) == queries.end())
          queries.push_back(result.index);
      // Queries with a trained model close enough to inherit its weights are all taken (they only
      // need fine-tuning); otherwise the best one is trained from scratch.
      // Spaces without the weight-overlap capability transfer nothing.
      const auto* overlap_space = dynamic_cast<const WeightOverlapSpace*>(&space_);
      for (std::size_t query : queries) {
        if (chosen.size() == count) break;
        double best_overlap = -1;
        std::size_t source = library_.size();
        for (std::size_t trained : trained_order_) {
          const double overlap = overlap_space ? overlap_space->weight_overlap(library_[query], library_[trained]) : 0.0;
          if (overlap >= best_overlap) {
            best_overlap = overlap;
            source = trained;
          }
        }
        if (source < library_.size() && best_overlap >= options_.overlap_threshold) {
          transfer_[query] = source;
          chosen.push_back(query);
        }
      }
      if (chosen.empty()) {
        const std::size_t pick_index = !queries.empty() ? queries.front() : nearest_untrained(results.front().index);
        chosen.push_back(pick_index);
      }
    } else if (u < 1 - options_.diversity_probability) {
      step_kind_ = Step::kUncertainty;
      std::vector<std::vector<double>> candidates;
      for (std::size_t i : free) candidates.push_back(inputs_[i]);
      const auto predictions = surrogate_->predict(candidates);
      std::size_t best = 0;
      for (std::size_t k = 1; k < predictions.size(); ++k)
        if (predictions[k].epistemic > predictions[best].epistemic) best = k;
      chosen.push_back(free[best]);
    } else {
      step_kind_ = Step::kDiversity;
      chosen.push_back(pick(rng, free));
    }
  }
  best_before_step_ = best_;
  awaiting_ = chosen.size();
  std::vector<std::string> archs;
  for (std::size_t i : chosen) {
    asked_.insert(i);
    archs.push_back(library_[i]);
  }
  return archs;
}

void Boshnas::tell(const std::string& arch, std::optional<double> fitness) {
  const auto found = index_of_.find(arch);
  if (found == index_of_.end()) return;
  const std::size_t i = found->second;
  if (!asked_.erase(i)) return;  // a repeat of something already told
  if (fitness) {
    fitness_[i] = *fitness;
    trained_order_.push_back(i);
    if (!best_ || *fitness > *best_) best_ = *fitness;
  } else {
    failed_.insert(i);
  }
  dirty_ = true;
  if (awaiting_ > 0 && --awaiting_ == 0 && step_kind_ != Step::kInitial) {
    const bool improved = best_ && (!best_before_step_ || *best_ > *best_before_step_);
    if (improved) same_performance_ = 0;
    else if (step_kind_ == Step::kOptimisation) ++same_performance_;
    if (same_performance_ >= options_.active_learning_patience) active_learning_ = true;
    if (options_.patience > 0 && same_performance_ >= options_.patience) stopped_ = true;
  }
}

std::string Boshnas::transfer_source(const std::string& arch) const {
  const auto found = index_of_.find(arch);
  if (found == index_of_.end()) return "";
  const auto source = transfer_.find(found->second);
  return source == transfer_.end() ? "" : library_[source->second];
}

std::vector<double> boshnas_targets(const std::vector<double>& fitness, Boshnas::Options::Targets targets, double fitness_scale,
                                    double relative_norm) {
  const double n = static_cast<double>(fitness.size());
  double mean = 0, sd = 0;
  for (double f : fitness) mean += f / n;
  for (double f : fitness) sd += (f - mean) * (f - mean);
  sd = fitness.size() > 1 ? std::sqrt(sd / (n - 1)) : 0;
  // The authors' targets crowd a benchmark's GLUE scores (54 to 75) into 0.75..1 of the sigmoid's
  // range, the best models within 0.1 of each other, and a model worse than every initial one
  // lands above 1, out of the sigmoid's reach; z-scores spread them over the middle of (0, 1).
  const bool standardised = targets == Boshnas::Options::Targets::kStandardised;
  std::vector<double> y;
  for (double f : fitness)
    y.push_back(standardised ? (sd > 0 ? std::clamp(0.5 - 0.2 * (f - mean) / sd, 0.02, 0.98) : 0.5)
                             : (1 - f / fitness_scale) / relative_norm);
  return y;
}

}  // namespace nascent
