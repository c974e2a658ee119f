#pragma once
// NSGA-II (Deb, Pratap, Agarwal & Meyarivan, IEEE TEC 2002) as an ask/tell strategy: generations
// of `population` children, each a mutation of a parent picked by binary tournament (lower
// non-domination rank, then larger crowding distance); parents and children together are cut back
// to `population` by fast non-dominated sorting and crowding distance. Objectives come from the
// config's `objectives` (all of them); a failed or infeasible candidate is dominated by every
// feasible one (Deb's constrained domination). Where the space defines a crossover (NB201's uniform
// crossover), a child is with probability `crossover` (0 by default) the crossover of two
// tournament winners, then mutated; otherwise a mutation of one. A child that repeats an evaluated architecture
// (the same fingerprint: isomorphic cells are one network) is drawn again (up to 100 times), as pymoo's duplicate
// elimination does.
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "strategies/strategy.hpp"

namespace nascent {

// Fast non-dominated sorting of `values` (larger is better on every objective; nullopt: infeasible,
// after every feasible front): the fronts, best first, as indices into `values`.
std::vector<std::vector<std::size_t>> non_dominated_fronts(const std::vector<std::optional<std::vector<double>>>& values);
// Crowding distance of each member of `front` (infinite at each objective's extremes).
std::vector<double> crowding_distances(const std::vector<std::optional<std::vector<double>>>& values, const std::vector<std::size_t>& front);

class Nsga2 : public Strategy, public MultiObjectiveStrategy, public ProposesChildren {
 public:
  struct Options {
    std::size_t population = 50;
    // Chance that a child is the crossover of two tournament winners (then mutated), when the
    // space defines a crossover (CrossoverSpace); otherwise children are mutations only. Off by
    // default: on the NB201 table it lowered the hypervolume reached (docs/strategies.md).
    double crossover = 0.0;
  };
  Nsga2(const SearchSpace& space, Options options);
  std::string name() const override { return "nsga2"; }
  std::vector<std::string> ask(std::size_t count, Rng& rng) override;
  void tell(const std::string& arch, std::optional<double> fitness) override;
  void tell_objectives(const std::string& arch, const std::optional<std::vector<double>>& values) override;
  std::optional<std::string> parent_of(const std::string& child) const override;

  // The current population (after the last complete generation's selection).
  std::vector<std::string> population() const;

 private:
  struct Member {
    std::string arch;
    std::optional<std::vector<double>> values;
    std::size_t rank = 0;
    double crowding = 0;
  };
  void select();
  const Member& tournament(Rng& rng) const;

  const SearchSpace& space_;
  Options options_;
  std::vector<Member> population_;  // ranked and crowded after each selection
  std::vector<Member> incoming_;    // this generation's told candidates
  std::vector<std::string> queue_;  // asked for next
  std::size_t generation_size_ = 0, asked_in_generation_ = 0;
  std::map<std::string, std::string> parents_;  // the last generation's children -> their parents
  std::set<std::string> evaluated_;              // fingerprints of every architecture told back
  static constexpr int kMaxAttempts = 100;
};

}  // namespace nascent
