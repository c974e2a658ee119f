#pragma once
// Registries: where every pluggable component is found by name. One generic Registry (name,
// one-line summary, declared options, factory) serves every kind; `registries()` holds one per
// kind, with the built-in components registered on first use, and a plugin's entry point receives
// the same object to add its own.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/options.hpp"
#include "core/search_space.hpp"

namespace nascent {

template <typename Product, typename... Args>
class Registry {
 public:
  using Factory = std::function<Product(const Options& options, Args... args)>;
  struct Entry {
    std::string name, summary;
    OptionTable options;
    Factory factory;
  };

  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  // A later registration under the same name replaces the earlier one (a plugin may override).
  void add(const std::string& name, const std::string& summary, OptionTable options, Factory factory) {
    entries_[name] = Entry{name, summary, std::move(options), std::move(factory)};
  }
  bool contains(const std::string& name) const { return entries_.count(name) > 0; }
  const Entry& at(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) throw Error("unknown " + kind_ + " '" + name + "' (registered: " + names() + ")");
    return it->second;
  }
  // Reads `section` (its `name` key aside) through the entry's declared options, then builds.
  Product create(const std::string& name, const Config& section, Args... args) const {
    const Entry& entry = at(name);
    return entry.factory(entry.options.read(section, kind_ + " " + name), args...);
  }
  std::vector<const Entry*> list() const {
    std::vector<const Entry*> result;
    for (const auto& item : entries_) result.push_back(&item.second);
    return result;
  }
  std::string names() const {
    std::string text;
    for (const auto& item : entries_) text += (text.empty() ? "" : ", ") + item.first;
    return text;
  }
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
  std::map<std::string, Entry> entries_;
};

// The products of each kind; only their names are needed here, so this header stays free of
// LibTorch and of the layers above core.
class Strategy;
class Evaluator;
class Predictor;
class Method;
class Network;
struct DataSplits;
struct EvaluatorContext;

// What a strategy's factory gets besides its options.
struct StrategyContext {
  const SearchSpace& space;
  std::string config_dir;  // resolves relative paths (a metrics table) as the rest of the config does
};

// What a supernet's factory gets besides its options.
struct SupernetContext {
  const SearchSpace& space;
  Task task;
};

struct Registries {
  Registry<std::unique_ptr<SearchSpace>> spaces{"search space"};
  // Ask/tell strategies, driven by the run driver's search method.
  Registry<std::unique_ptr<Strategy>, const StrategyContext&> strategies{"strategy"};
  // Methods that run a search their own way (supernet training, DARTS); `strategy.name` picks a
  // method first, then an ask/tell strategy.
  Registry<std::unique_ptr<Method>> methods{"method"};
  Registry<std::unique_ptr<Evaluator>, const EvaluatorContext&> evaluators{"evaluator"};
  Registry<std::unique_ptr<Predictor>> predictors{"predictor"};
  // Datasets load into shared DataSplits (so a loader may cache); `config_dir` resolves paths.
  Registry<std::shared_ptr<const DataSplits>, const std::string&> datasets{"dataset"};
  Registry<std::shared_ptr<Network>, const SupernetContext&> supernets{"supernet"};
};

// The process's registries, with every built-in component registered.
Registries& registries();

// Plugins: a shared library that defines
//   NASCENT_PLUGIN(registries) { registries.spaces.add(...); registries.strategies.add(...); }
// It is refused with one line when it was built for another plugin ABI (rebuild it against this
// nascent's headers). The ABI version changes whenever an interface a plugin implements changes.
constexpr int kPluginAbiVersion = 5;
constexpr const char* kPluginEntryPoint = "nascent_register_plugin";
constexpr const char* kPluginAbiSymbol = "nascent_plugin_abi_version";
using PluginEntryPoint = void (*)(Registries&);
using PluginAbiFunction = int (*)();

#define NASCENT_PLUGIN(registries_name)                                                  \
  extern "C" int nascent_plugin_abi_version() { return ::nascent::kPluginAbiVersion; } \
  extern "C" void nascent_register_plugin(::nascent::Registries& registries_name)

// Loads a plugin into registries(). Throws Error naming the file and the reason when it cannot be
// opened, lacks the entry point or the ABI version, or was built for another ABI.
void load_plugin(const std::string& path);

// Called by registries() once; each registers one folder's components.
void register_builtin_spaces(Registries& registries);
void register_builtin_strategies(Registries& registries);
void register_builtin_methods(Registries& registries);
void register_builtin_evaluators(Registries& registries);
void register_builtin_predictors(Registries& registries);
void register_builtin_datasets(Registries& registries);
void register_builtin_supernets(Registries& registries);

// A space's capability, for methods that need more than the SearchSpace interface:
//   const auto& cells = require_capability<CellSupernetSpace>(space, "darts");
// Fails with one line naming the space and the method when the space does not implement it.
template <typename Capability>
const Capability& require_capability(const SearchSpace& space, const std::string& method, const std::string& what) {
  if (const auto* capability = dynamic_cast<const Capability*>(&space)) return *capability;
  throw Error("config: space " + space.name() + " cannot be searched by " + method + ": it " + what);
}

}  // namespace nascent
