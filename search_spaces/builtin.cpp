#include "core/registry.hpp"
#include "search_spaces/darts/darts.hpp"
#include "search_spaces/einspace/einspace.hpp"
#include "search_spaces/flexibert/flexibert.hpp"
#include "search_spaces/grammar/grammar_space.hpp"
#include "search_spaces/nb201/nb201.hpp"
#include "search_spaces/ofa/ofa.hpp"
#include "search_spaces/vit_resnas/vit_resnas.hpp"

namespace nascent {

void register_builtin_spaces() {
  auto& registry = SpaceRegistry::instance();
  if (registry.contains("nb201")) return;
  registry.add("nb201", "NAS-Bench-201 cell space: 4 nodes, 6 edges, 5 operations (15,625 cells)",
               &Nb201Space::from_config);
  registry.add("darts",
               "DARTS CNN cells: normal and reduction cells of 4 nodes with 2 inputs each, 7 operations (options: channels, layers, steps)",
               &DartsSpace::from_config);
  registry.add("einspace", "einspace: a probabilistic context-free grammar over fundamental operations (grammars/einspace.yaml)",
               &make_einspace);
  registry.add("flexibert",
               "FlexiBERT heterogeneous transformer encoders for token inputs (options: design test|full, models: a library file)",
               &FlexibertSpace::from_config);
  registry.add("ofa_mbv3",
               "Once-for-All elastic MobileNetV3: kernel, expand ratio and depth per block and stage, and resolution (options: width_mult, resolutions, kernels, expands, depths)",
               &OfaSpace::from_config);
  registry.add("vit_resnas",
               "ViT-ResNAS multi-stage vision transformers with residual spatial reduction (options: preset tiny|small, width_divisor, classes)",
               &VitResNasSpace::from_config);
  registry.add("grammar", "Any grammar file in einspace's format (option file: path.yaml)", &GrammarSpace::from_config);
}

}  // namespace nascent
