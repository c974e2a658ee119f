#pragma once
#include <memory>

#include "core/network.hpp"
#include "search_spaces/grammar/grammar.hpp"

namespace nascent::grammar {

// The LibTorch module for a checked derivation (grammar::parse or grammar::sample output).
std::shared_ptr<Network> build_network(const Grammar& grammar, const Node& tree, std::int64_t num_classes);

}  // namespace nascent::grammar
