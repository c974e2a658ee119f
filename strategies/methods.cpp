// The built-in run methods besides the ask/tell search (which the driver builds for every
// registered Strategy).
#include "core/registry.hpp"

namespace nascent {

void register_differentiable_methods(Registries& registries);
void register_ofa_method(Registries& registries);
void register_vit_resnas_method(Registries& registries);
void register_multi_fidelity_methods(Registries& registries);

void register_builtin_methods(Registries& registries) {
  register_differentiable_methods(registries);
  register_ofa_method(registries);
  register_vit_resnas_method(registries);
  register_multi_fidelity_methods(registries);
}

}  // namespace nascent
