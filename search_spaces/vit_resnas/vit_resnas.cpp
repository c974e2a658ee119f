#include "search_spaces/vit_resnas/vit_resnas.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "core/error.hpp"
#include "core/network.hpp"
#include "supernets/vit_resnas_supernet.hpp"

namespace nascent {

namespace {

std::vector<std::int64_t> descending_range(std::int64_t high, std::int64_t low, std::int64_t step) {
  std::vector<std::int64_t> values;
  for (std::int64_t v = high; v >= low; v -= step) values.push_back(v);
  return values;
}

std::vector<bool> pattern(int pairs, bool trailing_fixed) {
  std::vector<bool> removable;
  for (int i = 0; i < pairs; ++i) {
    removable.push_back(false);
    removable.push_back(true);
  }
  if (trailing_fixed) removable.push_back(false);
  return removable;
}

// A nested tuple of integers, as Python prints a network_def.
struct TupleNode {
  bool is_int = false;
  std::int64_t value = 0;
  std::vector<TupleNode> items;
  std::size_t pos = 0;
};

class TupleReader {
 public:
  explicit TupleReader(const std::string& text) : text_(text) {}
  TupleNode read() {
    TupleNode node = item(0);
    skip();
    if (i_ != text_.size()) throw ParseError(text_, i_, "unexpected text after the network_def");
    return node;
  }

 private:
  void skip() {
    while (i_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[i_]))) ++i_;
  }
  // A network_def nests three levels deep; the limit stops a hostile string from exhausting the
  // stack through recursion.
  static constexpr int kMaxDepth = 8;
  TupleNode item(int depth) {
    skip();
    TupleNode node;
    node.pos = i_;
    if (depth > kMaxDepth) throw ParseError(text_, i_, "nested deeper than " + std::to_string(kMaxDepth) + " levels");
    if (i_ >= text_.size()) throw ParseError(text_, i_, "expected '(' or an integer");
    const char open = text_[i_];
    if (open == '(' || open == '[') {
      const char close = open == '(' ? ')' : ']';
      ++i_;
      skip();
      while (i_ < text_.size() && text_[i_] != close) {
        node.items.push_back(item(depth + 1));
        skip();
        if (i_ < text_.size() && text_[i_] == ',') {
          ++i_;
          skip();
        } else if (i_ < text_.size() && text_[i_] != close) {
          throw ParseError(text_, i_, std::string("expected ',' or '") + close + "'");
        }
      }
      if (i_ >= text_.size()) throw ParseError(text_, i_, std::string("missing '") + close + "'");
      ++i_;
      return node;
    }
    const std::size_t start = i_;
    while (i_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i_]))) ++i_;
    if (start == i_) throw ParseError(text_, i_, "expected '(' or an integer");
    node.is_int = true;
    try {
      node.value = std::stoll(text_.substr(start, i_ - start));
    } catch (const std::exception&) {
      throw ParseError(text_, start, "integer out of range");
    }
    return node;
  }
  const std::string& text_;
  std::size_t i_ = 0;
};

std::int64_t int_at(const std::string& text, const TupleNode& node, std::size_t index, const std::string& what) {
  if (node.is_int || index >= node.items.size() || !node.items[index].is_int)
    throw ParseError(text, node.pos, "expected " + what);
  return node.items[index].value;
}

bool contains(const std::vector<std::int64_t>& values, std::int64_t v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

std::string list_text(const std::vector<std::int64_t>& values) {
  std::string s;
  for (auto v : values) s += (s.empty() ? "" : ", ") + std::to_string(v);
  return "{" + s + "}";
}

}  // namespace

VitSpaceSpec VitSpaceSpec::named(const std::string& preset, std::int64_t width_divisor, std::int64_t classes) {
  VitSpaceSpec spec;
  spec.preset = preset;
  spec.classes = classes;
  if (preset == "tiny") {
    spec.stages = {{{256, 224, 192, 176, 160}, {6, 5, 4, 3}, descending_range(768, 384, 64), 32, pattern(3, false)},
                   {{512, 448, 384, 352, 320}, {12, 10, 8, 6}, descending_range(1536, 768, 128), 48, pattern(3, false)},
                   {{1024, 896, 768, 704, 640}, {12, 10, 8, 6}, descending_range(3072, 1536, 256), 64, pattern(3, false)}};
  } else if (preset == "small") {
    spec.stages = {{{320, 280, 240, 220, 200}, {8, 7, 6, 5}, descending_range(960, 480, 80), 32, pattern(3, true)},
                   {{640, 560, 480, 440, 400}, {16, 14, 12, 10}, descending_range(1920, 960, 160), 48, pattern(3, true)},
                   {{1280, 1120, 960, 880, 800}, {16, 14, 12, 10}, descending_range(3840, 1920, 320), 64, pattern(3, true)}};
  } else {
    throw Error("config: space.preset: unknown ViT-ResNAS space '" + preset + "' (expected tiny or small)");
  }
  if (width_divisor < 1) throw Error("config: space.width_divisor must be at least 1");
  if (classes < 1) throw Error("config: space.classes must be at least 1");
  const auto divide = [&](std::int64_t v) {
    if (v % width_divisor != 0)
      throw Error("config: space.width_divisor " + std::to_string(width_divisor) + " does not divide the width " +
                  std::to_string(v) + " of the " + preset + " space");
    return v / width_divisor;
  };
  for (auto& stage : spec.stages) {
    for (auto& v : stage.embeds) v = divide(v);
    for (auto& v : stage.mlps) v = divide(v);
    stage.head_dim = divide(stage.head_dim);
  }
  return spec;
}

VitArch VitSpaceSpec::largest() const {
  VitArch arch;
  arch.stem_mid = stem_mid;
  arch.classes = classes;
  for (const auto& stage : stages) {
    arch.embed.push_back(stage.embeds.front());
    arch.head_dim.push_back(stage.head_dim);
    arch.blocks.emplace_back(stage.removable.size(), VitBlock{stage.heads.front(), stage.mlps.front(), true});
  }
  return arch;
}

VitArch VitSpaceSpec::smallest() const {
  VitArch arch = largest();
  for (std::size_t s = 0; s < stages.size(); ++s) {
    arch.embed[s] = stages[s].embeds.back();
    for (std::size_t b = 0; b < arch.blocks[s].size(); ++b)
      arch.blocks[s][b] = {stages[s].heads.back(), stages[s].mlps.back(), !stages[s].removable[b]};
  }
  return arch;
}

VitArch parse_vit_arch(const std::string& text, const VitSpaceSpec& spec) {
  const TupleNode root = TupleReader(text).read();
  if (root.is_int || root.items.size() < 3) throw ParseError(text, 0, "expected a network_def tuple: ((4, C), blocks..., (2, C, classes))");
  VitArch arch;
  arch.stem_mid = spec.stem_mid;
  std::vector<std::vector<std::pair<VitBlock, std::size_t>>> listed(1);
  std::size_t stage = 0;
  for (std::size_t i = 0; i < root.items.size(); ++i) {
    const TupleNode& block = root.items[i];
    const std::int64_t type = int_at(text, block, 0, "a block (type, ...)");
    const bool first = i == 0, last = i + 1 == root.items.size();
    if (first != (type == 4) && (first || type == 4))
      throw ParseError(text, block.pos, first ? "the first block must be the conv patch embedding (4, C)" : "(4, C) may only come first");
    if (last != (type == 2)) throw ParseError(text, block.pos, last ? "the last block must be the head (2, C, classes)" : "(2, C, classes) may only come last");
    if (type == 4) {
      if (block.items.size() != 2) throw ParseError(text, block.pos, "expected (4, C)");
      arch.embed.push_back(int_at(text, block, 1, "(4, C)"));
    } else if (type == 3) {
      if (block.items.size() != 3) throw ParseError(text, block.pos, "expected (3, C_in, C_out)");
      if (int_at(text, block, 1, "(3, C_in, C_out)") != arch.embed.back())
        throw ParseError(text, block.pos, "the reduction's input width differs from the stage's embedding " + std::to_string(arch.embed.back()));
      arch.embed.push_back(int_at(text, block, 2, "(3, C_in, C_out)"));
      listed.emplace_back();
      ++stage;
    } else if (type == 1) {
      if (block.items.size() != 4 || block.items[1].items.size() != 3 || block.items[2].items.size() != 2)
        throw ParseError(text, block.pos, "expected (1, (C, heads, head_dim), (C, mlp_hidden), exists)");
      const auto& attn = block.items[1];
      const auto& mlp = block.items[2];
      const std::int64_t c1 = int_at(text, attn, 0, "(C, heads, head_dim)"), c2 = int_at(text, mlp, 0, "(C, mlp_hidden)");
      if (c1 != arch.embed.back() || c2 != arch.embed.back())
        throw ParseError(text, block.pos, "the block's width differs from the stage's embedding " + std::to_string(arch.embed.back()));
      if (stage >= spec.stages.size()) throw ParseError(text, block.pos, "more stages than the space's " + std::to_string(spec.stages.size()));
      const std::int64_t head_dim = int_at(text, attn, 2, "(C, heads, head_dim)");
      if (head_dim != spec.stages[stage].head_dim)
        throw ParseError(text, attn.pos, "head_dim " + std::to_string(head_dim) + " is not stage " + std::to_string(stage + 1) +
                                             "'s " + std::to_string(spec.stages[stage].head_dim));
      const std::int64_t exists = int_at(text, block, 3, "exists (0 or 1)");
      if (exists > 1) throw ParseError(text, block.items[3].pos, "exists must be 0 or 1");
      VitBlock b{int_at(text, attn, 1, "(C, heads, head_dim)"), int_at(text, mlp, 1, "(C, mlp_hidden)"), exists == 1};
      listed[stage].push_back({b, block.pos});
    } else if (type == 2) {
      if (block.items.size() != 3) throw ParseError(text, block.pos, "expected (2, C, classes)");
      if (int_at(text, block, 1, "(2, C, classes)") != arch.embed.back())
        throw ParseError(text, block.pos, "the head's width differs from the last embedding " + std::to_string(arch.embed.back()));
      arch.classes = int_at(text, block, 2, "(2, C, classes)");
      if (arch.classes < 1) throw ParseError(text, block.pos, "classes must be at least 1");
    } else {
      throw ParseError(text, block.pos, "unsupported block type " + std::to_string(type) +
                                            " (expected 4 conv embedding, 1 transformer, 3 spatial reduction, 2 head)");
    }
  }
  if (arch.embed.size() != spec.stages.size())
    throw ParseError(text, 0, "expected " + std::to_string(spec.stages.size()) + " stages, got " + std::to_string(arch.embed.size()));
  for (std::size_t s = 0; s < spec.stages.size(); ++s) {
    const auto& choices = spec.stages[s];
    arch.head_dim.push_back(choices.head_dim);
    if (!contains(choices.embeds, arch.embed[s]))
      throw ParseError(text, 0, "stage " + std::to_string(s + 1) + " embedding " + std::to_string(arch.embed[s]) + " is not one of " +
                                    list_text(choices.embeds));
    const std::size_t positions = choices.removable.size();
    const std::size_t fixed = static_cast<std::size_t>(std::count(choices.removable.begin(), choices.removable.end(), false));
    const auto& given = listed[s];
    std::vector<VitBlock> blocks;
    if (given.size() == positions) {
      for (std::size_t b = 0; b < positions; ++b) {
        if (!given[b].first.exists && !choices.removable[b])
          throw ParseError(text, given[b].second, "block " + std::to_string(b + 1) + " of stage " + std::to_string(s + 1) + " cannot be removed");
        blocks.push_back(given[b].first);
      }
    } else if (given.size() >= fixed && given.size() < positions) {
      std::size_t removed = positions - given.size();
      std::vector<bool> keep(positions, true);
      for (std::size_t b = positions; b-- > 0 && removed > 0;)
        if (choices.removable[b]) keep[b] = false, --removed;
      std::size_t next = 0;
      for (std::size_t b = 0; b < positions; ++b) {
        if (!keep[b]) {
          blocks.push_back({choices.heads.front(), choices.mlps.front(), false});
          continue;
        }
        if (!given[next].first.exists)
          throw ParseError(text, given[next].second, "a stage that lists only some blocks must list existing ones");
        blocks.push_back(given[next++].first);
      }
    } else {
      throw ParseError(text, 0, "stage " + std::to_string(s + 1) + " has " + std::to_string(given.size()) + " blocks; the space allows " +
                                    std::to_string(fixed) + " to " + std::to_string(positions));
    }
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      const std::size_t pos = given.size() == positions ? given[b].second : 0;
      if (!contains(choices.heads, blocks[b].heads))
        throw ParseError(text, pos, "stage " + std::to_string(s + 1) + " heads " + std::to_string(blocks[b].heads) + " is not one of " +
                                        list_text(choices.heads));
      if (!contains(choices.mlps, blocks[b].mlp))
        throw ParseError(text, pos, "stage " + std::to_string(s + 1) + " MLP hidden " + std::to_string(blocks[b].mlp) + " is not one of " +
                                        list_text(choices.mlps));
    }
    arch.blocks.push_back(blocks);
  }
  return arch;
}

std::string print_vit_arch(const VitArch& arch) {
  std::ostringstream out;
  out << "((4, " << arch.embed[0] << ")";
  for (std::size_t s = 0; s < arch.embed.size(); ++s) {
    if (s > 0) out << ", (3, " << arch.embed[s - 1] << ", " << arch.embed[s] << ")";
    for (const auto& b : arch.blocks[s])
      out << ", (1, (" << arch.embed[s] << ", " << b.heads << ", " << arch.head_dim[s] << "), (" << arch.embed[s] << ", " << b.mlp
          << "), " << (b.exists ? 1 : 0) << ")";
  }
  out << ", (2, " << arch.embed.back() << ", " << arch.classes << "))";
  return out.str();
}

std::int64_t vit_tokens_per_side(std::int64_t input_size, std::size_t stages) {
  std::int64_t required = 14;
  for (std::size_t s = 1; s < stages; ++s) required *= 2;
  if (input_size < required || input_size % required != 0)
    throw Error("ViT-ResNAS needs an input size divisible by " + std::to_string(required) + " (the stem's 14 times 2 per reduction), got " +
                std::to_string(input_size));
  return input_size / 14;
}

double vit_macs(const VitArch& arch, std::int64_t input_size, std::int64_t in_channels, std::int64_t classes) {
  std::int64_t side = vit_tokens_per_side(input_size, arch.embed.size());
  const double mid = static_cast<double>(input_size / 2) * static_cast<double>(input_size / 2);
  const double m = static_cast<double>(arch.stem_mid);
  double macs = in_channels * m * 9 * mid + 2 * m * m * 9 * mid + static_cast<double>(arch.embed[0]) * m * 49 * static_cast<double>(side * side);
  for (std::size_t s = 0; s < arch.embed.size(); ++s) {
    const double c = static_cast<double>(arch.embed[s]);
    if (s > 0) {
      side /= 2;
      const double cin = static_cast<double>(arch.embed[s - 1]);
      macs += static_cast<double>(side * side) * c * 9 * cin + cin * c;
    }
    const double n = static_cast<double>(side * side + 1);
    const double d = static_cast<double>(arch.head_dim[s]);
    for (const auto& b : arch.blocks[s]) {
      if (!b.exists) continue;
      const double hd = static_cast<double>(b.heads) * d;
      macs += c * hd * 3 * n + 2 * n * n * hd + n * hd * c + 2 * n * c * static_cast<double>(b.mlp);
    }
  }
  return macs + static_cast<double>(arch.embed.back()) * static_cast<double>(classes > 0 ? classes : arch.classes);
}

double vit_params(const VitArch& arch, std::int64_t input_size, std::int64_t in_channels, std::int64_t classes) {
  std::int64_t side = vit_tokens_per_side(input_size, arch.embed.size());
  const double m = static_cast<double>(arch.stem_mid);
  // Three bias-free 3x3 convs with batch norm, then the 7x7 projection (bias), cls token, positions.
  const double c0 = static_cast<double>(arch.embed[0]);
  double params = in_channels * m * 9 + 2 * m * m * 9 + 3 * 2 * m + c0 * m * 49 + c0 + c0 + static_cast<double>(side * side + 1) * c0;
  for (std::size_t s = 0; s < arch.embed.size(); ++s) {
    const double c = static_cast<double>(arch.embed[s]);
    if (s > 0) {
      side /= 2;
      const double cin = static_cast<double>(arch.embed[s - 1]);
      params += 2 * cin + c * cin * 9 + c + static_cast<double>(side * side) * c + cin * c + c;
    }
    for (const auto& b : arch.blocks[s]) {
      if (!b.exists) continue;
      const double hd = static_cast<double>(b.heads * arch.head_dim[s]);
      const double h = static_cast<double>(b.mlp);
      params += 4 * c + c * 3 * hd + 3 * hd + hd * c + c + c * h + h + h * c + c;
    }
  }
  const double c = static_cast<double>(arch.embed.back());
  return params + 2 * c + c * static_cast<double>(classes) + static_cast<double>(classes);
}

std::unique_ptr<SearchSpace> VitResNasSpace::from_options(const Options& options) {
  return std::make_unique<VitResNasSpace>(VitSpaceSpec::named(options.get<std::string>("preset"), options.get<long>("width_divisor"),
                                                              options.get<long>("classes")));
}

VitArch VitSpaceSpec::normalised(VitArch arch) const {
  for (std::size_t s = 0; s < arch.blocks.size(); ++s)
    for (auto& b : arch.blocks[s])
      if (!b.exists) b = {stages[s].heads.front(), stages[s].mlps.front(), false};
  return arch;
}

std::string VitResNasSpace::sample(Rng& rng) const {
  VitArch arch = spec_.largest();
  for (std::size_t s = 0; s < spec_.stages.size(); ++s) {
    const auto& c = spec_.stages[s];
    arch.embed[s] = c.embeds[uniform_index(rng, c.embeds.size())];
    for (std::size_t b = 0; b < c.removable.size(); ++b) {
      arch.blocks[s][b].heads = c.heads[uniform_index(rng, c.heads.size())];
      arch.blocks[s][b].mlp = c.mlps[uniform_index(rng, c.mlps.size())];
      arch.blocks[s][b].exists = !c.removable[b] || uniform_index(rng, 2) == 1;
    }
  }
  return print_vit_arch(spec_.normalised(arch));
}

std::string VitResNasSpace::mutate(const std::string& text, Rng& rng) const {
  const VitArch original = spec_.normalised(parse(text));
  for (int attempt = 0; attempt < 100; ++attempt) {
    VitArch arch = original;
    const std::size_t s = uniform_index(rng, spec_.stages.size());
    const auto& c = spec_.stages[s];
    const std::size_t b = uniform_index(rng, c.removable.size());
    switch (uniform_index(rng, 4)) {
      case 0: arch.embed[s] = c.embeds[uniform_index(rng, c.embeds.size())]; break;
      case 1: arch.blocks[s][b].heads = c.heads[uniform_index(rng, c.heads.size())]; break;
      case 2: arch.blocks[s][b].mlp = c.mlps[uniform_index(rng, c.mlps.size())]; break;
      default:
        if (c.removable[b]) arch.blocks[s][b].exists = !arch.blocks[s][b].exists;
    }
    arch = spec_.normalised(arch);
    if (!(arch == original)) return print_vit_arch(arch);
  }
  return print_vit_arch(original);
}

std::string VitResNasSpace::canonical(const std::string& text) const { return print_vit_arch(spec_.normalised(parse(text))); }

std::vector<double> VitResNasSpace::encode(const std::string& text) const {
  const VitArch arch = spec_.normalised(parse(text));
  std::vector<double> features;
  for (std::size_t s = 0; s < spec_.stages.size(); ++s) {
    const auto& c = spec_.stages[s];
    features.push_back(static_cast<double>(arch.embed[s]) / static_cast<double>(c.embeds.front()));
    for (const auto& b : arch.blocks[s]) {
      features.push_back(b.exists ? 1 : 0);
      features.push_back(b.exists ? static_cast<double>(b.heads) / static_cast<double>(c.heads.front()) : 0);
      features.push_back(b.exists ? static_cast<double>(b.mlp) / static_cast<double>(c.mlps.front()) : 0);
    }
  }
  return features;
}

std::string VitResNasSpace::drawing(const std::string& text) const {
  // One record per stage, its blocks side by side, joined by the residual spatial reductions.
  const VitArch arch = spec_.normalised(parse(text));
  std::ostringstream out;
  out << "digraph vit {\nstem [label=\"conv stem, " << arch.embed[0] << " channels\"];\n";
  std::string previous = "stem";
  for (std::size_t s = 0; s < arch.embed.size(); ++s) {
    if (s > 0) {
      const std::string reduction = "r" + std::to_string(s);
      out << reduction << " [label=\"reduction " << arch.embed[s - 1] << " to " << arch.embed[s] << "\", fillcolor=\"#ffffff\"];\n"
          << previous << " -> " << reduction << ";\n";
      previous = reduction;
    }
    out << "s" << s << " [shape=Mrecord, label=\"{stage " << s + 1 << " \\| embed " << arch.embed[s] << " \\| head dim " << arch.head_dim[s] << "|{";
    int shown = 0;
    for (const VitBlock& block : arch.blocks[s])
      if (block.exists) out << (shown++ ? "|" : "") << block.heads << " heads\\nmlp " << block.mlp;
    if (shown == 0) out << "no blocks";
    out << "}}\"];\n" << previous << " -> s" << s << ";\n";
    previous = "s" + std::to_string(s);
  }
  out << "head [label=\"head\"];\n" << previous << " -> head;\n}\n";
  return out.str();
}

ArchGraph VitResNasSpace::graph(const std::string& text) const {
  const VitArch arch = spec_.normalised(parse(text));
  ArchGraph g;
  GraphVertex x = add_op(g, "stem_c" + std::to_string(arch.embed[0]));
  for (std::size_t s = 0; s < arch.embed.size(); ++s) {
    if (s > 0) {
      GraphVertex r = add_op(g, "rsr_c" + std::to_string(arch.embed[s]));
      add_data_edge(g, x, r);
      x = r;
    }
    for (const auto& b : arch.blocks[s]) {
      if (!b.exists) continue;
      GraphVertex attn = add_op(g, "attn_h" + std::to_string(b.heads) + "_d" + std::to_string(arch.head_dim[s]));
      add_data_edge(g, x, attn);
      GraphVertex sum = add_op(g, "add", true);
      add_data_edge(g, x, sum);
      add_data_edge(g, attn, sum);
      GraphVertex mlp = add_op(g, "mlp_" + std::to_string(b.mlp));
      add_data_edge(g, sum, mlp);
      GraphVertex out = add_op(g, "add", true);
      add_data_edge(g, sum, out);
      add_data_edge(g, mlp, out);
      x = out;
    }
  }
  GraphVertex head = add_op(g, "head");
  add_data_edge(g, x, head);
  return g;
}

Description VitResNasSpace::describe(const std::string& text, const Task& task) const {
  const VitArch arch = spec_.normalised(parse(text));
  if (task.input_shape.size() != 3 || task.input_shape[1] != task.input_shape[2])
    throw Error("ViT-ResNAS needs square image inputs (channels, size, size)");
  Description d;
  d.flops = vit_macs(arch, task.input_shape[1], task.input_shape[0], task.num_classes);
  d.params = vit_params(arch, task.input_shape[1], task.input_shape[0], task.num_classes);
  d.graph = graph(text);
  for (std::size_t s = 0; s < arch.embed.size(); ++s) {
    d.extra["embed" + std::to_string(s + 1)] = static_cast<double>(arch.embed[s]);
    d.extra["depth" + std::to_string(s + 1)] =
        static_cast<double>(std::count_if(arch.blocks[s].begin(), arch.blocks[s].end(), [](const VitBlock& b) { return b.exists; }));
  }
  return d;
}

std::shared_ptr<Network> VitResNasSpace::build(const std::string& text, const Task& task) const {
  return std::make_shared<VitResNet>(spec_.normalised(parse(text)), task);
}

}  // namespace nascent
