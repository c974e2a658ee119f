#include <gtest/gtest.h>

#include <map>

#include "core/error.hpp"
#include "search_spaces/nb201/nb201.hpp"
#include "strategies/random_search.hpp"
#include "strategies/regularized_evolution.hpp"

namespace nascent {
namespace {

// A fitness with one optimum, so that evolution has something to climb: the number of 3x3
// convolutions in the cell.
double conv_count(const std::string& arch) {
  double count = 0;
  for (int op : Nb201Space::parse(arch)) count += op == 3;
  return count;
}

TEST(Strategies, EvolutionStartsFromSeedsThenRandomThenMutatesTournamentWinners) {
  Nb201Space space;
  const std::string seed = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|";
  RegularizedEvolution evolution(space, {4, 2, {seed}});
  Rng rng(1);
  auto first = evolution.ask(4, rng);
  ASSERT_EQ(first.size(), 4u);
  EXPECT_EQ(first[0], seed);
  for (const auto& arch : first) evolution.tell(arch, conv_count(arch));
  EXPECT_EQ(evolution.population_size(), 4u);
  // Every later child is one mutation away from some member of the population.
  for (int round = 0; round < 20; ++round) {
    auto child = evolution.ask(1, rng).at(0);
    evolution.tell(child, conv_count(child));
    EXPECT_EQ(evolution.population_size(), 4u);  // ageing: the oldest leaves as each child joins
  }
}

TEST(Strategies, EvolutionClimbsASimpleFitnessAndRandomSearchDoesNot) {
  Nb201Space space;
  auto run = [&](Strategy& strategy, std::uint64_t seed) {
    Rng rng(seed);
    double best = 0;
    for (int i = 0; i < 150; ++i) {
      auto arch = strategy.ask(1, rng).at(0);
      best = std::max(best, conv_count(arch));
      strategy.tell(arch, conv_count(arch));
    }
    return best;
  };
  double evolution_total = 0, random_total = 0;
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    RegularizedEvolution evolution(space, {20, 5, {}});
    RandomSearch random(space);
    evolution_total += run(evolution, seed);
    random_total += run(random, seed);
  }
  // The optimum is six 3x3 edges; evolution gets there or next to it in every seed.
  EXPECT_GE(evolution_total, 27.0);
  EXPECT_LT(random_total, evolution_total - 3);
}

TEST(Strategies, FailedCandidatesNeverBecomeParents) {
  Nb201Space space;
  RegularizedEvolution evolution(space, {3, 3, {}});
  Rng rng(5);
  for (const auto& arch : evolution.ask(3, rng)) evolution.tell(arch, std::nullopt);
  EXPECT_EQ(evolution.population_size(), 0u);
  EXPECT_EQ(evolution.ask(2, rng).size(), 2u);  // keeps sampling rather than stalling
}

TEST(Strategies, SameSeedSameProposals) {
  Nb201Space space;
  auto trace = [&](std::uint64_t seed) {
    RegularizedEvolution evolution(space, {10, 3, {}});
    Rng rng(seed);
    std::vector<std::string> asked;
    for (int i = 0; i < 60; ++i) {
      auto arch = evolution.ask(1, rng).at(0);
      asked.push_back(arch);
      evolution.tell(arch, conv_count(arch));
    }
    return asked;
  };
  EXPECT_EQ(trace(9), trace(9));
  EXPECT_NE(trace(9), trace(10));
}

TEST(Strategies, InvalidSettingsAreConfigErrors) {
  Nb201Space space;
  EXPECT_THROW(RegularizedEvolution(space, {0, 1, {}}), Error);
  EXPECT_THROW(RegularizedEvolution(space, {5, 6, {}}), Error);
  EXPECT_THROW(RegularizedEvolution(space, {5, 2, {"|bogus~0|"}}), ParseError);
}

}  // namespace
}  // namespace nascent
