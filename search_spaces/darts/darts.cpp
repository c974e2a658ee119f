#include "search_spaces/darts/darts.hpp"

#include <algorithm>
#include <cctype>

#include "core/error.hpp"
#include "core/network.hpp"
#include "core/probe.hpp"
#include "search_spaces/darts/darts_ops.hpp"

namespace nascent {

namespace {

// A cursor over the genotype text that skips blanks and reports errors at its position.
class Reader {
 public:
  explicit Reader(const std::string& text) : text_(text) {}
  void skip() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool accept(char c) {
    skip();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c, const std::string& where) {
    if (!accept(c)) fail(std::string("expected '") + c + "' " + where);
  }
  std::string identifier() {
    skip();
    const std::size_t start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  std::string quoted() {
    skip();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) fail("expected a quoted operation name");
    const char quote = text_[pos_++];
    const std::size_t end = text_.find(quote, pos_);
    if (end == std::string::npos) fail("unterminated quoted name");
    std::string value = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return value;
  }
  int integer() {
    skip();
    const std::size_t start = pos_;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    if (start == pos_ || pos_ - start > 6) {
      pos_ = start;
      fail("expected a node index");
    }
    return std::stoi(text_.substr(start, pos_ - start));
  }
  bool done() {
    skip();
    return pos_ == text_.size();
  }
  std::size_t position() const { return pos_; }
  [[noreturn]] void fail(const std::string& what) const { throw ParseError(text_, pos_, what); }
  [[noreturn]] void fail_at(std::size_t pos, const std::string& what) const { throw ParseError(text_, pos, what); }

 private:
  const std::string& text_;
  std::size_t pos_ = 0;
};

std::vector<DartsGenotype::Edge> read_edges(Reader& in, const std::string& field, int steps) {
  std::vector<DartsGenotype::Edge> edges;
  in.expect('[', "to open " + field);
  if (in.accept(']')) in.fail(field + " is empty");
  do {
    const int k = static_cast<int>(edges.size());
    const int node = k / 2;
    in.expect('(', "to open an (operation, input) pair of " + field);
    const std::size_t op_pos = in.position();
    const std::string op_name = in.quoted();
    const int op = darts_op_index(op_name);
    if (op < 0) {
      std::string known;
      for (int o = 1; o < kDartsNumOps; ++o) known += (o > 1 ? ", " : "") + std::string(kDartsOps[o]);
      in.fail_at(op_pos, "unknown operation '" + op_name + "' (expected one of " + known + ")");
    }
    if (op == 0) in.fail_at(op_pos, "'none' cannot be kept in a genotype (DARTS drops it when deriving)");
    in.expect(',', "after the operation");
    const std::size_t input_pos = in.position();
    const int input = in.integer();
    if (node < steps && input >= node + 2)
      in.fail_at(input_pos, field + " node " + std::to_string(node) + " can only take inputs 0 to " +
                                std::to_string(node + 1) + ", got " + std::to_string(input));
    in.expect(')', "to close the pair");
    edges.push_back({op, input});
  } while (in.accept(','));
  in.expect(']', "to close " + field);
  if (static_cast<int>(edges.size()) != 2 * steps)
    in.fail(field + " has " + std::to_string(edges.size()) + " pairs; " + std::to_string(steps) +
            " nodes need " + std::to_string(2 * steps));
  return edges;
}

std::vector<int> read_concat(Reader& in, const std::string& field, int steps) {
  std::vector<int> concat;
  const std::size_t start = in.position();
  if (in.accept('[')) {
    if (!in.accept(']')) {
      do concat.push_back(in.integer());
      while (in.accept(','));
      in.expect(']', "to close " + field);
    }
  } else if (in.identifier() == "range") {
    in.expect('(', "after range");
    const int begin = in.integer();
    in.expect(',', "in range(begin, end)");
    const int end = in.integer();
    in.expect(')', "to close range");
    for (int i = begin; i < end; ++i) concat.push_back(i);
  } else {
    in.fail_at(start, "expected a list or range(...) for " + field);
  }
  if (concat.empty()) in.fail_at(start, field + " is empty");
  std::vector<int> sorted = concat;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) in.fail_at(start, field + " repeats a state");
  if (sorted.back() >= steps + 2)
    in.fail_at(start, field + " names state " + std::to_string(sorted.back()) + " but the cell has states 0 to " +
                          std::to_string(steps + 1));
  return sorted;
}

void canonicalise(std::vector<DartsGenotype::Edge>& edges) {
  for (std::size_t k = 0; k + 1 < edges.size(); k += 2)
    if (edges[k + 1] < edges[k]) std::swap(edges[k], edges[k + 1]);
}

std::string print_edges(const std::vector<DartsGenotype::Edge>& edges) {
  std::string text = "[";
  for (std::size_t k = 0; k < edges.size(); ++k)
    text += (k ? ", ('" : "('") + std::string(kDartsOps[edges[k].op]) + "', " + std::to_string(edges[k].input) + ")";
  return text + "]";
}

std::string print_concat(const std::vector<int>& concat) {
  std::string text = "[";
  for (std::size_t k = 0; k < concat.size(); ++k) text += (k ? ", " : "") + std::to_string(concat[k]);
  return text + "]";
}

}  // namespace

DartsSpace::DartsSpace(int channels, int layers, int steps) : channels_(channels), layers_(layers), steps_(steps) {
  if (channels < 2 || channels % 2 != 0) throw Error("darts: channels must be even and at least 2 (FactorizedReduce halves them)");
  if (layers < 1) throw Error("darts: layers must be at least 1");
  if (steps < 1) throw Error("darts: steps must be at least 1");
}

std::unique_ptr<SearchSpace> DartsSpace::from_options(const Options& options) {
  return std::make_unique<DartsSpace>(options.get<int>("channels"), options.get<int>("layers"), options.get<int>("steps"));
}

DartsGenotype DartsSpace::parse(const std::string& text) const {
  Reader in(text);
  if (in.identifier() != "Genotype") in.fail_at(0, "expected Genotype(normal=[...], normal_concat=[...], reduce=[...], reduce_concat=[...])");
  in.expect('(', "after Genotype");
  DartsGenotype genotype;
  bool seen[4] = {false, false, false, false};
  const char* fields[4] = {"normal", "normal_concat", "reduce", "reduce_concat"};
  do {
    const std::size_t key_pos = in.position();
    const std::string key = in.identifier();
    const int field = static_cast<int>(std::find_if(fields, fields + 4, [&](const char* f) { return key == f; }) - fields);
    if (field == 4) in.fail_at(key_pos, "unknown field '" + key + "' (expected normal, normal_concat, reduce, reduce_concat)");
    if (seen[field]) in.fail_at(key_pos, "field " + key + " given twice");
    seen[field] = true;
    in.expect('=', "after " + key);
    switch (field) {
      case 0: genotype.normal = read_edges(in, key, steps_); break;
      case 1: genotype.normal_concat = read_concat(in, key, steps_); break;
      case 2: genotype.reduce = read_edges(in, key, steps_); break;
      default: genotype.reduce_concat = read_concat(in, key, steps_); break;
    }
  } while (in.accept(','));
  in.expect(')', "to close Genotype");
  if (!in.done()) in.fail("unexpected trailing text");
  for (int f = 0; f < 4; ++f)
    if (!seen[f]) in.fail(std::string("missing field ") + fields[f]);
  canonicalise(genotype.normal);
  canonicalise(genotype.reduce);
  return genotype;
}

std::string DartsSpace::print(const DartsGenotype& g) {
  return "Genotype(normal=" + print_edges(g.normal) + ", normal_concat=" + print_concat(g.normal_concat) +
         ", reduce=" + print_edges(g.reduce) + ", reduce_concat=" + print_concat(g.reduce_concat) + ")";
}

std::string DartsSpace::canonical(const std::string& text) const { return print(parse(text)); }

std::string DartsSpace::sample(Rng& rng) const {
  DartsGenotype g;
  for (auto* edges : {&g.normal, &g.reduce}) {
    for (int node = 0; node < steps_; ++node) {
      // Two different predecessors, as DARTS's derivation keeps.
      const std::vector<std::int64_t> inputs = shuffled_indices(node + 2, rng);
      for (int k = 0; k < 2; ++k)
        edges->push_back({1 + static_cast<int>(uniform_index(rng, kDartsNumOps - 1)), static_cast<int>(inputs[k])});
    }
    canonicalise(*edges);
  }
  for (int s = 2; s < steps_ + 2; ++s) {
    g.normal_concat.push_back(s);
    g.reduce_concat.push_back(s);
  }
  return print(g);
}

std::string DartsSpace::mutate(const std::string& arch, Rng& rng) const {
  DartsGenotype g = parse(arch);
  auto& edges = uniform_index(rng, 2) == 0 ? g.normal : g.reduce;
  const std::size_t k = uniform_index(rng, edges.size());
  const int node = static_cast<int>(k / 2);
  if (uniform_index(rng, 2) == 0) {
    edges[k].op = 1 + static_cast<int>((edges[k].op - 1 + 1 + uniform_index(rng, kDartsNumOps - 2)) % (kDartsNumOps - 1));
  } else {
    const int options = node + 2;
    edges[k].input = static_cast<int>((edges[k].input + 1 + uniform_index(rng, options - 1)) % options);
  }
  canonicalise(edges);
  return print(g);
}

std::vector<double> DartsSpace::encode(const std::string& arch) const {
  const DartsGenotype g = parse(arch);
  const int edges_per_cell = steps_ * (steps_ + 3) / 2;  // node i has i + 2 predecessors
  std::vector<double> features;
  for (const auto* edges : {&g.normal, &g.reduce}) {
    std::vector<double> cell(static_cast<std::size_t>(edges_per_cell) * (kDartsNumOps - 1), 0.0);
    for (std::size_t k = 0; k < edges->size(); ++k) {
      const int node = static_cast<int>(k / 2);
      const int edge = node * (node + 3) / 2 + (*edges)[k].input;  // edges into earlier nodes come first
      cell[static_cast<std::size_t>(edge) * (kDartsNumOps - 1) + (*edges)[k].op - 1] += 1.0;
    }
    features.insert(features.end(), cell.begin(), cell.end());
  }
  for (const auto* concat : {&g.normal_concat, &g.reduce_concat}) {
    std::vector<double> mask(static_cast<std::size_t>(steps_ + 2), 0.0);
    for (int s : *concat) mask[static_cast<std::size_t>(s)] = 1.0;
    features.insert(features.end(), mask.begin(), mask.end());
  }
  return features;
}

ArchGraph DartsSpace::graph(const std::string& arch) const {
  const DartsGenotype g = parse(arch);
  ArchGraph graph;
  const GraphVertex out = add_op(graph, "output");
  int slot = 0;
  for (const auto& [prefix, edges, concat] :
       {std::tuple{std::string("normal."), &g.normal, &g.normal_concat}, std::tuple{std::string("reduce."), &g.reduce, &g.reduce_concat}}) {
    std::vector<GraphVertex> state{add_op(graph, prefix + "c_{k-2}"), add_op(graph, prefix + "c_{k-1}")};
    for (int node = 0; node < steps_; ++node) {
      const GraphVertex sum = add_op(graph, "add", /*commutative=*/true);
      for (int k = 0; k < 2; ++k) {
        const auto& edge = (*edges)[static_cast<std::size_t>(2 * node + k)];
        const GraphVertex op = add_op(graph, kDartsOps[edge.op]);
        add_data_edge(graph, state[static_cast<std::size_t>(edge.input)], op);
        add_data_edge(graph, op, sum);
      }
      state.push_back(sum);
    }
    const GraphVertex cat = add_op(graph, prefix + "concat");
    int position = 0;
    for (int s : *concat) add_data_edge(graph, state[static_cast<std::size_t>(s)], cat, position++);
    add_data_edge(graph, cat, out, slot++);
  }
  return graph;
}

namespace {

class DartsCellImpl : public torch::nn::Module {
 public:
  DartsCellImpl(const std::vector<DartsGenotype::Edge>& edges, const std::vector<int>& concat, std::int64_t c_prev_prev,
                std::int64_t c_prev, std::int64_t c, bool reduction, bool reduction_prev)
      : edges_(edges), concat_(concat) {
    if (reduction_prev) reduce0_ = register_module("preprocess0", FactorizedReduce(c_prev_prev, c, true));
    else preprocess0_ = register_module("preprocess0", DartsReLUConvBN(c_prev_prev, c, 1, 1, 0, true));
    preprocess1_ = register_module("preprocess1", DartsReLUConvBN(c_prev, c, 1, 1, 0, true));
    for (std::size_t k = 0; k < edges.size(); ++k) {
      const int stride = reduction && edges[k].input < 2 ? 2 : 1;
      ops_.push_back(register_module("op" + std::to_string(k), DartsOp(edges[k].op, c, stride, true, false)));
    }
  }
  torch::Tensor forward(const torch::Tensor& s0, const torch::Tensor& s1) {
    std::vector<torch::Tensor> states{reduce0_ ? reduce0_->forward(s0) : preprocess0_->forward(s0), preprocess1_->forward(s1)};
    for (std::size_t k = 0; k < edges_.size(); k += 2)
      states.push_back(ops_[k]->forward(states[edges_[k].input]) + ops_[k + 1]->forward(states[edges_[k + 1].input]));
    std::vector<torch::Tensor> out;
    for (int s : concat_) out.push_back(states[static_cast<std::size_t>(s)]);
    return torch::cat(out, 1);
  }

 private:
  std::vector<DartsGenotype::Edge> edges_;
  std::vector<int> concat_;
  // s0's preprocessing: FactorizedReduce after a reduction cell, ReLU-conv1x1-BN otherwise.
  FactorizedReduce reduce0_{nullptr};
  DartsReLUConvBN preprocess0_{nullptr}, preprocess1_{nullptr};
  std::vector<DartsOp> ops_;
};
TORCH_MODULE(DartsCell);

// Walks the evaluation network's structure once; build() and describe() both follow it.
struct DartsLayout {
  struct CellPlan {
    std::int64_t c_prev_prev, c_prev, c;
    bool reduction, reduction_prev;
  };
  std::int64_t stem_channels;
  std::vector<CellPlan> cells;
  std::int64_t final_channels;
};

DartsLayout layout_of(const DartsGenotype& g, int channels, int layers) {
  DartsLayout layout;
  layout.stem_channels = 3 * channels;
  std::int64_t c_prev_prev = layout.stem_channels, c_prev = layout.stem_channels, c = channels;
  bool reduction_prev = false;
  for (int i = 0; i < layers; ++i) {
    const bool reduction = i == layers / 3 || i == 2 * layers / 3;
    if (reduction) c *= 2;
    layout.cells.push_back({c_prev_prev, c_prev, c, reduction, reduction_prev});
    const auto& concat = reduction ? g.reduce_concat : g.normal_concat;
    c_prev_prev = c_prev;
    c_prev = static_cast<std::int64_t>(concat.size()) * c;
    reduction_prev = reduction;
  }
  layout.final_channels = c_prev;
  return layout;
}

class DartsNetwork : public Network {
 public:
  DartsNetwork(const DartsGenotype& g, int channels, int layers, const Task& task) {
    const DartsLayout layout = layout_of(g, channels, layers);
    stem_conv_ = register_module("stem_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(task.input_shape.at(0), layout.stem_channels, 3)
                                                                    .padding(1).bias(false)));
    stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(layout.stem_channels));
    for (std::size_t i = 0; i < layout.cells.size(); ++i) {
      const auto& p = layout.cells[i];
      cells_.push_back(register_module("cell" + std::to_string(i),
                                       DartsCell(p.reduction ? g.reduce : g.normal, p.reduction ? g.reduce_concat : g.normal_concat,
                                                 p.c_prev_prev, p.c_prev, p.c, p.reduction, p.reduction_prev)));
    }
    classifier_ = register_module("classifier", torch::nn::Linear(layout.final_channels, task.num_classes));
  }
  torch::Tensor features(torch::Tensor input) override {
    torch::Tensor s0 = probe_norm(stem_bn_, probe_conv(stem_conv_, input));
    torch::Tensor s1 = s0;
    for (std::size_t i = 0; i < cells_.size(); ++i) {
      torch::Tensor next = cells_[i]->forward(s0, s1);
      s0 = s1;
      s1 = next;
      probe_hidden("cell" + std::to_string(i), s1);
    }
    return s1;
  }
  torch::Tensor forward(torch::Tensor input) override {
    return probe_linear(classifier_, torch::adaptive_avg_pool2d(features(input), {1, 1}).flatten(1));
  }

 private:
  torch::nn::Conv2d stem_conv_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  std::vector<DartsCell> cells_;
  torch::nn::Linear classifier_{nullptr};
};

std::int64_t halved(std::int64_t size) { return (size + 1) / 2; }

}  // namespace

std::shared_ptr<Network> DartsSpace::build(const std::string& arch, const Task& task) const {
  if (task.input_shape.size() != 3) throw Error("darts: input shape must be channels x height x width");
  return std::make_shared<DartsNetwork>(parse(arch), channels_, layers_, task);
}

Description DartsSpace::describe(const std::string& arch, const Task& task) const {
  if (task.input_shape.size() != 3) throw Error("darts: input shape must be channels x height x width");
  const DartsGenotype g = parse(arch);
  const DartsLayout layout = layout_of(g, channels_, layers_);
  double params = 0, macs = 0;
  const double in_c = static_cast<double>(task.input_shape[0]);
  std::int64_t h = task.input_shape[1], w = task.input_shape[2];
  params += 9.0 * in_c * layout.stem_channels + 2.0 * layout.stem_channels;
  macs += 9.0 * in_c * layout.stem_channels * h * w;
  std::int64_t h1 = h, w1 = w;  // the size of s1, the previous cell's output
  for (const auto& p : layout.cells) {
    const double c = static_cast<double>(p.c);
    // preprocess0 brings s0 to s1's size (FactorizedReduce after a reduction cell, 1x1 otherwise):
    // either way c_prev_prev x c weights computed at s1's size.
    params += p.c_prev_prev * c + 2 * c;
    macs += p.c_prev_prev * c * h1 * w1;
    params += p.c_prev * c + 2 * c;
    macs += p.c_prev * c * h1 * w1;
    const std::int64_t ho = p.reduction ? halved(h1) : h1, wo = p.reduction ? halved(w1) : w1;
    const double out_area = static_cast<double>(ho * wo);
    for (const auto& edge : p.reduction ? g.reduce : g.normal) {
      const bool strided = p.reduction && edge.input < 2;
      const std::string op = kDartsOps[edge.op];
      const double k2 = op.back() == '5' ? 25 : 9;
      if (op.rfind("sep_conv", 0) == 0) {
        // Both halves run at the output's size: the first one carries the stride.
        params += 2 * (k2 * c + c * c + 2 * c);
        macs += 2 * (k2 * c + c * c) * out_area;
      } else if (op.rfind("dil_conv", 0) == 0) {
        params += k2 * c + c * c + 2 * c;
        macs += (k2 * c + c * c) * out_area;
      } else if (op == "skip_connect" && strided) {
        params += c * c + 2 * c;
        macs += c * c * out_area;
      }
    }
    h1 = ho;
    w1 = wo;
  }
  params += static_cast<double>(layout.final_channels) * task.num_classes + task.num_classes;
  macs += static_cast<double>(layout.final_channels) * task.num_classes;
  Description description;
  description.params = params;
  description.flops = macs;
  description.graph = graph(arch);
  description.extra["cells"] = layers_;
  description.extra["channels"] = channels_;
  return description;
}

}  // namespace nascent
