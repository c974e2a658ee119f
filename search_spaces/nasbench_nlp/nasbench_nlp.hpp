#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/options.hpp"
#include "core/search_space.hpp"

namespace nascent {

// NAS-Bench-NLP (Klyuchnikov et al., 2020): recurrent cells as graphs over the step's input `x`
// and the previous hidden states `h_prev_0` .. `h_prev_{k-1}`, computing the new states `h_new_0`
// .. `h_new_{k-1}` (k = 1 is an RNN, 2 an LSTM-like cell with a memory state). A node is one of
//   linear                  W_1 a_1 + ... + W_n a_n + b over 1 to 3 inputs (one weight per input)
//   blend                   a * b + (1 - a) * c
//   elementwise_prod/_sum   a * b (* c ...), a + b (+ c ...)
//   activation_tanh/_sigm/_leaky_relu
// The architecture string is the benchmark's own recipe, JSON mapping node names to
// {"op": ..., "input": [...]} as in its logs (single quotes accepted); canonical() prints it with
// sorted keys and no spaces, names unchanged, so a benchmark entry keeps its identity.
struct NlpNode {
  std::string op;
  std::vector<std::string> inputs;
};
using NlpRecipe = std::map<std::string, NlpNode>;

NlpRecipe parse_nasbench_nlp(const std::string& text);  // throws ParseError naming the problem
std::string print_nasbench_nlp(const NlpRecipe& recipe);
// k: the highest h_new_i index + 1.
int nasbench_nlp_hidden_states(const NlpRecipe& recipe);
// The nodes in an order where every node follows its inputs (ties by name, so it is stable).
std::vector<std::string> nasbench_nlp_order(const NlpRecipe& recipe);

// The language model around the cell, after NAS-Bench-NLP's AWD-LSTM setup: an embedding of
// `embedding` dimensions, `layers` stacked cells of `hidden` units except the last, which has
// `embedding` units so that the decoder can share the embedding's weights (tied=True).
struct NlpModelSize {
  std::int64_t embedding = 400, hidden = 600, layers = 3;
  std::int64_t layer_input(std::int64_t layer) const { return layer == 0 ? embedding : hidden; }
  std::int64_t layer_hidden(std::int64_t layer) const { return layer + 1 == layers ? embedding : hidden; }
};

// Options: embedding (400), hidden (600), layers (3): the benchmark's model; hidden_states (3)
// and nodes ([7, 14, 21]): what sample() draws, as the benchmark's generator did (k uniform in
// 1..hidden_states, the intermediate node count uniform in `nodes`).
class NasBenchNlpSpace : public SearchSpace {
 public:
  NasBenchNlpSpace(NlpModelSize size, int max_hidden_states, std::vector<int> node_counts);
  static std::unique_ptr<SearchSpace> from_options(const Options& options);

  std::string name() const override { return "nasbench_nlp"; }
  // Drawn cells are valid and their output h_new_0 carries the input: a cell that computes a
  // constant from its zero initial states (h_new_0 = h_prev_0 * ...) is drawn again. Parsing
  // accepts such cells, since the benchmark has them.
  std::string sample(Rng& rng) const override;
  // One of: another operation of the same arity on a node, one input rewired, an activation
  // inserted on an edge, or a single-input node removed; always a different, valid cell, which
  // carries the input when its parent does.
  std::string mutate(const std::string& arch, Rng& rng) const override;
  std::string canonical(const std::string& text) const override;
  // Counts of each operation, hidden states, nodes, edges, depth, and the uses of x and of each
  // previous hidden state.
  std::vector<double> encode(const std::string& arch) const override;
  ArchGraph graph(const std::string& arch) const override;
  // Parameters of the network build() makes; FLOPs per sequence (task input_shape {L}): two per
  // multiply-accumulate of the linear nodes and the head, one per element of the others.
  Description describe(const std::string& arch, const Task& task) const override;
  std::shared_ptr<Network> build(const std::string& arch, const Task& task) const override;
  // bptt = 70, the benchmark's sequence length.
  std::vector<std::int64_t> default_input_shape() const override { return {70}; }

  const NlpModelSize& size() const { return size_; }

 private:
  static ArchGraph recipe_graph(const NlpRecipe& recipe);

  NlpModelSize size_;
  int max_hidden_states_;
  std::vector<int> node_counts_;
};

// The language model for `recipe` (search_spaces/nasbench_nlp/nasbench_nlp_network.cpp). Token
// ids (batch x length, 0 = padding) in; logits at each sequence's last real token out, through
// the tied decoder when task.num_classes == task.vocabulary_size (next-token prediction), else
// through a linear head.
std::shared_ptr<Network> make_nasbench_nlp_network(const NlpRecipe& recipe, const NlpModelSize& size, const Task& task);
// The task's vocabulary, Penn Treebank's 10,000 words when it names none; an Error for image tasks.
std::int64_t nasbench_nlp_vocabulary(const Task& task);
std::int64_t nasbench_nlp_parameter_count(const NlpRecipe& recipe, const NlpModelSize& size, const Task& task);

}  // namespace nascent
