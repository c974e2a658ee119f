#include "cli/cli_run.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>

#include "core/error.hpp"

namespace nascent {

namespace {

// Levenshtein distance, for suggesting the command a typo meant.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string whole_number_problem(const std::string& input, long long minimum, std::optional<long long> maximum) {
  // Parsed wide so that an unsigned seed above the signed range still counts as a number.
  long double value = 0;
  std::size_t used = 0;
  try {
    value = std::stold(input, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != input.size() || value != std::floor(value)) return "expected a whole number, got '" + input + "'";
  if (value < minimum) return "must be at least " + std::to_string(minimum) + ", got " + input;
  if (maximum && value > *maximum) return "must be at most " + std::to_string(*maximum) + ", got " + input;
  return "";
}

}  // namespace

CLI::Validator at_least(long long minimum) {
  return CLI::Validator([minimum](std::string& input) { return whole_number_problem(input, minimum, std::nullopt); },
                        "at least " + std::to_string(minimum));
}

CLI::Validator between(long long minimum, long long maximum) {
  return CLI::Validator([minimum, maximum](std::string& input) { return whole_number_problem(input, minimum, maximum); },
                        std::to_string(minimum) + " to " + std::to_string(maximum));
}

std::vector<std::string> command_names(const CLI::App& app, bool include_hidden) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands({}))
    if (include_hidden || !sub->get_group().empty()) names.push_back(sub->get_name());
  return names;
}

std::string one_line(const std::string& message) {
  constexpr std::size_t kLimit = 600;
  std::string out;
  for (unsigned char c : message) {
    if (out.size() >= kLimit) {
      out += "...";
      break;
    }
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string unknown_command(const std::vector<std::string>& commands, const std::string& name) {
  std::string closest, all;
  std::size_t best = std::string::npos;
  for (const std::string& command : commands) {
    all += (all.empty() ? "" : ", ") + command;
    const std::size_t d = edit_distance(name, command);
    if (d < best) best = d, closest = command;
  }
  if (best <= std::max<std::size_t>(2, name.size() / 3))
    return "unknown command '" + name + "' (did you mean '" + closest + "'?)";
  return "unknown command '" + name + "' (commands: " + all + ")";
}

std::pair<std::int64_t, std::int64_t> parse_eval(const std::string& text) {
  const auto colon = text.find(':');
  const auto whole_number = [](const std::string& part, std::int64_t& out) {
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos) return false;
    try {
      out = std::stoll(part);
    } catch (const std::exception&) {
      return false;
    }
    return true;
  };
  std::int64_t run = 0, seq = 0;
  if (colon == std::string::npos || !whole_number(text.substr(0, colon), run) || !whole_number(text.substr(colon + 1), seq))
    throw Error("--eval: expected RUN:SEQ such as 1:0, got '" + text + "'");
  return {run, seq};
}

int run_cli(CLI::App& app, int argc, char** argv, const int& exit_status) {
  // A mistyped command would otherwise read as an unexpected positional argument; hidden
  // commands are accepted but never suggested.
  const std::vector<std::string> known = command_names(app, true);
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--plugin") {
      ++i;
      continue;
    }
    if (word.empty() || word[0] == '-') continue;
    if (std::find(known.begin(), known.end(), word) == known.end()) {
      std::cerr << "nascent: " << unknown_command(command_names(app, false), word) << "\n";
      return kExitUsage;
    }
    break;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "nascent: " << one_line(e.what()) << " (nascent help for usage)\n";
    return kExitUsage;
  } catch (const Error& e) {
    std::cerr << "nascent: " << one_line(e.what()) << "\n";
    return kExitError;
  } catch (const std::exception& e) {
    std::string message = e.what();
    message = message.substr(0, message.find('\n'));  // LibTorch errors carry a backtrace
    std::cerr << "nascent: " << one_line(message) << "\n";
    return kExitError;
  }
  return exit_status;
}

}  // namespace nascent
