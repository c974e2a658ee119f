#include "core/registry.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>

namespace nascent {

SpaceRegistry& SpaceRegistry::instance() {
  static SpaceRegistry registry;
  return registry;
}

void SpaceRegistry::add(const std::string& name, const std::string& summary, Factory factory) {
  entries_[name] = Entry{summary, std::move(factory)};
}

bool SpaceRegistry::contains(const std::string& name) const { return entries_.count(name) > 0; }

std::unique_ptr<SearchSpace> SpaceRegistry::create(const std::string& name, const Config& options) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    std::string known;
    for (const auto& entry : entries_) known += (known.empty() ? "" : ", ") + entry.first;
    throw Error("unknown search space '" + name + "' (registered: " + known + ")");
  }
  return it->second.factory(options);
}

std::vector<std::pair<std::string, std::string>> SpaceRegistry::list() const {
  std::vector<std::pair<std::string, std::string>> result;
  for (const auto& entry : entries_) result.emplace_back(entry.first, entry.second.summary);
  return result;
}

void load_plugin(const std::string& path) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (!std::filesystem::exists(path)) throw Error("plugin '" + path + "': file not found");
  // dlopen needs a path with a slash to avoid searching the library path for a relative name.
  const std::string resolved = std::filesystem::absolute(path).string();
  void* handle = dlopen(resolved.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw Error("plugin '" + path + "': cannot load: " + dlerror());
  auto entry = reinterpret_cast<PluginEntryPoint>(dlsym(handle, kPluginEntryPoint));
  if (!entry) {
    dlclose(handle);
    throw Error("plugin '" + path + "': no function " + kPluginEntryPoint);
  }
  // The handle stays open for the life of the process: registered factories point into it.
  entry(SpaceRegistry::instance());
}

}  // namespace nascent
