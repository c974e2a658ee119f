#pragma once
#include <CLI/CLI.hpp>

namespace nascent {

// `nascent results runs|top|show|export|pareto --db FILE ...`
void add_results_command(CLI::App& app);

}  // namespace nascent
