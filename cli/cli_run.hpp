#pragma once
// How both programs behind `nascent` parse a command line and report errors: the small front
// (cli/main.cpp, no LibTorch) and the engine (cli/engine.cpp) that it hands everything else to.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nascent {

// Exit statuses: 0 done, 1 error, 2 usage, 130 a run stopped by Ctrl-C (as shells report SIGINT).
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

// Messages echo user input (architecture strings, paths, YAML); control characters are escaped
// and very long messages cut, so every error is one line a terminal shows as it is.
std::string one_line(const std::string& message);

// "unknown command 'serch' (did you mean 'search'?)", or the list of commands when none is close.
std::string unknown_command(const std::vector<std::string>& commands, const std::string& name);

// "3:17" -> (3, 17); the whole text must be two non-negative integers around one colon.
std::pair<std::int64_t, std::int64_t> parse_eval(const std::string& text);

// Checks for whole-number options: CLI11's PositiveNumber and NonNegativeNumber name DBL_MAX in
// their messages and call a word "not in range"; these say what is wanted ("-k: must be at least 1,
// got 0", "--seed: expected a whole number, got 'abc'").
CLI::Validator at_least(long long minimum);
CLI::Validator between(long long minimum, long long maximum);

// The names of `app`'s commands; hidden ones (an empty group) only when asked for.
std::vector<std::string> command_names(const CLI::App& app, bool include_hidden);

// Parses and runs `app`; every error becomes one `nascent: ...` line on stderr and its exit status.
// `exit_status` is what a command that ran set (e.g. 130 for an interrupted run).
int run_cli(CLI::App& app, int argc, char** argv, const int& exit_status);

}  // namespace nascent
