// The baselines of the einspace paper, written in the einspace grammar. The structure (which
// operations, in which order, with which widths) follows the authors' seed_architectures.py;
// the strings are composed here from a few building blocks.
#include <string>
#include <vector>

#include "search_spaces/einspace/einspace.hpp"

namespace nascent {

namespace {

std::string sequential(const std::string& first, const std::string& second) {
  return "sequential(" + first + ", " + second + ")";
}

// a, b, c, ... -> sequential(sequential(a, b), c) ...
std::string chain(const std::vector<std::string>& modules) {
  std::string result = modules.front();
  for (std::size_t i = 1; i < modules.size(); ++i) result = sequential(result, modules[i]);
  return result;
}

std::string computation(const std::string& op) { return "computation(" + op + ")"; }

std::string routing(const std::string& pre, const std::string& inner, const std::string& post) {
  return "routing(" + pre + ", " + inner + ", " + post + ")";
}

std::string branching(const std::string& split, const std::vector<std::string>& inners, const std::string& merge) {
  std::string text = "branching(" + split;
  for (const auto& inner : inners) text += ", " + inner;
  return text + ", " + merge + ")";
}

std::string residual(const std::string& body) {
  return branching("clone_tensor2", {body, computation("identity")}, "add_tensors");
}

// A convolution is im2col -> linear -> col2im; nascent builds it as a Conv2d.
std::string conv(int width, const std::string& unfold = "im2col3k1s1p") {
  return routing(unfold, computation("linear" + std::to_string(width)), "col2im");
}

const std::string norm = computation("norm");
const std::string relu = computation("leakyrelu");

// ResNet basic block: conv-norm-relu-conv-norm plus the shortcut, then relu. A block that
// changes width or resolution projects its shortcut with a strided 1x1 convolution and norm.
std::string resnet_block(int width, bool downsample) {
  const std::string body = chain({conv(width, downsample ? "im2col3k2s1p" : "im2col3k1s1p"), norm, relu, conv(width), norm});
  const std::string shortcut = downsample ? sequential(conv(width, "im2col1k2s0p"), norm) : computation("identity");
  return sequential(branching("clone_tensor2", {body, shortcut}, "add_tensors"), relu);
}

std::string resnet18() {
  // The max-pool is replaced by a strided convolution, as in the authors' resnet18_no_maxpool.
  const std::string stem = chain({conv(64), norm, relu, conv(64, "im2col3k2s1p")});
  std::vector<std::string> parts{stem};
  for (int width : {64, 128, 256, 512})
    for (int block = 0; block < 2; ++block) parts.push_back(resnet_block(width, block == 0 && width != 64));
  return chain(parts);
}

// Wide ResNet 16-4 blocks as in the authors' seeds: conv-norm-relu-conv plus a shortcut (a 1x1
// convolution where the width or resolution changes), then norm-relu.
std::string wide_block(int width, const std::string& shortcut_unfold) {
  const bool projects = !shortcut_unfold.empty();
  const std::string body = chain({conv(width, projects && shortcut_unfold == "im2col1k2s0p" ? "im2col3k2s1p" : "im2col3k1s1p"),
                                  sequential(norm, relu), conv(width)});
  const std::string shortcut = projects ? conv(width, shortcut_unfold) : computation("identity");
  return sequential(branching("clone_tensor2", {body, shortcut}, "add_tensors"), sequential(norm, relu));
}

std::string wrn16_4() {
  const std::string stem = chain({conv(16), norm, relu});
  return chain({stem, wide_block(64, "im2col1k1s0p"), wide_block(64, ""), wide_block(128, "im2col1k2s0p"), wide_block(128, ""),
                wide_block(256, "im2col1k2s0p"), wide_block(256, "")});
}

// 4x4 patches embedded to 512 features, plus a learnable positional encoding.
std::string patch_embedding() {
  return sequential(routing("im2col4k4s0p", computation("linear512"), "identity"), computation("learnable_positional_encoding"));
}

// One attention head: softmax(Q K^T / sqrt(d)) V with 64-wide Q, K, V.
std::string attention_head() {
  const std::string scores = branching("clone_tensor2",
                                       {computation("linear64"), routing("identity", computation("linear64"), "permute21")},
                                       "scaled_dot_product");
  return branching("clone_tensor2", {sequential(scores, computation("softmax")), computation("linear64")}, "dot_product");
}

std::string vit() {
  // Four heads (one shared architecture, four sets of weights), concatenated and projected.
  const std::string attention = sequential(branching("clone_tensor4", {attention_head()}, "cat_tensors2d4t"), computation("linear512"));
  const std::string mlp = chain({computation("linear512"), relu, computation("linear512")});
  const std::string layer = sequential(sequential(residual(attention), norm), sequential(residual(mlp), norm));
  std::vector<std::string> parts{patch_embedding()};
  for (int i = 0; i < 4; ++i) parts.push_back(layer);
  return chain(parts);
}

std::string mlp_mixer() {
  // Token mixing transposes to D x S, widens S 4x and back; channel mixing is 512-256-512.
  const std::string token_mixing = sequential(sequential(routing("permute21", computation("linear_x4"), "identity"), relu),
                                              routing("identity", computation("linear_4th"), "permute21"));
  const std::string channel_mixing = chain({computation("linear256"), relu, computation("linear512")});
  const std::string layer = residual(sequential(norm, sequential(token_mixing, channel_mixing)));
  std::vector<std::string> parts{patch_embedding()};
  for (int i = 0; i < 8; ++i) parts.push_back(layer);
  return chain(parts);
}

}  // namespace

const std::map<std::string, std::string>& einspace_seed_architectures() {
  static const std::map<std::string, std::string> seeds{
      {"resnet18", resnet18()}, {"wrn16_4", wrn16_4()}, {"vit", vit()}, {"mlp_mixer", mlp_mixer()}};
  return seeds;
}

}  // namespace nascent
