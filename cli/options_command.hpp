#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace nascent {

// `nascent options KIND [NAME]`: the registered components of a kind, or one component's
// declared options (from the same declaration that reads configs).
void add_options_command(CLI::App& app, const std::vector<std::string>& plugins);

}  // namespace nascent
