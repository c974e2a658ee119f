#pragma once
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "predictors/boshnas_surrogate.hpp"
#include "strategies/strategy.hpp"

namespace nascent {

// BOSHNAS (Tuli et al., spec B6-B8) over a library of candidates: the space's whole list when it
// has one (enumerate()), else `library_size` distinct samples. Candidates are the space's encode()
// vectors, standardised per dimension over the library. After `initial` random models, each
// iteration retrains the surrogate and either optimises the acquisition by GOBI (probability
// 1 - uncertainty - diversity), or takes the untrained model with the largest epistemic
// uncertainty, or a random untrained one. Where nascent departs from the authors' code (target
// scaling, the NPN's learning rate, minimising the acquisition over the library) is in
// docs/strategies.md#boshnas with the figures that led to it.
class Boshnas : public Strategy, public WeightTransferStrategy {
 public:
  struct Options {
    std::size_t initial = 10;
    std::size_t library_size = 1000;  // for spaces that cannot list themselves
    double uncertainty_probability = 0.1;
    double diversity_probability = 0.1;
    double fitness_scale = 100;
    // The best fitness unchanged after this many optimisation steps: ξ + σ enters the acquisition
    // (active learning) ...
    std::size_t active_learning_patience = 5;
    // ... and after this many the search stops (0: never; the budget ends it).
    std::size_t patience = 10;
    double overlap_threshold = 0.8;  // weight transfer from a trained model this close
    // Targets: kStandardised maps fitness z-scores (over the trained models) to 0.5 - 0.2 z in
    // (0, 1); kRelative is the authors' (1 - fitness / fitness_scale) / the largest initial one.
    enum class Targets { kStandardised, kRelative };
    Targets targets = Targets::kStandardised;
    // Minimising the acquisition: kLibrary evaluates it at every untrained library member (the
    // exact minimum of what GOBI approximates, since GOBI's answer is mapped to a library member
    // anyway); kGobi runs the authors' gradient descent on the input from random library points.
    enum class AcquisitionSearch { kLibrary, kGobi };
    AcquisitionSearch acquisition_search = AcquisitionSearch::kLibrary;
    BoshnasSurrogate::Options surrogate;
    BoshnasSurrogate::GobiOptions gobi;
  };
  Boshnas(const SearchSpace& space, Options options);
  ~Boshnas() override;
  std::string name() const override { return "boshnas"; }
  std::vector<std::string> ask(std::size_t count, Rng& rng) override;
  void tell(const std::string& arch, std::optional<double> fitness) override;
  std::string transfer_source(const std::string& arch) const override;

  std::size_t library_size() const { return library_.size(); }
  bool stopped() const { return stopped_; }
  bool active_learning() const { return active_learning_; }

 private:
  void build_library(Rng& rng);
  void retrain(Rng& rng);
  std::vector<std::size_t> untrained() const;
  std::size_t nearest_untrained(std::size_t index) const;

  const SearchSpace& space_;
  Options options_;
  std::vector<std::string> library_;
  std::unordered_map<std::string, std::size_t> index_of_;
  std::vector<std::vector<double>> inputs_;  // standardised encodings
  std::unique_ptr<BoshnasSurrogate> surrogate_;
  std::vector<std::size_t> trained_order_;       // library indices in the order told
  std::map<std::size_t, double> fitness_;        // told successes
  std::set<std::size_t> failed_, asked_;
  std::map<std::size_t, std::size_t> transfer_;  // query -> trained source
  double target_norm_ = 0;
  bool dirty_ = true;
  std::optional<double> best_;
  std::optional<double> best_before_step_;
  std::size_t same_performance_ = 0;
  bool active_learning_ = false;
  bool stopped_ = false;
  // The last ask's branch and how many of its candidates are still to be told; the patience
  // counters move once all are.
  enum class Step { kInitial, kOptimisation, kUncertainty, kDiversity };
  Step step_kind_ = Step::kInitial;
  std::size_t awaiting_ = 0;
};

// The surrogate's targets (losses in (0, 1), smaller for fitter models) for `fitness`, as
// Options::targets says; `relative_norm` is the authors' divisor, the largest 1 - fitness /
// fitness_scale among the initial models (unused by standardised targets, which are 0.5 when
// every fitness is equal, and need no fitness_scale).
std::vector<double> boshnas_targets(const std::vector<double>& fitness, Boshnas::Options::Targets targets, double fitness_scale,
                                    double relative_norm);

}  // namespace nascent
