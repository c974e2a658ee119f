#pragma once
// Reaching a LibTorch optimiser's per-parameter state across versions: 1.13 keys it by the
// TensorImpl address printed as a string, 2.x by the address itself.
#include <torch/torch.h>

#include <sstream>
#include <string>
#include <type_traits>

namespace nascent {

template <typename StateMap>
auto find_optimizer_state(StateMap& state, const torch::Tensor& parameter) {
  using Key = typename StateMap::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;
    key << parameter.unsafeGetTensorImpl();
    return state.find(key.str());
  } else {
    return state.find(static_cast<Key>(parameter.unsafeGetTensorImpl()));
  }
}

}  // namespace nascent
