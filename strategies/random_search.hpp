#pragma once
#include "strategies/strategy.hpp"

namespace nascent {

// Uniform samples from the space. Repeats are allowed: the search loop reuses the stored
// result of an architecture already evaluated in the run instead of evaluating it again.
class RandomSearch : public Strategy {
 public:
  explicit RandomSearch(const SearchSpace& space) : space_(space) {}
  std::string name() const override { return "random"; }
  std::vector<std::string> ask(std::size_t count, Rng& rng) override;
  void tell(const std::string&, std::optional<double>) override {}

 private:
  const SearchSpace& space_;
};

}  // namespace nascent
