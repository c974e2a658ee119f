#include "search_spaces/einspace/einspace.hpp"

namespace nascent {

extern const char* const kEinspaceGrammarYaml;  // grammars/einspace.yaml, embedded by CMake

std::unique_ptr<GrammarSpace> make_einspace(const Options& options) {
  grammar::Grammar grammar = grammar::Grammar::parse(kEinspaceGrammarYaml, "einspace.yaml (built in)");
  for (const auto& [name, derivation] : einspace_seed_architectures()) grammar.seeds[name] = derivation;
  return std::make_unique<GrammarSpace>("einspace", std::move(grammar), options);
}

}  // namespace nascent
