#include "core/registry.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>

namespace nascent {

Registries& registries() {
  static Registries* instance = [] {
    auto* created = new Registries();  // never destroyed: plugin factories may outlive static teardown order
    register_builtin_spaces(*created);
    register_builtin_strategies(*created);
    register_builtin_methods(*created);
    register_builtin_evaluators(*created);
    register_builtin_predictors(*created);
    register_builtin_datasets(*created);
    register_builtin_supernets(*created);
    return created;
  }();
  return *instance;
}

void load_plugin(const std::string& path) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (!std::filesystem::exists(path)) throw Error("plugin '" + path + "': file not found");
  // dlopen needs a path with a slash to avoid searching the library path for a relative name.
  const std::string resolved = std::filesystem::absolute(path).string();
  void* handle = dlopen(resolved.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw Error("plugin '" + path + "': cannot load: " + dlerror());
  auto abi = reinterpret_cast<PluginAbiFunction>(dlsym(handle, kPluginAbiSymbol));
  auto entry = reinterpret_cast<PluginEntryPoint>(dlsym(handle, kPluginEntryPoint));
  if (!entry) {
    dlclose(handle);
    throw Error("plugin '" + path + "': no function " + kPluginEntryPoint + " (define it with NASCENT_PLUGIN)");
  }
  if (!abi) {
    dlclose(handle);
    throw Error("plugin '" + path + "': no plugin ABI version (built for an older nascent: rebuild it with NASCENT_PLUGIN)");
  }
  if (abi() != kPluginAbiVersion) {
    const int version = abi();
    dlclose(handle);
    throw Error("plugin '" + path + "': built for plugin ABI " + std::to_string(version) + ", this nascent has ABI " +
                std::to_string(kPluginAbiVersion) + "; rebuild the plugin against this nascent");
  }
  // The handle stays open for the life of the process: registered factories point into it.
  entry(registries());
}

}  // namespace nascent
