#include "strategies/random_search.hpp"

namespace nascent {

std::vector<std::string> RandomSearch::ask(std::size_t count, Rng& rng) {
  std::vector<std::string> batch;
  for (std::size_t i = 0; i < count; ++i) batch.push_back(space_.sample(rng));
  return batch;
}

}  // namespace nascent
