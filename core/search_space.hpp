#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/graph.hpp"
#include "core/rng.hpp"

namespace nascent {

class Network;  // core/network.hpp; kept out of this header so spaces' users need not pull LibTorch.

// What a network is built for: input shape (channels, height, width for images; sequence length
// for token inputs) and the number of output classes.
struct Task {
  std::vector<std::int64_t> input_shape{3, 32, 32};
  std::int64_t num_classes = 10;
  std::int64_t vocabulary_size = 0;  // token inputs: ids are < vocabulary_size (0 for images)
};

// The vocabulary of a task for a space that reads token sequences (input shape {L}): the task's,
// or `fallback` (the space's reference corpus) when the task names none. Image shapes are a
// one-line Error naming the space.
inline std::int64_t token_vocabulary(const Task& task, const std::string& space, std::int64_t fallback) {
  if (task.input_shape.size() != 1)
    throw Error(space + ": expects token sequences (input shape L), got " + std::to_string(task.input_shape.size()) +
                " dimensions; use a text dataset such as wordnet");
  return task.vocabulary_size > 0 ? task.vocabulary_size : fallback;
}

struct Description {
  double params = 0;  // trainable parameters
  double flops = 0;   // per sample, in the space's documented counting convention
  ArchGraph graph;
  std::map<std::string, double> extra;  // space-specific figures (e.g. depth, cells)
};

// An architecture names its space and a canonical string in that space's format.
struct Architecture {
  std::string space;
  std::string arch;
  bool operator==(const Architecture& other) const { return space == other.space && arch == other.arch; }
};

// The interface every search space implements; spaces join the registry (core/registry.hpp)
// by name, either compiled in or from a plugin shared library.
// Implementations must be thread-safe for const calls: candidates are evaluated in parallel.
class SearchSpace {
 public:
  virtual ~SearchSpace() = default;
  virtual std::string name() const = 0;

  virtual std::string sample(Rng& rng) const = 0;
  // A different, valid architecture near `arch`.
  virtual std::string mutate(const std::string& arch, Rng& rng) const = 0;

  // parse + print: returns the canonical string or throws ParseError saying what and where.
  // canonical(canonical(s)) == canonical(s) for every valid s.
  virtual std::string canonical(const std::string& text) const = 0;

  // Fixed-length numeric features for predictors and surrogates.
  virtual std::vector<double> encode(const std::string& arch) const = 0;

  // The computation graph view (for fingerprints and graph features).
  virtual ArchGraph graph(const std::string& arch) const = 0;

  // Parameters and FLOPs for the task's input shape, and the graph.
  virtual Description describe(const std::string& arch, const Task& task) const = 0;

  // A fresh, untrained LibTorch module for the task.
  virtual std::shared_ptr<Network> build(const std::string& arch, const Task& task) const = 0;

  // Isomorphism-aware identity: equivalent architectures share it.
  virtual std::string fingerprint(const std::string& arch) const { return nascent::fingerprint(graph(arch)); }

  // The input shape the space's architectures are written for, when it has one (describe's default).
  virtual std::vector<std::int64_t> default_input_shape() const { return Task{}.input_shape; }

  // A readable rendering beyond the graph (e.g. a derivation tree with shapes); empty if none.
  virtual std::string explain(const std::string& arch, const Task& task) const { return ""; }

  // The whole space, when it is small enough to list (empty otherwise).
  virtual std::vector<std::string> enumerate() const { return {}; }
};

// Capabilities: interfaces a space may implement besides SearchSpace, which methods ask for with
// require_capability (core/registry.hpp) instead of naming concrete spaces.

// A space whose trained networks can seed one another (BOSHNAS's weight transfer): the fraction
// of `target`'s parameter tensors that a trained `source` can fill, matched by name and shape.
class WeightOverlapSpace {
 public:
  virtual ~WeightOverlapSpace() = default;
  virtual double weight_overlap(const std::string& target, const std::string& source) const = 0;
};

// A space that can recombine two architectures (genetic crossover, e.g. for NSGA-II): a child
// that takes each decision from one of the parents.
class CrossoverSpace {
 public:
  virtual ~CrossoverSpace() = default;
  virtual std::string crossover(const std::string& a, const std::string& b, Rng& rng) const = 0;
};

// A space with a drawing of its own for the report (`nascent report`), where graph() is not what a
// reader wants to see: a grammar derivation as a tree, an elastic network by stage and block.
// drawing() is a Graphviz digraph; without this capability the report draws graph().
class DrawsArchitecture {
 public:
  virtual ~DrawsArchitecture() = default;
  virtual std::string drawing(const std::string& arch) const = 0;
  virtual std::string drawing_kind() const = 0;  // what the drawing shows, e.g. "derivation tree"
};

// A space whose architectures are the discretised cells of a one-shot supernet (DARTS, RARTS):
// the supernet's name in registries().supernets; its genotypes parse as this space's strings.
class CellSupernetSpace {
 public:
  virtual ~CellSupernetSpace() = default;
  virtual std::string cell_supernet() const = 0;
};

}  // namespace nascent
