#pragma once
// ViT-ResNAS (Liao, Karaman & Sze, 2021; yilunliao/vit-search): multi-stage vision transformers
// with residual spatial reduction, searched inside a weight-sharing supernet
// (supernets/vit_resnas_supernet.hpp) by evolution under a MACs window
// (strategies/vit_resnas_evolution.hpp).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/options.hpp"
#include "core/search_space.hpp"

namespace nascent {

// One transformer block: pre-LN attention with `heads` x `head_dim` (the stage's) and an MLP of
// `mlp` hidden units. A removed block (`exists` false) is a bypass.
struct VitBlock {
  std::int64_t heads = 0, mlp = 0;
  bool exists = true;
  bool operator==(const VitBlock& other) const { return heads == other.heads && mlp == other.mlp && exists == other.exists; }
};

// A network_def: per stage its embedding width and its blocks (one per position of the space,
// removed ones included). Stage 0 follows the conv patch embedding (type 4: three 3x3 convs of
// `stem_mid` channels then a 7x7 stride-7 projection); stage s > 0 follows a residual spatial
// reduction (type 3) from stage s-1's width.
struct VitArch {
  std::vector<std::int64_t> embed;
  std::vector<std::int64_t> head_dim;
  std::vector<std::vector<VitBlock>> blocks;
  std::int64_t stem_mid = 24;
  std::int64_t classes = 1000;
  bool operator==(const VitArch& other) const {
    return embed == other.embed && head_dim == other.head_dim && blocks == other.blocks && stem_mid == other.stem_mid &&
           classes == other.classes;
  }
};

// The choices of one stage. Widths are listed largest first (the supernet's channel order).
struct VitStageChoices {
  std::vector<std::int64_t> embeds, heads, mlps;
  std::int64_t head_dim = 0;
  std::vector<bool> removable;  // per block position
};

struct VitSpaceSpec {
  std::string preset;  // tiny or small
  std::vector<VitStageChoices> stages;
  std::int64_t stem_mid = 24;
  std::int64_t classes = 1000;
  // The spec's sr_tiny_mh / sr_small_mh; width_divisor > 1 divides every embedding, head dim and
  // MLP width (each must divide exactly) for CPU-sized supernets.
  static VitSpaceSpec named(const std::string& preset, std::int64_t width_divisor = 1, std::int64_t classes = 1000);
  VitArch largest() const;
  VitArch smallest() const;
  // Removed blocks take the stage's largest heads and MLP, so that equal networks print alike.
  VitArch normalised(VitArch arch) const;
};

// The reference's tuple text, e.g. "((4, 176), (1, (176, 3, 32), (176, 704), 1), ..., (3, 176, 352), ...,
// (2, 704, 1000))". Reading also accepts stages that list only their existing blocks (as the
// searched nets in the reference's scripts do): the last removable positions are then the removed ones.
VitArch parse_vit_arch(const std::string& text, const VitSpaceSpec& spec);
std::string print_vit_arch(const VitArch& arch);

// MACs of the reference's ComputationEstimator (distill=False, patch 14, return_mac=True) generalised
// to any input size that the stem and reductions divide: multiply-accumulates of the conv stem, qkv,
// attention scores and weighted sums, projections, MLPs, reductions and the head; normalisation,
// softmax, activations and biases excluded. `classes` overrides the def's head when > 0.
double vit_macs(const VitArch& arch, std::int64_t input_size, std::int64_t in_channels = 3, std::int64_t classes = 0);
// Trainable parameters of the network supernets/vit_resnas_supernet.cpp builds.
double vit_params(const VitArch& arch, std::int64_t input_size, std::int64_t in_channels, std::int64_t classes);
// Tokens per side after the stem (input / 14), checked to halve at every reduction; throws Error otherwise.
std::int64_t vit_tokens_per_side(std::int64_t input_size, std::size_t stages);

// Capability: a space whose architectures are sub-networks of the multi-stage ViT supernet
// (supernets/vit_resnas_supernet.hpp), which the vit_resnas method trains and searches. Its strings
// must parse with parse_vit_arch under this spec; any space that implements it, built in or plugged
// in, can be searched by `strategy: vit_resnas`.
class VitResNasSupernetSpace {
 public:
  virtual ~VitResNasSupernetSpace() = default;
  virtual const VitSpaceSpec& vit_resnas() const = 0;
};

class VitResNasSpace : public SearchSpace, public VitResNasSupernetSpace, public DrawsArchitecture {
 public:
  explicit VitResNasSpace(VitSpaceSpec spec) : spec_(std::move(spec)) {}
  // Options: preset (tiny | small), width_divisor, classes (written into the head entry).
  // From the options declared in search_spaces/builtin.cpp.
  static std::unique_ptr<SearchSpace> from_options(const Options& options);

  std::string name() const override { return "vit_resnas"; }
  std::string sample(Rng& rng) const override;  // every gene uniform
  std::string mutate(const std::string& arch, Rng& rng) const override;
  std::string canonical(const std::string& text) const override;
  std::vector<double> encode(const std::string& arch) const override;
  ArchGraph graph(const std::string& arch) const override;
  Description describe(const std::string& arch, const Task& task) const override;
  std::shared_ptr<Network> build(const std::string& arch, const Task& task) const override;
  std::vector<std::int64_t> default_input_shape() const override { return {3, 224, 224}; }

  const VitSpaceSpec& spec() const { return spec_; }
  const VitSpaceSpec& vit_resnas() const override { return spec_; }
  // Stages as rows of their transformer blocks (heads, MLP width), joined by the reductions.
  std::string drawing(const std::string& arch) const override;
  std::string drawing_kind() const override { return "stages and blocks"; }
  VitArch parse(const std::string& text) const { return parse_vit_arch(text, spec_); }

 private:
  VitSpaceSpec spec_;
};

}  // namespace nascent
