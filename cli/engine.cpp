#include <CLI/CLI.hpp>

#include <filesystem>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli/catalogue.hpp"
#include "cli/cli_run.hpp"
#include "cli/cli_support.hpp"
#include "cli/model_commands.hpp"
#include "cli/options_command.hpp"
#include "cli/report_commands.hpp"
#include "cli/results_command.hpp"
#include "core/input_shape.hpp"
#include "cli/score_command.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"

namespace {

using namespace nascent;

void load_plugins(const std::vector<std::string>& plugins) {
  for (const auto& plugin : plugins) load_plugin(plugin);
}

void print_spaces(std::ostream& out) {
  for (const auto* entry : registries().spaces.list()) out << entry->name << "\t" << entry->summary << "\n";
}

// The help of the whole program (empty command) or of one command, as `nascent [COMMAND] --help`
// prints it; App::help() itself would give the help of whichever command is running.
std::string help_text(const CLI::App& app, const std::string& command) {
  if (command.empty()) return app.get_formatter()->make_help(&app, app.get_name(), CLI::AppFormatMode::Normal);
  return app.get_subcommand(command)->help(app.get_name());
}

// Everything the front may answer on the engine's behalf: see cli/catalogue.hpp.
Catalogue make_catalogue(const CLI::App& app) {
  Catalogue catalogue;
  catalogue.version = NASCENT_VERSION;
  catalogue.answers["help"] = help_text(app, "");
  catalogue.commands = command_names(app, false);
  for (const std::string& command : catalogue.commands) catalogue.answers["help " + command] = help_text(app, command);
  std::ostringstream spaces;
  print_spaces(spaces);
  catalogue.answers["spaces"] = spaces.str();
  add_options_answers(catalogue.answers);
  return catalogue;
}

}  // namespace

int main(int argc, char** argv) {
  int exit_status = 0;
  CLI::App app{"nascent: neural architecture search", "nascent"};
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
  auto* seed_opt = search_cmd->add_option("--seed", seed, "Run seed (overrides the config's seed)")->check(at_least(0));
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
    if (serve_as_cluster_worker(search)) return;
    const SearchSummary summary = run_search(search);
    std::cout << "run " << summary.run << " " << summary.status << ": " << summary.evaluations << " evaluations ("
              << summary.evaluated_now << " new) in " << summary.elapsed << " s, results in " << search.db_path << "\n";
    if (!summary.best_arch.empty()) {
      std::cout << "best " << summary.best_arch << "\n";
      for (const auto& [name, value] : summary.best_metrics) std::cout << "  " << name << " " << value << "\n";
    }
    if (summary.status == "interrupted") exit_status = kExitInterrupted;
    else if (summary.best_arch.empty() && summary.evaluated_now > 0) {
      // Every candidate failed: say why in one line and fail, rather than leave an empty top list.
      const ResultStore store(search.db_path, ResultStore::Mode::ReadOnly);
      for (const StoredEvaluation& e : store.evaluations(summary.run)) {
        if (e.result.ok) continue;
        std::cerr << "nascent: " << one_line("no candidate of run " + std::to_string(summary.run) + " succeeded; the first failure: " +
                                             e.result.error)
                  << "\n";
        exit_status = kExitError;
        break;
      }
    }
  });

  // spaces
  auto* spaces_cmd = app.add_subcommand("spaces", "List the registered search spaces");
  spaces_cmd->callback([&] {
    load_plugins(plugins);
    print_spaces(std::cout);
  });

  // sample
  std::string space_name;
  int count = 1;
  std::uint64_t sample_seed = 0;
  std::vector<std::string> space_options;
  auto* sample_cmd = app.add_subcommand("sample", "Print random architecture strings");
  sample_cmd->add_option("space", space_name, "Search space name")->required();
  sample_cmd->add_option("-n", count, "How many")->check(at_least(1))->capture_default_str();
  sample_cmd->add_option("--seed", sample_seed, "Random seed")->check(at_least(0))->capture_default_str();
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
  describe_cmd->add_option("--classes", classes, "Number of classes")->check(at_least(1))->capture_default_str();
  describe_cmd->add_option("--option", space_options, "Space option key=value (repeatable)");
  std::string describe_format = "text";
  describe_cmd->add_option("--format", describe_format,
                           "text; dot: the graph alone in Graphviz DOT (pipe to dot -Tsvg); drawing: the report's drawing in DOT "
                           "(a grammar derivation as a tree, OFA and ViT-ResNAS by stage; else the graph)")
      ->check(CLI::IsMember({"text", "dot", "drawing"}))
      ->capture_default_str();
  describe_cmd->callback([&] {
    load_plugins(plugins);
    SpaceForInput made = make_space_for_input(space_name, space_options, input);
    const auto& space = made.space;
    const Task task{made.input_shape, classes};
    const std::string canonical = space->canonical(arch);
    if (input.empty()) input = format_shape(task.input_shape);
    const Description d = space->describe(canonical, task);
    if (describe_format == "drawing") {
      const auto* own = dynamic_cast<const DrawsArchitecture*>(space.get());
      std::cout << (own ? own->drawing(canonical) : graph_to_dot(d.graph));
      return;
    }
    if (describe_format == "dot") {
      std::cout << graph_to_dot(d.graph);
      return;
    }
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
    const std::vector<std::string> all = command_names(app, true);
    if (!help_topic.empty() && std::find(all.begin(), all.end(), help_topic) == all.end())
      throw Error(unknown_command(command_names(app, false), help_topic));
    std::cout << help_text(app, help_topic);
  });

  add_results_command(app);
  add_options_command(app, plugins);
  add_score_command(app, plugins);
  add_train_command(app, plugins, exit_status);
  add_export_command(app, plugins);
  add_report_command(app, plugins);
  add_serve_command(app, plugins);

  // Hidden (empty group): run by the build right after linking the engine.
  std::string catalogue_file;
  auto* catalogue_cmd = app.add_subcommand("catalogue", "Write the answers the front gives without LibTorch")->group("");
  catalogue_cmd->add_option("--out", catalogue_file, "JSON file")->required();
  catalogue_cmd->callback([&] { write_catalogue(catalogue_file, make_catalogue(app)); });

  return run_cli(app, argc, argv, exit_status);
}
