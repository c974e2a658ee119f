// FlexiBERT's graph-similarity embedding (spec B4, "Transformer2vec"), made a pure function of one
// architecture so that encode() needs no library.
//
// Distances. The authors take the first value networkx's optimize_graph_edit_distance yields: the
// cost of one cheap edit path, not the exact GED. nascent computes the cheapest edit path that
// maps layers in order, with the same costs. FlexiBERT graphs are a chain of layer blocks with one
// skeleton (heads in parallel between two add_norms, then a chain of feed-forward nodes), so a path
// that maps a layer's nodes onto another layer's keeps every edge inside the block, and a path that
// crosses layers (or maps a head onto a feed-forward node) pays extra edge edits and label costs
// for nothing; the in-order alignment is therefore where every cheap path lies, and a dynamic
// programme over the two layer sequences finds its cost in microseconds instead of seconds.
//
// Embedding. The authors fit 16-d points to the distance matrix of their library by gradient
// descent; those points exist only for library members. Here the same kind of fit (classical MDS,
// which the authors' code offers as its alternative) is done once on a fixed set of landmark
// models, and any architecture is placed by landmark MDS (de Silva and Tenenbaum, 2004) from its
// distances to the landmarks. Every architecture gets a fixed vector, deterministic across runs.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.hpp"
#include "search_spaces/flexibert/flexibert.hpp"

namespace nascent {

std::vector<std::string> flexibert_sorted_ops(const FlexiDesign& design) {
  std::vector<std::string> ops{"input", "output", "add_norm", ""};
  for (int width : design.feed_forward_widths) ops.push_back("f" + std::to_string(width));
  for (const char* op : {"l", "sa", "c"}) {
    ops.push_back("");
    for (int hidden : design.hiddens)
      for (const auto& [name, param] : design.operations)
        if (name == op) ops.push_back(std::string(op) + "_h" + std::to_string(hidden) + "_p-" + param);
  }
  return ops;
}

namespace {

constexpr double kEdgeCost = 0.1;
constexpr double kAddNormIndex = 2;

double label_index(const std::map<std::string, double>& index, const std::string& label) {
  auto found = index.find(label);
  if (found == index.end()) throw Error("flexibert: no edit cost for graph label '" + label + "'");
  return found->second;
}

struct LayerCosts {
  double head = 0;                  // idx(head label)
  int heads = 0;
  std::vector<double> feed_forward;  // idx(f<width>) per stack
};

LayerCosts layer_costs(const FlexiLayer& layer, const std::map<std::string, double>& index) {
  LayerCosts costs;
  costs.head = label_index(index, flexibert_head_label(layer));
  costs.heads = layer.heads;
  for (int width : layer.feed_forward) costs.feed_forward.push_back(label_index(index, "f" + std::to_string(width)));
  return costs;
}

// Removing (or inserting) a whole layer block: its nodes, its edges (two per head, the residual
// into each add_norm, the feed-forward chain), and re-linking its neighbours (two edge edits).
double layer_indel(const LayerCosts& layer) {
  double cost = layer.heads * (layer.head + 2 * kEdgeCost) + 2 * kAddNormIndex;
  for (double f : layer.feed_forward) cost += f;
  cost += kEdgeCost * (static_cast<double>(layer.feed_forward.size()) + 3);
  return cost + 2 * kEdgeCost;
}

// Mapping layer a onto layer b: heads substituted pairwise, surplus heads (with their two edges)
// inserted or deleted; feed-forward stacks substituted in order, a shorter chain dropping the
// surplus nodes (their Δ+1 edges) and re-closing the chain (one edge).
double layer_substitution(const LayerCosts& a, const LayerCosts& b) {
  const int shared_heads = std::min(a.heads, b.heads);
  double cost = shared_heads * std::abs(a.head - b.head);
  const LayerCosts& more_heads = a.heads > b.heads ? a : b;
  cost += std::abs(a.heads - b.heads) * (more_heads.head + 2 * kEdgeCost);
  const std::size_t shared_ff = std::min(a.feed_forward.size(), b.feed_forward.size());
  for (std::size_t i = 0; i < shared_ff; ++i) cost += std::abs(a.feed_forward[i] - b.feed_forward[i]);
  const auto& longer = a.feed_forward.size() > b.feed_forward.size() ? a.feed_forward : b.feed_forward;
  const std::size_t surplus = longer.size() - shared_ff;
  for (std::size_t i = shared_ff; i < longer.size(); ++i) cost += longer[i];
  if (surplus > 0) cost += kEdgeCost * (static_cast<double>(surplus) + 2);
  return cost;
}

}  // namespace

double flexibert_edit_distance(const FlexiModel& a, const FlexiModel& b, const std::vector<std::string>& sorted_ops) {
  std::map<std::string, double> index;
  for (std::size_t i = 0; i < sorted_ops.size(); ++i)
    if (!sorted_ops[i].empty()) index[sorted_ops[i]] = static_cast<double>(i);
  std::vector<LayerCosts> la, lb;
  for (const auto& layer : a) la.push_back(layer_costs(layer, index));
  for (const auto& layer : b) lb.push_back(layer_costs(layer, index));
  // Edit distance over the layer sequences.
  std::vector<std::vector<double>> cost(la.size() + 1, std::vector<double>(lb.size() + 1, 0));
  for (std::size_t i = 1; i <= la.size(); ++i) cost[i][0] = cost[i - 1][0] + layer_indel(la[i - 1]);
  for (std::size_t j = 1; j <= lb.size(); ++j) cost[0][j] = cost[0][j - 1] + layer_indel(lb[j - 1]);
  for (std::size_t i = 1; i <= la.size(); ++i)
    for (std::size_t j = 1; j <= lb.size(); ++j)
      cost[i][j] = std::min({cost[i - 1][j - 1] + layer_substitution(la[i - 1], lb[j - 1]),
                             cost[i - 1][j] + layer_indel(la[i - 1]), cost[i][j - 1] + layer_indel(lb[j - 1])});
  return cost[la.size()][lb.size()];
}

void FlexibertSpace::build_landmarks(int embedding_size, int landmark_count) {
  // Landmarks: distinct models drawn with a fixed seed, so every run and every library shares them.
  Rng rng(0x466c657869ULL);
  std::set<std::string> seen;
  for (int attempt = 0; attempt < 100 * landmark_count && static_cast<int>(landmarks_.size()) < landmark_count; ++attempt) {
    FlexiModel model = sample_model(rng);
    if (seen.insert(print_flexibert(model)).second) landmarks_.push_back(std::move(model));
  }
  const auto m = static_cast<std::int64_t>(landmarks_.size());
  torch::Tensor squared = torch::zeros({m, m}, torch::kFloat64);
  auto sq = squared.accessor<double, 2>();
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = i + 1; j < m; ++j) {
      const double d = flexibert_edit_distance(landmarks_[i], landmarks_[j], sorted_ops_);
      sq[i][j] = sq[j][i] = d * d;
    }
  torch::Tensor mean = squared.mean(0);
  // Classical MDS: B = -1/2 J D² J; its top eigenvectors scaled by sqrt(eigenvalue) are the points.
  torch::Tensor centred = squared - mean.unsqueeze(0) - squared.mean(1).unsqueeze(1) + squared.mean();
  torch::Tensor gram = -0.5 * centred;
  auto [values, vectors] = torch::linalg::eigh(gram, "L");  // ascending
  landmark_mean_sq_.assign(mean.data_ptr<double>(), mean.data_ptr<double>() + m);
  projection_.clear();
  for (int k = 0; k < embedding_size; ++k) {
    const std::int64_t column = m - 1 - k;
    const double value = values[column].item<double>();
    std::vector<double> row(m, 0.0);
    if (value > 1e-9) {
      torch::Tensor v = vectors.select(1, column).contiguous();
      // Eigenvector signs are arbitrary; fixing them keeps the embedding stable across BLAS builds.
      const double sign = v[v.abs().argmax().item<std::int64_t>()].item<double>() < 0 ? -1.0 : 1.0;
      for (std::int64_t j = 0; j < m; ++j) row[j] = sign * v[j].item<double>() / std::sqrt(value);
    }
    projection_.push_back(std::move(row));
  }
}

std::vector<double> FlexibertSpace::encode(const std::string& arch) const {
  const FlexiModel model = parse_flexibert(arch, design_);
  std::vector<double> centred(landmarks_.size());
  for (std::size_t j = 0; j < landmarks_.size(); ++j) {
    const double d = flexibert_edit_distance(model, landmarks_[j], sorted_ops_);
    centred[j] = d * d - landmark_mean_sq_[j];
  }
  std::vector<double> embedding;
  for (const auto& row : projection_) {
    double value = 0;
    for (std::size_t j = 0; j < row.size(); ++j) value += row[j] * centred[j];
    embedding.push_back(-0.5 * value);
  }
  return embedding;
}

}  // namespace nascent
