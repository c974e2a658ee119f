// `nascent`: the front. Loading LibTorch takes most of a second (hundreds of shared libraries and
// its operator registrations), which commands that never touch a tensor should not pay. The front
// links no LibTorch: it answers `--version`, `results ...` and, from the catalogue the engine wrote
// when it was built (cli/catalogue.hpp), `--help`, `help CMD`, `spaces` and `options ...`. Every
// other command line replaces this process with the engine (cli/engine.cpp), same arguments and
// same process id, so signals, exit statuses and run locks behave as if it were one program.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/catalogue.hpp"
#include "cli/cli_run.hpp"
#include "cli/results_command.hpp"

namespace {

namespace fs = std::filesystem;
using namespace nascent;

// The engine beside the front (build tree) or in libexec/nascent (an installed prefix).
std::optional<fs::path> engine_folder() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (error) return std::nullopt;
  for (const fs::path& folder : {self.parent_path(), self.parent_path().parent_path() / "libexec" / "nascent"})
    if (fs::exists(folder / "nascent-engine", error)) return folder;
  return std::nullopt;
}

int run_engine(const std::optional<fs::path>& folder, char** argv) {
  if (!folder) {
    std::cerr << "nascent: the engine (nascent-engine) is missing beside this program and in ../libexec/nascent\n";
    return kExitError;
  }
  const std::string engine = (*folder / "nascent-engine").string();
  execv(engine.c_str(), argv);  // argv ends with the null pointer execv needs
  std::cerr << "nascent: cannot start " << one_line(engine) << ": " << std::strerror(errno) << "\n";
  return kExitError;
}

// The catalogue key of a command line the front may answer, or empty: the engine answers it.
std::string answerable_key(const std::vector<std::string>& words, const Catalogue& catalogue) {
  const auto is_command = [&catalogue](const std::string& word) {
    return std::find(catalogue.commands.begin(), catalogue.commands.end(), word) != catalogue.commands.end();
  };
  const auto is_help = [](const std::string& word) { return word == "--help" || word == "-h"; };
  if (words.size() == 1 && (is_help(words[0]) || words[0] == "help")) return "help";
  if (words.size() == 2 && words[0] == "help" && is_command(words[1])) return "help " + words[1];
  if (words.size() == 2 && is_command(words[0]) && is_help(words[1])) return "help " + words[0];
  if (words == std::vector<std::string>{"spaces"}) return "spaces";
  if (!words.empty() && words[0] == "options") {
    std::vector<std::string> key = {"options"};
    std::string format = "text";
    for (std::size_t i = 1; i < words.size(); ++i) {
      if (words[i] == "--format" && i + 1 < words.size()) format = words[++i];
      else if (words[i].rfind("--format=", 0) == 0) format = words[i].substr(9);
      else if (words[i].empty() || words[i][0] == '-' || key.size() == 3) return "";
      else key.push_back(words[i]);
    }
    key.push_back("--format");
    key.push_back(format);
    return catalogue_key(key);
  }
  return "";
}

int run_results(int argc, char** argv) {
  CLI::App app{"nascent: neural architecture search", "nascent"};
  app.require_subcommand(1);
  add_results_command(app);
  return run_cli(app, argc, argv, 0);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> words(argv + 1, argv + argc);
  // Plugins register components of their own, which only the engine can load.
  const bool plugins = std::any_of(words.begin(), words.end(), [](const std::string& word) {
    return word == "--plugin" || word.rfind("--plugin=", 0) == 0;
  });
  if (words == std::vector<std::string>{"--version"}) {
    std::cout << "nascent " << NASCENT_VERSION << "\n";
    return 0;
  }
  if (!plugins && !words.empty() && words[0] == "results") return run_results(argc, argv);
  const std::optional<fs::path> folder = engine_folder();
  if (!plugins && folder) {
    if (const std::optional<Catalogue> catalogue = read_catalogue((*folder / "nascent-catalogue.json").string())) {
      const std::string key = answerable_key(words, *catalogue);
      const auto answer = catalogue->answers.find(key);
      if (!key.empty() && answer != catalogue->answers.end()) {
        std::cout << answer->second << std::flush;
        return 0;
      }
    }
  }
  return run_engine(folder, argv);
}
