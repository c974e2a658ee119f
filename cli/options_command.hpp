#pragma once
#include <CLI/CLI.hpp>

#include <map>
#include <string>
#include <vector>

namespace nascent {

// `nascent options KIND [NAME]`: the registered components of a kind, or one component's
// declared options (from the same declaration that reads configs).
void add_options_command(CLI::App& app, const std::vector<std::string>& plugins);

// What `nascent options KIND [NAME] --format F` prints, for every kind, registered name and format,
// keyed "options KIND [NAME] --format F": the catalogue the front answers from without LibTorch.
void add_options_answers(std::map<std::string, std::string>& answers);

}  // namespace nascent
