#pragma once
// The answers of the commands that only describe what is built in (`--help`, `help CMD`, `spaces`,
// `options ...`), written by the engine right after it is linked. The front (cli/main.cpp) prints
// them without loading LibTorch, which takes most of a second; anything else, or a command line
// with --plugin, goes to the engine. Being written by the engine from its own registries and
// command definitions, the catalogue says exactly what the engine would.
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nascent {

struct Catalogue {
  std::string version;                         // NASCENT_VERSION of the engine that wrote it
  std::vector<std::string> commands;           // the visible commands, for typo suggestions
  std::map<std::string, std::string> answers;  // "help search", "spaces", "options space --format text", ...
};

// The key of a command line's words ("options", "space", "nb201", "--format", "text" ->
// "options space nb201 --format text"); empty when a word could not appear in one.
std::string catalogue_key(const std::vector<std::string>& words);

void write_catalogue(const std::string& path, const Catalogue& catalogue);

// nullopt when the file is missing, unreadable or from another version: the caller asks the engine.
std::optional<Catalogue> read_catalogue(const std::string& path);

}  // namespace nascent
