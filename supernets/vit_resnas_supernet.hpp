#pragma once
// The ViT-ResNAS network and its multi-architectural sampling supernet (spec B.1, B.3).
// One module class serves both: the supernet is the space's largest network, trained with
// per-sample channel masks so that every forward-backward pass trains several sub-networks; a
// sub-network is a smaller VitResNet whose weights are the supernet's leading slices.
#include <torch/torch.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/data_parallel.hpp"
#include "core/network.hpp"
#include "core/rng.hpp"
#include "core/training_state.hpp"
#include "core/search_space.hpp"
#include "datasets/dataset.hpp"
#include "search_spaces/vit_resnas/vit_resnas.hpp"

namespace nascent {

// Per-sample masks (1 keeps, 0 drops), each batch x 1 x width, for one forward pass.
struct VitMasks {
  std::vector<torch::Tensor> embed;                 // per stage
  std::vector<std::vector<torch::Tensor>> heads;    // per stage, per block: over heads x head_dim
  std::vector<std::vector<torch::Tensor>> mlp;      // over hidden units
  std::vector<std::vector<torch::Tensor>> layer;    // batch x 1 x 1: 0 removes the block
};

class VitResNetImpl;

class VitResNet : public Network {
 public:
  // Blocks that do not exist in `arch` are not built.
  VitResNet(const VitArch& arch, const Task& task, double drop_path = 0);
  torch::Tensor forward(torch::Tensor input) override;
  torch::Tensor forward_masked(torch::Tensor input, const VitMasks* masks, at::Generator* drop_path_generator);
  // The last stage's tokens (batch x tokens x width) before the head (Zen-NAS scores them).
  torch::Tensor features(torch::Tensor input) override;
  void reset_parameters(at::Generator& generator) override;

  const VitArch& arch() const { return arch_; }
  // Multiply-accumulates of one forward pass of a single image, read from the layers' actual shapes
  // as they run (the independent check of vit_macs).
  double measured_macs();

  struct Block : torch::nn::Module {
    Block(std::int64_t embed, std::int64_t heads, std::int64_t head_dim, std::int64_t mlp);
    torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
    torch::nn::Linear qkv{nullptr}, proj{nullptr}, fc1{nullptr}, fc2{nullptr};
    std::int64_t heads, head_dim;
  };
  struct Reduction : torch::nn::Module {
    Reduction(std::int64_t in, std::int64_t out, std::int64_t tokens);
    torch::nn::LayerNorm norm{nullptr};
    torch::nn::Conv2d conv{nullptr};
    torch::nn::Linear cls{nullptr};
    torch::Tensor pos_embed;
  };

  // Modules, public so that slicing and channel sorting can reach every weight.
  // Three ConvBnReLU 3x3 (the first with stride 2), with a residual around the last two.
  std::vector<torch::nn::Conv2d> stem_convs;
  std::vector<torch::nn::BatchNorm2d> stem_norms;
  torch::nn::Conv2d patch_proj{nullptr};
  torch::Tensor cls_token, pos_embed;
  std::vector<std::vector<std::shared_ptr<Block>>> blocks;  // existing blocks per stage
  std::vector<std::vector<std::size_t>> block_position;     // their positions in the space
  std::vector<std::shared_ptr<Reduction>> reductions;       // before stages 1..
  torch::nn::LayerNorm head_norm{nullptr};
  torch::nn::Linear head{nullptr};

 private:
  void init_token_embeddings(at::Generator& generator);
  // forward_masked in two parts: stem and stages to the last tokens, then the head.
  torch::Tensor tokens_masked(torch::Tensor input, const VitMasks* masks, at::Generator* drop_path_generator);
  torch::Tensor classify(const torch::Tensor& tokens, const VitMasks* masks);
  torch::Tensor counted(const torch::Tensor& out, torch::nn::Conv2d& conv);
  torch::Tensor counted(const torch::Tensor& out, torch::nn::Linear& linear);
  VitArch arch_;
  std::int64_t side_ = 0;
  double drop_path_ = 0;
  double* mac_counter_ = nullptr;
};

// A standalone network for `arch` holding `supernet`'s leading slices (sorted heads and units first).
std::shared_ptr<VitResNet> slice_vit(VitResNet& supernet, const VitArch& arch, const Task& task);

// Masks that make every sample of a batch run `arch` in the supernet (tests and evaluation).
VitMasks uniform_vit_masks(const VitSpaceSpec& spec, const VitArch& arch, std::int64_t batch);

// The same masks on `device`.
VitMasks masks_on(const VitMasks& masks, const torch::Device& device);

// Importance sorting ("rewiring"): heads by the L1 norm of their qkv rows, qkv biases and proj
// columns; MLP units by their fc1 row, fc1 bias and fc2 column. `follow(param, reorder)` is called
// for every parameter reordered, so that optimiser state of the same shape can be reordered alike.
using TensorReorder = std::function<torch::Tensor(const torch::Tensor&)>;
void rewire_vit(VitResNet& net, const std::function<void(const torch::Tensor&, const TensorReorder&)>& follow);

struct VitSupernetOptions {
  int epochs = 10;
  int warmup_width_epochs = 3;     // num_warmup_epochs: progressive widths, and rewiring each epoch up to it
  std::int64_t batch_size = 64;
  std::int64_t examples_per_arch = 16;  // so batch / examples sub-networks train per pass
  double lr = 5e-4;               // AdamW, scaled by batch / 512 as the reference does
  double weight_decay = 0.05;
  int warmup_epochs = 1;          // linear learning-rate warm-up, then cosine
  double label_smoothing = 0.1;
  double drop_path = 0.1;
  std::int64_t steps_per_epoch = 0;  // 0: one pass over the training split
};

struct VitEpochRecord {
  int epoch = 0;
  double train_loss = 0, seconds = 0, lr = 0;
  int widths_in_use = 0;  // nlc: how many of the largest choices each width mask draws from
};

// Trains the supernet (the space's largest VitResNet) on `train` with multi-architectural sampling.
// Everything random comes from `seed`. `on_step(epoch, step, steps, loss)` may throw to stop. With
// a `group`, every member calls this alike and trains on its share of each batch
// (core/data_parallel.hpp).
std::vector<VitEpochRecord> train_vit_supernet(VitResNet& supernet, const VitSpaceSpec& spec, const ImageSet& train,
                                               const VitSupernetOptions& options, std::uint64_t seed,
                                               const std::function<void(int, std::int64_t, std::int64_t, double)>& on_step,
                                               const TrainingCheckpoints& checkpoints = {}, DataParallel* group = nullptr);

}  // namespace nascent
