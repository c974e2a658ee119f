#pragma once
// TorchScript export of any Network: nascent's own modules become a TorchScript module that
// Python loads with torch.jit.load and C++ with torch::jit::load, with the same logits.
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/network.hpp"

namespace nascent {

// What travels with an exported model as the extra file "nascent.json", so a pipeline knows
// what the module expects without the tool: the space and architecture, the input shape (one
// sample) and dtype, the classes, and the normalisation the training data had.
struct ExportInfo {
  std::string space, arch;
  std::vector<std::int64_t> input_shape;
  bool token_input = false;  // int64 token ids (text tasks) rather than float images
  std::int64_t num_classes = 0;
  std::vector<double> mean, std;
  std::vector<std::string> class_names;
  std::string json() const;
};

inline constexpr const char* kExportInfoFile = "nascent.json";

// Records `net`'s forward on `example` (eval mode) into a TorchScript module whose parameters and
// buffers are `net`'s own, in the same hierarchy and under the same names, so a state_dict taken
// in Python matches nascent's parameter names. The module's code is what the forward executed
// for this input: control flow decided by the architecture is fixed, which is what a found
// architecture wants; shapes other than the batch size are those of `example`.
// Throws Error naming the problem when the forward cannot be recorded.
torch::jit::Module to_torchscript(Network& net, const torch::Tensor& example);

// A fixed, seed-determined input for `info`: floats from N(0, 1) for images, token ids in
// [1, vocabulary) for token inputs (id 0 is padding).
torch::Tensor example_input(const ExportInfo& info, std::int64_t batch, std::int64_t vocabulary_size,
                            std::uint64_t seed = 0);

struct ExportFigures {
  double seconds = 0;           // recording, checking and writing
  std::uintmax_t bytes = 0;     // the file's size
  double max_difference = 0;    // |nascent logits - reloaded module's logits|, largest element
  bool other_batch_sizes = false;  // the reloaded module also matches on a batch of another size
};

// to_torchscript, then writes `path` (with ExportInfo as an extra file), reloads it and checks
// that the reloaded module's logits on `example` match `net`'s within `tolerance`; a mismatch is
// an Error and leaves no file behind.
ExportFigures export_torchscript(Network& net, const torch::Tensor& example, const ExportInfo& info,
                                 const std::string& path, double tolerance = 1e-5);

// Network weights as a file (LibTorch's archive of named tensors, tagged with the space and
// architecture), as final training writes them. Written atomically.
void save_weights(Network& net, const std::string& space, const std::string& arch, const std::string& path);
// Loads weights into `net` (built for `space` / `arch`); a file that is missing, not a weights
// archive, or made for another architecture is a one-line Error naming it.
void load_weights(Network& net, const std::string& space, const std::string& arch, const std::string& path);

}  // namespace nascent
