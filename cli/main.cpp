#include <CLI/CLI.hpp>

#include <filesystem>
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "cli/cli_support.hpp"
#include "cli/model_commands.hpp"
#include "cli/options_command.hpp"
#include "cli/results_command.hpp"
#include "core/input_shape.hpp"
#include "cli/score_command.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"
#include "runner/search.hpp"

namespace {

using namespace nascent;

void load_plugins(const std::vector<std::string>& plugins) {
  for (const auto& plugin : plugins) load_plugin(plugin);
}


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

// "unknown command 'serch' (did you mean 'search'?)", or the list when nothing is close.
std::string unknown_command(const CLI::App& app, const std::string& name) {
  std::string closest, all;
  std::size_t best = std::string::npos;
  for (const CLI::App* sub : app.get_subcommands({})) {
    all += (all.empty() ? "" : ", ") + sub->get_name();
    const std::size_t d = edit_distance(name, sub->get_name());
    if (d < best) best = d, closest = sub->get_name();
  }
  if (best <= std::max<std::size_t>(2, name.size() / 3))
    return "unknown command '" + name + "' (did you mean '" + closest + "'?)";
  return "unknown command '" + name + "' (commands: " + all + ")";
}

// Exit statuses: 0 done, 1 error, 2 usage, 130 a run stopped by Ctrl-C (as shells report SIGINT).
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

// Messages echo user input (architecture strings, paths, YAML); control characters are escaped
// and very long messages cut, so every error is one line a terminal shows as it is.
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

}  // namespace

int main(int argc, char** argv) {
  int exit_status = 0;
  CLI::App app{"nascent: neural architecture search"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("nascent ") + NASCENT_VERSION);
  std::vector<std::string> plugins;
  app.add_option("--plugin", plugins, "Shared library that registers extra components (repeatable)")
      ->check(CLI::ExistingFile);

  // search
  SearchOptions search;
  std::string config_file;
  std::vector<std::string> overrides;
  std::uint64_t seed = 0;
  std::string device;
  auto* search_cmd = app.add_subcommand("search", "Run (or --resume) a search described by a YAML config");
  search_cmd->add_option("config", config_file, "YAML config")->required();
  search_cmd->add_option("--db", search.db_path, "Results database (SQLite)")->capture_default_str();
  auto* seed_opt = search_cmd->add_option("--seed", seed, "Run seed (overrides the config's seed)")->check(CLI::NonNegativeNumber);
  auto* device_opt = search_cmd->add_option("--device", device, "cpu, cuda or cuda:N (overrides the evaluator's or method's device)");
  search_cmd->add_flag("--resume", search.resume, "Continue the database's latest run without re-evaluating");
  search_cmd->add_flag("--quiet,-q", search.quiet, "No progress on stderr");
  search_cmd->add_option("--set", overrides, "Override a config value: key.path=value (repeatable)");
  search_cmd->callback([&] {
    search.config = Config::load_file(config_file);
    for (const auto& assignment : overrides) search.config.set(assignment);
    search.config_dir = std::filesystem::path(config_file).parent_path().string();
    if (*seed_opt) search.seed = seed;
    if (*device_opt) search.device = device;
    search.plugins = plugins;
    stop_runs_on_interrupt();
    const SearchSummary summary = run_search(search);
    std::cout << "run " << summary.run << " " << summary.status << ": " << summary.evaluations << " evaluations ("
              << summary.evaluated_now << " new) in " << summary.elapsed << " s, results in " << search.db_path << "\n";
    if (!summary.best_arch.empty()) {
      std::cout << "best " << summary.best_arch << "\n";
      for (const auto& [name, value] : summary.best_metrics) std::cout << "  " << name << " " << value << "\n";
    }
    if (summary.status == "interrupted") exit_status = kExitInterrupted;
  });

  // spaces
  auto* spaces_cmd = app.add_subcommand("spaces", "List the registered search spaces");
  spaces_cmd->callback([&] {
    load_plugins(plugins);
    for (const auto* entry : registries().spaces.list()) std::cout << entry->name << "\t" << entry->summary << "\n";
  });

  // sample
  std::string space_name;
  int count = 1;
  std::uint64_t sample_seed = 0;
  std::vector<std::string> space_options;
  auto* sample_cmd = app.add_subcommand("sample", "Print random architecture strings");
  sample_cmd->add_option("space", space_name, "Search space name")->required();
  sample_cmd->add_option("-n", count, "How many")->check(CLI::PositiveNumber)->capture_default_str();
  sample_cmd->add_option("--seed", sample_seed, "Random seed")->capture_default_str();
  sample_cmd->add_option("--option", space_options, "Space option key=value (repeatable)");
  sample_cmd->callback([&] {
    load_plugins(plugins);
    auto space = make_space(space_name, space_options);
    Rng rng(sample_seed);
    for (int i = 0; i < count; ++i) std::cout << space->sample(rng) << "\n";
  });

  // describe
  std::string arch;
  std::string input;
  std::int64_t classes = 10;
  auto* describe_cmd = app.add_subcommand("describe", "Print an architecture's parameters, FLOPs and graph");
  describe_cmd->add_option("space", space_name, "Search space name")->required();
  describe_cmd->add_option("arch", arch, "Architecture string")->required();
  describe_cmd->add_option("--input", input, "Input shape, e.g. 3x32x32 or 1x28x28 (default: the space's, else 3x32x32)");
  describe_cmd->add_option("--classes", classes, "Number of classes")->check(CLI::PositiveNumber)->capture_default_str();
  describe_cmd->add_option("--option", space_options, "Space option key=value (repeatable)");
  describe_cmd->callback([&] {
    load_plugins(plugins);
    SpaceForInput made = make_space_for_input(space_name, space_options, input);
    const auto& space = made.space;
    const Task task{made.input_shape, classes};
    const std::string canonical = space->canonical(arch);
    if (input.empty()) input = format_shape(task.input_shape);
    const Description d = space->describe(canonical, task);
    std::cout << "space        " << space->name() << "\n"
              << "arch         " << canonical << "\n"
              << "fingerprint  " << space->fingerprint(canonical) << "\n"
              << "params       " << static_cast<long long>(d.params) << " (" << d.params / 1e6 << " M)\n"
              << "flops        " << static_cast<long long>(d.flops) << " (" << d.flops / 1e6 << " M) at " << input
              << ", " << classes << " classes\n";
    for (const auto& [name, value] : d.extra) std::cout << name << std::string(13 - std::min<size_t>(12, name.size()), ' ') << value << "\n";
    const std::string tree = space->explain(canonical, task);
    if (!tree.empty()) std::cout << "tree\n" << tree;
    std::cout << "graph\n" << graph_to_text(d.graph);
  });

  // help
  std::string help_topic;
  auto* help_cmd = app.add_subcommand("help", "Print the help of a command: nascent help search");
  help_cmd->add_option("command", help_topic, "A command");
  help_cmd->callback([&] {
    if (help_topic.empty()) {
      std::cout << app.help();
      return;
    }
    for (const CLI::App* sub : app.get_subcommands({}))
      if (sub->get_name() == help_topic) {
        std::cout << sub->help();
        return;
      }
    throw Error(unknown_command(app, help_topic));
  });

  add_results_command(app);
  add_options_command(app, plugins);
  add_score_command(app, plugins);
  add_train_command(app, plugins, exit_status);
  add_export_command(app, plugins);

  // A mistyped command would otherwise read as an unexpected positional argument.
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--plugin") {
      ++i;
      continue;
    }
    if (word.empty() || word[0] == '-') continue;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) known = known || sub->get_name() == word;
    if (!known) {
      std::cerr << "nascent: " << unknown_command(app, word) << "\n";
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
  } catch (const nascent::Error& e) {
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
