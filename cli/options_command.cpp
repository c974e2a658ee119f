#include "cli/options_command.hpp"

#include <iostream>
#include <memory>

#include "core/error.hpp"
#include "core/registry.hpp"

namespace nascent {

namespace {

struct OptionsArgs {
  std::string kind, name;
};

// Prints the kind's components (no name) or one component's summary and options table.
template <typename RegistryType>
bool show(const RegistryType& registry, const std::string& name, const std::string& heading) {
  if (name.empty()) {
    for (const auto* entry : registry.list()) std::cout << heading << entry->name << "\t" << entry->summary << "\n";
    return true;
  }
  if (!registry.contains(name)) return false;
  const auto& entry = registry.at(name);
  std::cout << heading << entry.name << ": " << entry.summary << "\n\n" << entry.options.describe();
  return true;
}

void run_options(const OptionsArgs& args, const std::vector<std::string>& plugins) {
  Registries& all = registries();
  for (const auto& plugin : plugins) load_plugin(plugin);
  const std::string& kind = args.kind;
  bool found = false;
  if (kind == "space") {
    found = show(all.spaces, args.name, "");
  } else if (kind == "strategy") {
    // strategy.name picks a method or an ask/tell strategy.
    if (args.name.empty()) {
      show(all.methods, "", "method   ");
      found = show(all.strategies, "", "ask/tell ");
    } else {
      found = show(all.methods, args.name, "method ") || show(all.strategies, args.name, "ask/tell strategy ");
    }
  } else if (kind == "evaluator") {
    found = show(all.evaluators, args.name, "");
  } else if (kind == "predictor") {
    found = show(all.predictors, args.name, "");
  } else if (kind == "dataset") {
    found = show(all.datasets, args.name, "");
  } else if (kind == "supernet") {
    found = show(all.supernets, args.name, "");
  } else {
    throw Error("options: unknown kind '" + kind + "' (kinds: space, strategy, evaluator, predictor, dataset, supernet)");
  }
  if (!found) throw Error("options: no " + kind + " named '" + args.name + "' (see nascent options " + kind + ")");
}

}  // namespace

void add_options_command(CLI::App& app, const std::vector<std::string>& plugins) {
  auto args = std::make_shared<OptionsArgs>();
  auto* command = app.add_subcommand("options", "List the components of a kind, or print one component's options");
  command->add_option("kind", args->kind, "space, strategy, evaluator, predictor, dataset or supernet")->required();
  command->add_option("name", args->name, "A registered name (omit to list them)");
  command->callback([args, &plugins] { run_options(*args, plugins); });
}

}  // namespace nascent
