#pragma once
#include <deque>
#include <map>

#include "strategies/strategy.hpp"

namespace nascent {

// Regularised (ageing) evolution, Real et al. 2019: a population of the most recent results;
// each child mutates the best of a random tournament; the oldest member dies when a child joins.
class RegularizedEvolution : public Strategy, public ProposesChildren {
 public:
  struct Options {
    std::size_t population = 50;
    std::size_t sample = 10;  // tournament size
    std::vector<std::string> seeds;  // initial architectures, before random ones
    // einspace's seeded start: the initial population is the evaluated seeds copied cyclically
    // up to `population` (copies are not re-evaluated), instead of seeds then random samples.
    bool fill_with_seeds = false;
    // Tournament contestants drawn with replacement (einspace's code) instead of without (Real et al.).
    bool sample_with_replacement = false;
  };
  RegularizedEvolution(const SearchSpace& space, Options options);
  std::string name() const override { return "evolution"; }
  std::vector<std::string> ask(std::size_t count, Rng& rng) override;
  void tell(const std::string& arch, std::optional<double> fitness) override;
  std::optional<std::string> parent_of(const std::string& child) const override;

  std::size_t population_size() const { return population_.size(); }

 private:
  struct Member {
    std::string arch;
    double fitness;
  };
  const SearchSpace& space_;
  Options options_;
  std::size_t initial_asked_ = 0;
  std::size_t seeds_told_ = 0;
  std::deque<Member> population_;  // front is the oldest
  std::map<std::string, std::string> parents_;  // the last batch's children -> their parents
};

}  // namespace nascent
