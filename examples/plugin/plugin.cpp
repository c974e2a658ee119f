// An example plugin: components that live outside nascent, built as a shared library and loaded
// with `nascent --plugin libnascent_example_plugin.so ...` or a config's `plugins:` list. It adds
// a search space (chain), an ask/tell strategy (hill_climb) and a dataset (stripes).
#include "core/registry.hpp"

namespace nascent::example_plugin {
void register_chain_space(Registries& registries);
void register_hill_climb(Registries& registries);
void register_stripes(Registries& registries);
}  // namespace nascent::example_plugin

NASCENT_PLUGIN(registries) {
  nascent::example_plugin::register_chain_space(registries);
  nascent::example_plugin::register_hill_climb(registries);
  nascent::example_plugin::register_stripes(registries);
}
