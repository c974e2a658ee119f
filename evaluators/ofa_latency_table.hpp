#pragma once
// OFA's latency lookup table (spec A.5, MBv3LatencyTable), measured here rather than shipped: every
// block configuration the space can use is timed on the user's device at batch 1, and a
// sub-network's latency is predicted as the sum of its stem, active blocks and head.
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "search_spaces/ofa/ofa.hpp"

namespace nascent {

class Network;

// Milliseconds over `count` timed runs. Predictions sum medians: on a shared CPU a few slow runs
// (another process, a page fault) move a block's mean by more than the differences between blocks.
struct LatencyStat {
  int count = 0;
  double mean = 0, std = 0, median = 0;
};

class OfaLatencyTable {
 public:
  // Keys as the reference's tables: "expanded_conv-input:HxWxC-output:HxWxC-expand:<mid>-kernel:<k>-
  // stride:<s>-idskip:<0|1>-se:<0|1>-hs:<0|1>" per block shape; the stem with block0 is one entry
  // ("Conv+first_block-input:..."), the final expand, pooling, feature mix and classifier another
  // ("Conv_1+AvgPool2D+Conv_2+Logits-input:..."). `progress(done, total)` after each entry.
  static OfaLatencyTable measure(const OfaSpec& spec, std::int64_t in_channels, std::int64_t classes, const std::string& device,
                                 int repeats, const std::function<void(std::size_t, std::size_t)>& progress = {});
  // Throws Error naming the first entry the table lacks (a table built for another space or device).
  double predict(const OfaSpec& spec, const OfaArch& arch) const;

  void save(const std::string& path) const;
  // Throws a one-line Error for a missing or malformed file.
  static OfaLatencyTable load(const std::string& path);

  std::map<std::string, LatencyStat> entries;
  std::string device;
  std::string space;  // width_mult, resolutions, channels and classes it was built for
  std::int64_t in_channels = 3, classes = 1000;
};

// A description of what a table covers; load_or_measure compares it with the stored one.
std::string ofa_latency_space_key(const OfaSpec& spec, std::int64_t in_channels, std::int64_t classes);

// Median wall-clock milliseconds of `net` on one image of `shape` (C, H, W) on `device` after warm-up.
double measure_latency_ms(Network& net, const std::vector<std::int64_t>& shape, const std::string& device, int repeats);

}  // namespace nascent
