#pragma once
#include <map>
#include <memory>
#include <string>

#include "core/config.hpp"
#include "core/options.hpp"
#include "core/search_space.hpp"
#include "search_spaces/grammar/grammar_space.hpp"

namespace nascent {

// einspace (Ericsson et al., 2024): grammars/einspace.yaml, compiled into the library, run by
// the grammar engine. Options as for any grammar space (input, max_params, max_activation,
// max_macs, max_depth). The grammar space itself, for code that reads its derivations.
std::unique_ptr<GrammarSpace> make_einspace(const Options& options);

// The baselines of the paper written as einspace derivations, by name: resnet18 (no max-pool),
// wrn16_4, vit (the authors' 4-layer transformer) and mlp_mixer. Use them as "@resnet18".
const std::map<std::string, std::string>& einspace_seed_architectures();

}  // namespace nascent
