#pragma once
// Multi-objective regularised evolution: Real et al.'s aging evolution with the tournament decided
// by non-domination rank over the config's `objectives`, then crowding distance (NSGA-II's order,
// strategies/nsga2.hpp), computed over the living population. A failed or infeasible candidate
// never becomes a parent and ages no one out, as in the single-objective `evolution`.
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "strategies/strategy.hpp"

namespace nascent {

class MultiObjectiveEvolution : public Strategy, public MultiObjectiveStrategy, public ProposesChildren {
 public:
  struct Options {
    std::size_t population = 50;
    std::size_t sample = 10;  // tournament size
  };
  MultiObjectiveEvolution(const SearchSpace& space, Options options);
  std::string name() const override { return "mo_evolution"; }
  std::vector<std::string> ask(std::size_t count, Rng& rng) override;
  void tell(const std::string& arch, std::optional<double> fitness) override;
  void tell_objectives(const std::string& arch, const std::optional<std::vector<double>>& values) override;
  std::optional<std::string> parent_of(const std::string& child) const override;

 private:
  struct Member {
    std::string arch;
    std::vector<double> values;
  };
  const SearchSpace& space_;
  Options options_;
  std::size_t initial_asked_ = 0;
  std::deque<Member> population_;  // front is the oldest
  std::map<std::string, std::string> parents_;
};

}  // namespace nascent
