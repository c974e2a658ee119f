#include "cli/cli_support.hpp"

#include <csignal>

#include "core/error.hpp"
#include "core/input_shape.hpp"
#include "core/registry.hpp"
#include "runner/search.hpp"

namespace nascent {

namespace {

extern "C" void on_interrupt(int) {
  request_stop();
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

}  // namespace

std::unique_ptr<SearchSpace> make_space(const std::string& name, const std::vector<std::string>& options) {
  Config config;
  for (const auto& option : options) config.set(option);
  return registries().spaces.create(name, config);
}

SpaceForInput make_space_for_input(const std::string& name, const std::vector<std::string>& options, const std::string& input) {
  SpaceForInput result{make_space(name, options), {}};
  result.input_shape = input.empty() ? result.space->default_input_shape() : parse_input_shape(input);
  if (result.input_shape != result.space->default_input_shape()) {
    std::vector<std::string> with_input = options;
    with_input.push_back("input=" + input);
    try {
      result.space = make_space(name, with_input);
    } catch (const Error&) {
    }
  }
  return result;
}

void stop_runs_on_interrupt() {
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
}

}  // namespace nascent
