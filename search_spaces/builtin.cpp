// The built-in search spaces and their declared options: the registry checks a config's section
// against these declarations, and each space reads its values through them (from_options).
#include "core/registry.hpp"
#include "search_spaces/darts/darts.hpp"
#include "search_spaces/einspace/einspace.hpp"
#include "search_spaces/flexibert/flexibert.hpp"
#include "search_spaces/grammar/grammar_space.hpp"
#include "search_spaces/nasbench_nlp/nasbench_nlp.hpp"
#include "search_spaces/nb201/nb201.hpp"
#include "search_spaces/ofa/ofa.hpp"
#include "search_spaces/vit_resnas/vit_resnas.hpp"

namespace nascent {

namespace {


// The grammar spaces' limits (their defaults come from the grammar file).
OptionTable grammar_limits(OptionTable table) {
  return table.optional("input", OptionType::Value, "input shape the architectures are written for: CxHxW, SxD or a list")
      .optional("max_params", OptionType::Number, "reject candidates with more parameters (default: the grammar's)")
      .optional("max_activation", OptionType::Number, "reject candidates with a larger activation (elements)")
      .optional("max_macs", OptionType::Number, "reject candidates with more multiply-accumulates")
      .optional("max_depth", OptionType::Integer, "derivation depth limit (default: the grammar's)");
}

}  // namespace

void register_builtin_spaces(Registries& registries) {
  auto& spaces = registries.spaces;
  spaces.add("nb201", "NAS-Bench-201 cell space: 4 nodes, 6 edges, 5 operations (15,625 cells)",
             OptionTable()
                 .integer("channels", 16, "channels of the first stage").at_least(1)
                 .integer("cells_per_stage", 5, "cells per stage").at_least(1),
             &Nb201Space::from_options);
  spaces.add("darts", "DARTS CNN cells: normal and reduction cells of 4 nodes with 2 inputs each, 7 operations",
             OptionTable()
                 .integer("channels", 16, "initial channels C").at_least(1)
                 .integer("layers", 8, "cells L").at_least(1)
                 .integer("steps", 4, "intermediate nodes per cell").at_least(1),
             &DartsSpace::from_options);
  spaces.add("einspace", "einspace: a probabilistic context-free grammar over fundamental operations (grammars/einspace.yaml)",
             grammar_limits(OptionTable()), &make_einspace);
  spaces.add("flexibert", "FlexiBERT heterogeneous transformer encoders for token inputs",
             OptionTable()
                 .text("design", "test", "the design space").one_of({"test", "full"})
                 .text("models", "", "a model library (BERT_benchmark.json) for the embedding")
                 .optional("embedding_size", OptionType::Integer, "dimensions of the landmark-MDS embedding")
                 .optional("landmarks", OptionType::Integer, "landmark models of the embedding"),
             &FlexibertSpace::from_options);
  const OfaSpec ofa;
  spaces.add("ofa_mbv3", "Once-for-All elastic MobileNetV3: kernel, expand ratio and depth per block and stage, and resolution",
             OptionTable()
                 .number("width_mult", ofa.width_mult, "width multiplier (make_divisible by 8)").at_least(0.01)
                 .integers("resolutions", std::vector<long long>(ofa.resolutions.begin(), ofa.resolutions.end()), "input resolutions").at_least(1)
                 .integers("kernels", std::vector<long long>(ofa.kernels.begin(), ofa.kernels.end()), "depthwise kernel sizes").at_least(1)
                 .integers("expands", std::vector<long long>(ofa.expands.begin(), ofa.expands.end()), "expand ratios").at_least(1)
                 .integers("depths", std::vector<long long>(ofa.depths.begin(), ofa.depths.end()), "blocks per stage").at_least(1),
             &OfaSpace::from_options);
  spaces.add("vit_resnas", "ViT-ResNAS multi-stage vision transformers with residual spatial reduction",
             OptionTable()
                 .text("preset", "tiny", "the supernet").one_of({"tiny", "small"})
                 .integer("width_divisor", 1, "divide every width (CPU-sized supernets)").at_least(1)
                 .integer("classes", 1000, "classes the MACs formula counts the head for").at_least(1),
             &VitResNasSpace::from_options);
  spaces.add("nasbench_nlp", "NAS-Bench-NLP recurrent cells (linear, blend, elementwise, activations over x and up to 3 hidden states) in a 3-layer language model",
             OptionTable()
                 .integer("embedding", 400, "embedding size, and the last layer's units (tied decoder)").at_least(1)
                 .integer("hidden", 600, "units of the other layers").at_least(1)
                 .integer("layers", 3, "stacked cells").at_least(1)
                 .integer("hidden_states", 3, "most hidden states a sampled cell has (1 to 3)").at_least(1)
                 .integers("nodes", {7, 14, 21}, "intermediate node counts sample() draws from").at_least(1),
             &NasBenchNlpSpace::from_options);
  spaces.add("grammar", "any grammar file in einspace's format",
             grammar_limits(OptionTable().text("file", "", "the grammar file (YAML)").required()), &GrammarSpace::from_options);
}

}  // namespace nascent
