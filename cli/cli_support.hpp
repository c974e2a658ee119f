#pragma once
// What several commands share: building a space from --option pairs (and for an --input shape),
// and Ctrl-C handling for commands that run a search or training.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/search_space.hpp"

namespace nascent {

// The registered space `name` with `key=value` options.
std::unique_ptr<SearchSpace> make_space(const std::string& name, const std::vector<std::string>& options);

// The space for an --input shape (empty: the space's own). Spaces whose strings depend on the
// input (grammar spaces) take it as their `input` option; the others reject the key and keep
// their own.
struct SpaceForInput {
  std::unique_ptr<SearchSpace> space;
  std::vector<std::int64_t> input_shape;
};
SpaceForInput make_space_for_input(const std::string& name, const std::vector<std::string>& options, const std::string& input);

// First Ctrl-C (or SIGTERM): the running search or training stops at its next step and stores what
// it has; a second one kills the process. --resume picks the run up either way.
void stop_runs_on_interrupt();

}  // namespace nascent
