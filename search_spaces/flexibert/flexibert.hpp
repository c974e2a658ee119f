#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/config.hpp"
#include "core/options.hpp"
#include "core/search_space.hpp"

namespace nascent {

// FlexiBERT (Tuli et al., 2023): transformer encoders whose layers differ in operation (self-attention
// with scaled dot-product or weighted multiplicative scores, a DFT or DCT linear transform, or a
// ConvBERT dynamic-span convolution), hidden size, head count and feed-forward stack.
struct FlexiLayer {
  std::string op;     // sa, l, c
  std::string param;  // sa: sdp|wma; l: dft|dct; c: kernel size
  int hidden = 0;
  int heads = 0;
  std::vector<int> feed_forward;  // widths of the stacked feed-forward layers
  bool operator==(const FlexiLayer& other) const {
    return op == other.op && param == other.param && hidden == other.hidden && heads == other.heads &&
           feed_forward == other.feed_forward;
  }
};
using FlexiModel = std::vector<FlexiLayer>;

// The choices per layer. "test" is design_space_test.yaml (the paper's experiments and
// BERT_benchmark.json); "full" is design_space.yaml.
struct FlexiDesign {
  std::string name;
  std::vector<int> layers, hiddens, heads, feed_forward_counts, feed_forward_widths;
  std::vector<std::pair<std::string, std::string>> operations;  // (op, param)
  static FlexiDesign test();
  static FlexiDesign full();
  static FlexiDesign named(const std::string& name);  // throws Error for anything but test / full
};

// String form, one layer per '|'-separated block: op_param_h<hidden>_n<heads>_f<w>-<w>-...
// e.g. "sa_sdp_h256_n2_f512-512-512|l_dct_h128_n4_f1024" (FlexiBERT-Mini has four such blocks).
std::string print_flexibert(const FlexiModel& model);
// Reads the string form, a FlexiBERT model_dict ({'l':2,'o':[...],'h':[...],'n':[...],'f':[[...]],'p':[...]},
// single or double quotes) or a BERT_benchmark.json entry (or its hparams / model_hparam_overrides
// part). Checks every value against `design`; errors are ParseErrors naming the layer and value.
FlexiModel parse_flexibert(const std::string& text, const FlexiDesign& design);

// A head vertex's label in the computation graph (spec B3), e.g. "sa_h256_p-sdp".
std::string flexibert_head_label(const FlexiLayer& layer);

// Labels and their order for the graph edit costs (spec B4's sorted_ops_list, extended in the same
// pattern for the full design): node substitution costs |idx(a) - idx(b)|, insertion idx(label).
std::vector<std::string> flexibert_sorted_ops(const FlexiDesign& design);

// Graph edit distance between the computation graphs of two models with spec B4's costs (node
// substitution |idx(a) - idx(b)|, node insertion or deletion idx(label), edge 0.1), computed as the
// cheapest edit path that maps layers in order (see flexibert_embedding.cpp for why that is the
// structure every cheap path has in these layered graphs).
double flexibert_edit_distance(const FlexiModel& a, const FlexiModel& b, const std::vector<std::string>& sorted_ops);

// The space. Options: design (test | full, default test); models (a BERT_benchmark.json-style file or
// a text file with one architecture per line): the space is then that finite library (sampling
// and mutation stay inside it, enumerate() lists it); embedding_size (16); landmarks (256).
class FlexibertSpace : public SearchSpace, public WeightOverlapSpace {
 public:
  struct Options {
    std::string design = "test";
    std::string models;  // optional library file
    int embedding_size = 16;
    int landmarks = 256;
  };
  explicit FlexibertSpace(Options options);
  // From the options declared in search_spaces/builtin.cpp.
  static std::unique_ptr<SearchSpace> from_options(const nascent::Options& options);

  std::string name() const override { return "flexibert"; }
  std::string sample(Rng& rng) const override;
  std::string mutate(const std::string& arch, Rng& rng) const override;
  std::string canonical(const std::string& text) const override;
  // The graph-similarity embedding: landmark MDS of the edit distances to a fixed landmark set.
  std::vector<double> encode(const std::string& arch) const override;
  ArchGraph graph(const std::string& arch) const override;
  // Spec B3's NASBench-style Weisfeiler-Lehman hash (FNV-1a in place of sha256).
  std::string fingerprint(const std::string& arch) const override;
  Description describe(const std::string& arch, const Task& task) const override;
  std::shared_ptr<Network> build(const std::string& arch, const Task& task) const override;
  std::vector<std::int64_t> default_input_shape() const override { return {64}; }
  std::vector<std::string> enumerate() const override { return library_; }
  double weight_overlap(const std::string& target, const std::string& source) const override;

  const FlexiDesign& design() const { return design_; }
  FlexiModel model(const std::string& arch) const { return parse_flexibert(arch, design_); }
  double edit_distance(const std::string& a, const std::string& b) const;

 private:
  FlexiModel sample_model(Rng& rng) const;
  FlexiModel mutate_model(const FlexiModel& model, Rng& rng) const;
  void build_landmarks(int embedding_size, int landmark_count);

  FlexiDesign design_;
  std::vector<std::string> sorted_ops_;
  std::vector<std::string> library_;
  std::vector<FlexiModel> library_models_;
  // Landmark MDS: landmark models, the column means of their squared distances and the
  // pseudo-inverse rows (eigenvector / sqrt(eigenvalue)) of the top components.
  std::vector<FlexiModel> landmarks_;
  std::vector<double> landmark_mean_sq_;
  std::vector<std::vector<double>> projection_;
};

// Names and shapes of the parameters of the network build() makes (tested against the module).
std::vector<std::pair<std::string, std::vector<std::int64_t>>> flexibert_parameter_shapes(
    const FlexiModel& model, std::int64_t vocabulary_size, std::int64_t num_classes);
// The parameter count of the network build() makes, from closed forms (tested against the module).
std::int64_t flexibert_parameter_count(const FlexiModel& model, std::int64_t vocabulary_size, std::int64_t num_classes);

}  // namespace nascent
