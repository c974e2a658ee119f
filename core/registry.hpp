#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/search_space.hpp"

namespace nascent {

// Where search spaces are found by name. Built-in spaces register themselves at start-up;
// a plugin shared library registers its own from `nascent_register_plugin` (see load_plugin).
class SpaceRegistry {
 public:
  // options: the `space` section of the config (everything besides `name`).
  using Factory = std::function<std::unique_ptr<SearchSpace>(const Config& options)>;

  static SpaceRegistry& instance();

  void add(const std::string& name, const std::string& summary, Factory factory);
  bool contains(const std::string& name) const;
  std::unique_ptr<SearchSpace> create(const std::string& name, const Config& options = Config()) const;
  // (name, summary) pairs in name order.
  std::vector<std::pair<std::string, std::string>> list() const;

 private:
  struct Entry {
    std::string summary;
    Factory factory;
  };
  std::map<std::string, Entry> entries_;
};

// Loads a shared library and calls its `extern "C" void nascent_register_plugin(nascent::SpaceRegistry&)`.
// Throws Error naming the file and the reason when it cannot be opened or lacks the entry point.
void load_plugin(const std::string& path);

// The entry point's signature, for plugin authors.
using PluginEntryPoint = void (*)(SpaceRegistry&);
constexpr const char* kPluginEntryPoint = "nascent_register_plugin";

// Registers the spaces compiled into nascent (called once, idempotent).
void register_builtin_spaces();

}  // namespace nascent
