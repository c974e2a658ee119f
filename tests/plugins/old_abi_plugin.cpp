// A plugin built for another plugin ABI: loading it must fail with one line.
#include "core/registry.hpp"

extern "C" int nascent_plugin_abi_version() { return nascent::kPluginAbiVersion - 1; }
extern "C" void nascent_register_plugin(nascent::Registries&) {}
