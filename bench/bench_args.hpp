#pragma once
// key=value arguments for the benchmark programs.
#include <cstdio>
#include <map>
#include <optional>
#include <string>

namespace nascent {

// `defaults` names every accepted key; the result overrides them with argv's key=value pairs.
// An unknown key or a bare word prints what the program accepts and gives nullopt.
inline std::optional<std::map<std::string, std::string>> parse_bench_args(int argc, char** argv, const char* program,
                                                                          std::map<std::string, std::string> defaults) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto eq = arg.find('=');
    if (eq == std::string::npos || !defaults.count(arg.substr(0, eq))) {
      std::string usage;
      for (const auto& [key, value] : defaults) usage += " [" + key + "=" + value + "]";
      std::fprintf(stderr, "%s: unknown argument '%s'\nusage: %s%s\n", program, arg.c_str(), program, usage.c_str());
      return std::nullopt;
    }
    defaults[arg.substr(0, eq)] = arg.substr(eq + 1);
  }
  return defaults;
}

}  // namespace nascent
