#include "cli/catalogue.hpp"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace nascent {

std::string catalogue_key(const std::vector<std::string>& words) {
  std::string key;
  for (const std::string& word : words) {
    if (word.empty() || word.find_first_of(" \t\n\r") != std::string::npos) return "";
    key += (key.empty() ? "" : " ") + word;
  }
  return key;
}

void write_catalogue(const std::string& path, const Catalogue& catalogue) {
  const nlohmann::json json = {
      {"version", catalogue.version}, {"commands", catalogue.commands}, {"answers", catalogue.answers}};
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial);
    out << json.dump(1);
    if (!out) throw Error("catalogue: cannot write " + partial);
  }
  // Renamed into place, so a front never reads half a catalogue.
  if (std::rename(partial.c_str(), path.c_str()) != 0) throw Error("catalogue: cannot write " + path);
}

std::optional<Catalogue> read_catalogue(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  try {
    const nlohmann::json json = nlohmann::json::parse(in);
    Catalogue catalogue;
    catalogue.version = json.at("version").get<std::string>();
    if (catalogue.version != NASCENT_VERSION) return std::nullopt;
    catalogue.commands = json.at("commands").get<std::vector<std::string>>();
    catalogue.answers = json.at("answers").get<std::map<std::string, std::string>>();
    return catalogue;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace nascent
