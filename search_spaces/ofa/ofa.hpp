#pragma once
// Once-for-All (Cai et al., ICLR 2020): the elastic MobileNetV3 space of ofa_mbv3 (spec A.1).
// Five elastic stages of up to four MBConv blocks each: kernel {3,5,7} and expand ratio {3,4,6} per
// block, depth {2,3,4} per stage, and the input resolution. The supernet that shares weights across
// the space is supernets/ofa_mbv3.hpp; its training is supernets/progressive_shrinking.hpp.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/options.hpp"
#include "core/search_space.hpp"

namespace nascent {

// OFA's make_divisible (ofa/utils/pytorch_modules.py): round to a multiple of `divisor`, at least
// `divisor`, and never more than 10% below `value`.
std::int64_t ofa_make_divisible(double value, std::int64_t divisor = 8);

struct OfaArch;

struct OfaSpec {
  double width_mult = 1.0;
  std::vector<int> kernels{3, 5, 7}, expands{3, 4, 6}, depths{2, 3, 4};
  std::vector<std::int64_t> resolutions{128, 160, 192, 224};
  // base_stage_width after make_divisible: stem, block0, five stages, final expand, feature mix.
  std::vector<std::int64_t> widths() const;
  // Uniform per block and per stage, as sample_active_subnet; and the two extremes.
  OfaArch sample(Rng& rng) const;
  OfaArch largest() const;
  OfaArch smallest() const;
  static constexpr int kStages = 5;
  static constexpr int kMaxDepth = 4;
  static constexpr int kBlocks = kStages * kMaxDepth;
};

// A sub-network: per block kernel and expand ratio (entries of blocks beyond a stage's depth are
// ignored), per stage depth, and the resolution.
struct OfaArch {
  std::vector<int> ks, e, d;
  std::int64_t r = 224;
  bool active(int block) const { return block % OfaSpec::kMaxDepth < d[static_cast<std::size_t>(block / OfaSpec::kMaxDepth)]; }
  bool operator==(const OfaArch& other) const { return ks == other.ks && e == other.e && d == other.d && r == other.r; }
};

// Text form: "r<R>/" then per stage its active blocks as k<kernel>e<expand>, comma-separated, stages
// separated by '/', e.g. "r32/k3e4,k5e6/k7e3,k3e3,k3e4/...". Reading also accepts OFA's config dict
// {"ks": [20], "e": [20], "d": [5], "r": [R]} (or "image_size": R).
OfaArch parse_ofa_arch(const std::string& text, const OfaSpec& spec);
std::string print_ofa_arch(const OfaArch& arch);

// The middle width of an MBConv with `in` channels and expand ratio `e`.
std::int64_t ofa_mid_channels(std::int64_t in, int e);

// count_flops_given_config (spec A.5): multiply-accumulates of every convolution and the classifier
// at the arch's resolution (BN, activations and residual adds excluded), for `in_channels` inputs.
double ofa_flops(const OfaSpec& spec, const OfaArch& arch, std::int64_t in_channels = 3, std::int64_t classes = 1000);

// Inactive blocks' entries set to 0, so that equal sub-networks compare equal.
OfaArch ofa_normalised(OfaArch arch);
// Inactive blocks' entries drawn from `spec`, so that mutation or crossover can deepen a stage.
OfaArch ofa_filled(OfaArch arch, const OfaSpec& spec, Rng& rng);

// Trainable parameters of the standalone sub-network (supernets/ofa_mbv3.hpp) for `arch`.
double ofa_params(const OfaSpec& spec, const OfaArch& arch, std::int64_t in_channels, std::int64_t classes);

// The stride of each elastic stage's first block, and whether the stage uses squeeze-and-excitation
// and h-swish (ofa_mbv3's stride_stages, se_stages and act_stages without the stem's entry).
int ofa_stage_stride(int stage);
bool ofa_stage_se(int stage);
bool ofa_stage_hswish(int stage);

// Capability: a space whose architectures are sub-networks of the elastic MobileNetV3 supernet
// (supernets/ofa_mbv3.hpp), which the OFA method trains and searches. Its strings must parse with
// parse_ofa_arch under this spec; any space that implements it, built in or plugged in, can be
// searched by `strategy: ofa`.
class ElasticMbv3Space {
 public:
  virtual ~ElasticMbv3Space() = default;
  virtual const OfaSpec& elastic_mbv3() const = 0;
};

class OfaSpace : public SearchSpace, public ElasticMbv3Space, public DrawsArchitecture {
 public:
  explicit OfaSpace(OfaSpec spec) : spec_(std::move(spec)) {}
  // Options: width_mult, resolutions (list), kernels, expands, depths.
  // From the options declared in search_spaces/builtin.cpp.
  static std::unique_ptr<SearchSpace> from_options(const Options& options);
  static OfaSpec read_spec(const Options& options);

  std::string name() const override { return "ofa_mbv3"; }
  std::string sample(Rng& rng) const override;  // uniform per block and per stage, as sample_active_subnet
  std::string mutate(const std::string& arch, Rng& rng) const override;
  std::string canonical(const std::string& text) const override;
  // Encoding B of spec A.4: resolution one-hot, then per block kernel and expand one-hot (zeros when inactive).
  std::vector<double> encode(const std::string& arch) const override;
  ArchGraph graph(const std::string& arch) const override;
  Description describe(const std::string& arch, const Task& task) const override;
  std::shared_ptr<Network> build(const std::string& arch, const Task& task) const override;
  std::vector<std::int64_t> default_input_shape() const override { return {3, spec_.resolutions.back(), spec_.resolutions.back()}; }

  const OfaSpec& spec() const { return spec_; }
  const OfaSpec& elastic_mbv3() const override { return spec_; }
  // Stages as rows of their active MBConv blocks (kernel, expand ratio, stride), stem to head.
  std::string drawing(const std::string& arch) const override;
  std::string drawing_kind() const override { return "stages and blocks"; }
  OfaArch parse(const std::string& text) const { return parse_ofa_arch(text, spec_); }

 private:
  OfaSpec spec_;
};

}  // namespace nascent
