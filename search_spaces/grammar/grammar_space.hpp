#pragma once
#include <string>

#include "core/config.hpp"
#include "core/options.hpp"
#include "core/search_space.hpp"
#include "search_spaces/grammar/grammar.hpp"

namespace nascent {

// A search space defined by a grammar file: architectures are derivation strings, sampled,
// mutated and checked for the space's input shape (space option `input`, e.g. 1x28x28).
// Options: input, max_params, max_activation, max_macs, max_depth.
class GrammarSpace : public SearchSpace, public DrawsArchitecture {
 public:
  // `options`: input and the limits, as declared for the grammar spaces in search_spaces/builtin.cpp.
  GrammarSpace(std::string name, grammar::Grammar grammar, const Options& options);

  // `space: {name: grammar, file: my.yaml, ...}`.
  // The `grammar` space: a grammar file's space, from the options declared in search_spaces/builtin.cpp.
  static std::unique_ptr<SearchSpace> from_options(const Options& options);

  std::string name() const override { return name_; }
  std::string sample(Rng& rng) const override;
  std::string mutate(const std::string& arch, Rng& rng) const override;
  std::string canonical(const std::string& text) const override;
  std::vector<double> encode(const std::string& arch) const override;
  ArchGraph graph(const std::string& arch) const override;
  Description describe(const std::string& arch, const Task& task) const override;
  std::shared_ptr<Network> build(const std::string& arch, const Task& task) const override;
  std::string explain(const std::string& arch, const Task& task) const override;
  std::vector<std::int64_t> default_input_shape() const override { return input_; }
  std::string drawing(const std::string& arch) const override { return grammar::tree_dot(grammar_, parse(arch)); }
  std::string drawing_kind() const override { return "derivation tree"; }

  const grammar::Grammar& grammar() const { return grammar_; }
  const grammar::Shape& input_shape() const { return input_; }
  grammar::Node parse(const std::string& arch) const { return grammar::parse(grammar_, arch, input_); }

 private:
  grammar::Node parse_for(const std::string& arch, const Task& task) const;

  std::string name_;
  grammar::Grammar grammar_;
  grammar::Shape input_;
};

// The option keys every grammar space takes besides `name` (and `file` for the generic one).
grammar::Grammar apply_space_options(grammar::Grammar grammar, const Config& options, grammar::Shape& input);

}  // namespace nascent
