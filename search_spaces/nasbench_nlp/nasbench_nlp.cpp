#include "search_spaces/nasbench_nlp/nasbench_nlp.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <set>

#include "core/error.hpp"

namespace nascent {

namespace {

const std::vector<std::string> kNlpOps = {"linear",          "blend",           "elementwise_prod",     "elementwise_sum",
                                          "activation_tanh", "activation_sigm", "activation_leaky_relu"};
const std::vector<std::string> kNlpActivations = {"activation_tanh", "activation_sigm", "activation_leaky_relu"};

bool is_elementwise(const std::string& op) { return op.rfind("elementwise_", 0) == 0; }

// "h_prev_3" -> 3, "h_new_0" -> 0 for prefix "h_new_"; -1 when the name is not prefix + digits.
int indexed(const std::string& name, const std::string& prefix) {
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return -1;
  const std::string digits = name.substr(prefix.size());
  if (digits.size() > 2 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stoi(digits);
}

bool is_cell_input(const std::string& name) { return name == "x" || indexed(name, "h_prev_") >= 0; }

// Whether `op` takes `count` inputs.
bool arity_fits(const std::string& op, std::size_t count) {
  if (op == "linear") return count >= 1;
  if (op == "blend") return count == 3;
  if (is_elementwise(op)) return count >= 2;
  return count == 1;
}

std::string arity_text(const std::string& op) {
  if (op == "linear") return "one or more inputs";
  if (op == "blend") return "3 inputs (gate, a, b)";
  if (is_elementwise(op)) return "2 or more inputs";
  return "1 input";
}

// Nodes whose value reaches an h_new output; the rest cannot affect the cell.
std::set<std::string> live_nodes(const NlpRecipe& recipe) {
  std::set<std::string> live;
  std::vector<std::string> stack;
  for (const auto& [name, node] : recipe)
    if (indexed(name, "h_new_") >= 0) stack.push_back(name);
  while (!stack.empty()) {
    const std::string name = stack.back();
    stack.pop_back();
    if (!live.insert(name).second) continue;
    const auto it = recipe.find(name);
    if (it == recipe.end()) continue;  // x, h_prev_i
    for (const auto& input : it->second.inputs) stack.push_back(input);
  }
  return live;
}

void prune(NlpRecipe& recipe) {
  const std::set<std::string> live = live_nodes(recipe);
  for (auto it = recipe.begin(); it != recipe.end();) it = live.count(it->first) ? std::next(it) : recipe.erase(it);
}

std::string next_node_name(const NlpRecipe& recipe) {
  for (int i = 0;; ++i) {
    const std::string name = "node_" + std::to_string(i);
    if (!recipe.count(name)) return name;
  }
}

// Checks a recipe; `where` finds a name's position in the original text for the message.
void validate(const NlpRecipe& recipe, const std::function<std::size_t(const std::string&)>& where, const std::string& text) {
  if (recipe.empty()) throw ParseError(text, 0, "the cell has no nodes");
  const int states = nasbench_nlp_hidden_states(recipe);
  if (states == 0) throw ParseError(text, 0, "the cell computes no h_new_0");
  for (int i = 0; i < states; ++i)
    if (!recipe.count("h_new_" + std::to_string(i)))
      throw ParseError(text, 0, "the cell has h_new_" + std::to_string(states - 1) + " but no h_new_" + std::to_string(i));
  for (const auto& [name, node] : recipe) {
    if (is_cell_input(name)) throw ParseError(text, where(name), "'" + name + "' is a cell input, not a node name");
    if (std::find(kNlpOps.begin(), kNlpOps.end(), node.op) == kNlpOps.end())
      throw ParseError(text, where(name), "node '" + name + "': unknown op '" + node.op +
                                              "' (expected linear, blend, elementwise_prod, elementwise_sum, "
                                              "activation_tanh, activation_sigm or activation_leaky_relu)");
    if (!arity_fits(node.op, node.inputs.size()))
      throw ParseError(text, where(name), "node '" + name + "': " + node.op + " takes " + arity_text(node.op) + ", got " +
                                              std::to_string(node.inputs.size()));
    for (const auto& input : node.inputs) {
      if (input == "x" && node.op != "linear")
        throw ParseError(text, where(name), "node '" + name + "' reads x, but x feeds linear nodes only (its size is the "
                                                "layer input's, not the hidden states')");
      const int previous = indexed(input, "h_prev_");
      if (previous >= states)
        throw ParseError(text, where(name), "node '" + name + "' reads " + input + " but the cell has " +
                                                std::to_string(states) + " hidden state" + (states == 1 ? "" : "s"));
      if (input != "x" && previous < 0 && !recipe.count(input))
        throw ParseError(text, where(name), "node '" + name + "' reads '" + input + "', which is no node, x or h_prev_i");
    }
  }
  if (nasbench_nlp_order(recipe).size() != recipe.size()) throw ParseError(text, 0, "the cell has a cycle");
  if (!live_nodes(recipe).count("x")) throw ParseError(text, 0, "no h_new output depends on the input x");
}

// Whether the layer's output h_new_0 ever carries the input. The states start at zero, so a cell
// can be wired to x and still compute a constant: h_new_0 = h_prev_0 * anything stays zero. This
// follows, step by step until nothing changes, which values are exactly zero (a linear node's bias
// never is; tanh and leaky ReLU keep zero, the sigmoid does not) and which depend on x.
bool output_carries_input(const NlpRecipe& recipe) {
  struct Value {
    bool zero = true, depends = false;
    bool operator==(const Value& other) const { return zero == other.zero && depends == other.depends; }
  };
  const int states = nasbench_nlp_hidden_states(recipe);
  const std::vector<std::string> order = nasbench_nlp_order(recipe);
  std::vector<Value> previous(states);
  for (std::size_t step = 0; step <= 2 * recipe.size() + 2; ++step) {
    std::map<std::string, Value> value{{"x", Value{false, true}}};
    for (int i = 0; i < states; ++i) value["h_prev_" + std::to_string(i)] = previous[i];
    for (const auto& name : order) {
      const NlpNode& node = recipe.at(name);
      std::vector<Value> in;
      for (const auto& input : node.inputs) in.push_back(value.at(input));
      const auto any_depends = [](const std::vector<Value>& values) {
        return std::any_of(values.begin(), values.end(), [](const Value& v) { return !v.zero && v.depends; });
      };
      Value out;
      if (node.op == "linear") {
        out = {false, any_depends(in)};
      } else if (node.op == "blend") {
        // a * b + (1 - a) * c: c alone when the gate a is zero.
        if (in[0].zero) out = in[2];
        else out.zero = in[1].zero && in[2].zero, out.depends = !out.zero && any_depends(in);
      } else if (node.op == "elementwise_prod") {
        out.zero = std::any_of(in.begin(), in.end(), [](const Value& v) { return v.zero; });
        out.depends = !out.zero && any_depends(in);
      } else if (node.op == "elementwise_sum") {
        out.zero = std::all_of(in.begin(), in.end(), [](const Value& v) { return v.zero; });
        out.depends = any_depends(in);
      } else {
        out = in[0];
        if (node.op == "activation_sigm") out.zero = false;
      }
      value[name] = out;
    }
    std::vector<Value> next(states);
    for (int i = 0; i < states; ++i) next[i] = value.at("h_new_" + std::to_string(i));
    if (!next[0].zero && next[0].depends) return true;
    if (next == previous) return false;
    previous = next;
  }
  return false;
}

}  // namespace

int nasbench_nlp_hidden_states(const NlpRecipe& recipe) {
  int states = 0;
  for (const auto& [name, node] : recipe) states = std::max(states, indexed(name, "h_new_") + 1);
  return states;
}

std::vector<std::string> nasbench_nlp_order(const NlpRecipe& recipe) {
  std::map<std::string, int> waiting;
  std::map<std::string, std::vector<std::string>> readers;
  std::set<std::string> ready;
  for (const auto& [name, node] : recipe) {
    int count = 0;
    for (const auto& input : node.inputs)
      if (recipe.count(input)) ++count, readers[input].push_back(name);
    waiting[name] = count;
    if (count == 0) ready.insert(name);
  }
  std::vector<std::string> order;
  while (!ready.empty()) {
    const std::string name = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(name);
    for (const auto& reader : readers[name])
      if (--waiting[reader] == 0) ready.insert(reader);
  }
  return order;  // shorter than the recipe when it has a cycle
}

NlpRecipe parse_nasbench_nlp(const std::string& text) {
  std::string json_text = text;
  // The benchmark's logs and Python's repr() write dicts with single quotes.
  if (json_text.find('"') == std::string::npos) std::replace(json_text.begin(), json_text.end(), '\'', '"');
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& e) {
    const std::string what = e.what();
    const std::size_t colon = what.rfind(": ");
    throw ParseError(text, e.byte > 0 ? e.byte - 1 : 0,
                     "not a NAS-Bench-NLP recipe (JSON): " + (colon == std::string::npos ? what : what.substr(colon + 2)));
  }
  if (!json.is_object()) throw ParseError(text, 0, "a recipe is a JSON object of nodes {\"name\": {\"op\": ..., \"input\": [...]}}");
  const auto where = [&text](const std::string& name) {
    for (const std::string& quoted : {"\"" + name + "\"", "'" + name + "'"}) {
      const std::size_t at = text.find(quoted);
      if (at != std::string::npos) return at;
    }
    return std::size_t{0};
  };
  NlpRecipe recipe;
  for (const auto& [name, value] : json.items()) {
    if (!value.is_object() || !value.contains("op") || !value.contains("input") || !value["op"].is_string() ||
        !value["input"].is_array() || value.size() != 2)
      throw ParseError(text, where(name), "node '" + name + "' must be {\"op\": NAME, \"input\": [NODES]} and nothing else");
    NlpNode node;
    node.op = value["op"].get<std::string>();
    for (const auto& input : value["input"]) {
      if (!input.is_string()) throw ParseError(text, where(name), "node '" + name + "': inputs are node names");
      node.inputs.push_back(input.get<std::string>());
    }
    if (name.empty()) throw ParseError(text, 0, "a node has an empty name");
    recipe[name] = std::move(node);
  }
  validate(recipe, where, text);
  return recipe;
}

std::string print_nasbench_nlp(const NlpRecipe& recipe) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [name, node] : recipe) json[name] = {{"op", node.op}, {"input", node.inputs}};
  return json.dump();
}

NasBenchNlpSpace::NasBenchNlpSpace(NlpModelSize size, int max_hidden_states, std::vector<int> node_counts)
    : size_(size), max_hidden_states_(max_hidden_states), node_counts_(std::move(node_counts)) {
  if (size_.embedding < 1 || size_.hidden < 1 || size_.layers < 1)
    throw Error("nasbench_nlp: embedding, hidden and layers must be at least 1");
  if (max_hidden_states_ < 1 || max_hidden_states_ > 3) throw Error("nasbench_nlp: hidden_states must be 1 to 3");
  if (node_counts_.empty()) throw Error("nasbench_nlp: nodes must list at least one count");
  for (int count : node_counts_)
    if (count < 1 || count > 64) throw Error("nasbench_nlp: node counts must be 1 to 64, got " + std::to_string(count));
}

std::unique_ptr<SearchSpace> NasBenchNlpSpace::from_options(const Options& options) {
  NlpModelSize size;
  size.embedding = options.get<int>("embedding");
  size.hidden = options.get<int>("hidden");
  size.layers = options.get<int>("layers");
  return std::make_unique<NasBenchNlpSpace>(size, options.get<int>("hidden_states"), options.get<std::vector<int>>("nodes"));
}

// A random cell in the manner of the benchmark's generator: `nodes` intermediate nodes, each an
// operation drawn with its inputs from what exists so far, the first input preferably one nobody
// reads yet so that the graph grows deep rather than wide; then the k outputs; then whatever no
// output reads is dropped.
std::string NasBenchNlpSpace::sample(Rng& rng) const {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int states = 1 + static_cast<int>(uniform_index(rng, max_hidden_states_));
    const int nodes = pick(rng, node_counts_);
    std::vector<std::string> available{"x"};
    for (int i = 0; i < states; ++i) available.push_back("h_prev_" + std::to_string(i));
    std::vector<std::string> unread = available;
    NlpRecipe recipe;
    const auto add = [&](const std::string& name) {
      // Weights: linear 3, each activation 1, each elementwise 1, blend 1 (9 in all).
      const std::uint64_t draw = uniform_index(rng, 9);
      NlpNode node;
      std::size_t arity = 1;
      if (draw < 3) node.op = "linear", arity = 1 + uniform_index(rng, std::min<std::size_t>(3, available.size()));
      else if (draw < 6) node.op = kNlpActivations[draw - 3];
      else if (draw < 8) node.op = draw == 6 ? "elementwise_prod" : "elementwise_sum", arity = 2;
      else node.op = "blend", arity = 3;
      if (node.op != "linear" && arity > available.size() - 1) node.op = "linear", arity = 1;
      // x has the layer input's size: only a linear node can read it.
      const bool reads_x = node.op == "linear";
      if (!unread.empty() && uniform_real(rng) < 0.7) {
        const std::string& candidate = unread[uniform_index(rng, unread.size())];
        if (reads_x || candidate != "x") node.inputs.push_back(candidate);
      }
      while (node.inputs.size() < arity) {
        const std::string& candidate = pick(rng, available);
        if ((reads_x || candidate != "x") && std::find(node.inputs.begin(), node.inputs.end(), candidate) == node.inputs.end())
          node.inputs.push_back(candidate);
      }
      for (const auto& input : node.inputs) unread.erase(std::remove(unread.begin(), unread.end(), input), unread.end());
      recipe[name] = node;
      available.push_back(name);
      unread.push_back(name);
    };
    for (int i = 0; i < nodes; ++i) add("node_" + std::to_string(i));
    for (int i = 0; i < states; ++i) add("h_new_" + std::to_string(i));
    prune(recipe);
    try {
      const std::string text = canonical(print_nasbench_nlp(recipe));
      if (output_carries_input(recipe)) return text;
    } catch (const ParseError&) {
      // x unread by every output: draw again.
    }
  }
  throw Error("nasbench_nlp: could not draw a valid cell in 1000 attempts");
}

std::string NasBenchNlpSpace::mutate(const std::string& arch, Rng& rng) const {
  const NlpRecipe recipe = parse_nasbench_nlp(arch);
  const std::string before = print_nasbench_nlp(recipe);
  const std::vector<std::string> order = nasbench_nlp_order(recipe);
  const int states = nasbench_nlp_hidden_states(recipe);
  const bool parent_carries_input = output_carries_input(recipe);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    NlpRecipe child = recipe;
    const std::string& name = pick(rng, order);
    NlpNode& node = child[name];
    const std::uint64_t kind = uniform_index(rng, 4);
    if (kind == 0) {
      // Another operation that takes the same inputs.
      std::vector<std::string> options;
      for (const auto& op : kNlpOps)
        if (op != node.op && arity_fits(op, node.inputs.size())) options.push_back(op);
      node.op = pick(rng, options);
    } else if (kind == 1) {
      // Rewire one input to a cell input or a node before this one, keeping the graph acyclic.
      std::vector<std::string> sources{"x"};
      for (int i = 0; i < states; ++i) sources.push_back("h_prev_" + std::to_string(i));
      for (const auto& other : order) {
        if (other == name) break;
        sources.push_back(other);
      }
      node.inputs[uniform_index(rng, node.inputs.size())] = pick(rng, sources);
    } else if (kind == 2) {
      // An activation inserted on one of the node's input edges.
      const std::string inserted = next_node_name(child);
      std::string& input = node.inputs[uniform_index(rng, node.inputs.size())];
      NlpNode activation{pick(rng, kNlpActivations), {input}};
      input = inserted;
      child[inserted] = activation;
    } else {
      // A single-input intermediate node bypassed: its readers read its input instead.
      if (node.inputs.size() != 1 || indexed(name, "h_new_") >= 0) continue;
      const std::string replacement = node.inputs[0];
      child.erase(name);
      for (auto& [other, other_node] : child)
        std::replace(other_node.inputs.begin(), other_node.inputs.end(), name, replacement);
    }
    prune(child);
    try {
      const std::string text = canonical(print_nasbench_nlp(child));
      if (text != before && (!parent_carries_input || output_carries_input(child))) return text;
    } catch (const ParseError&) {
    }
  }
  throw Error("nasbench_nlp: could not mutate the cell in 1000 attempts");
}

std::string NasBenchNlpSpace::canonical(const std::string& text) const { return print_nasbench_nlp(parse_nasbench_nlp(text)); }

std::vector<double> NasBenchNlpSpace::encode(const std::string& arch) const {
  const NlpRecipe recipe = parse_nasbench_nlp(arch);
  std::vector<double> features(kNlpOps.size() + 4 + 1 + 3, 0.0);
  double edges = 0, x_uses = 0;
  std::map<std::string, double> depth;
  double deepest = 0;
  for (const auto& name : nasbench_nlp_order(recipe)) {
    const NlpNode& node = recipe.at(name);
    features[std::find(kNlpOps.begin(), kNlpOps.end(), node.op) - kNlpOps.begin()] += 1;
    double d = 0;
    for (const auto& input : node.inputs) {
      edges += 1;
      if (input == "x") x_uses += 1;
      const int previous = indexed(input, "h_prev_");
      if (previous >= 0 && previous < 3) features[kNlpOps.size() + 5 + previous] += 1;
      if (depth.count(input)) d = std::max(d, depth[input]);
    }
    depth[name] = d + 1;
    deepest = std::max(deepest, d + 1);
  }
  const std::size_t base = kNlpOps.size();
  features[base + 0] = nasbench_nlp_hidden_states(recipe);
  features[base + 1] = static_cast<double>(recipe.size());
  features[base + 2] = edges;
  features[base + 3] = deepest;
  features[base + 4] = x_uses;
  return features;
}

// Vertices: the cell inputs, one per node labelled with its op, and one "output" reading the
// h_new_i in slot i. Linear and elementwise nodes are commutative (a linear node holds one weight
// per input, so swapping inputs swaps weights); blend's gate is its first input.
ArchGraph NasBenchNlpSpace::graph(const std::string& arch) const { return recipe_graph(parse_nasbench_nlp(arch)); }

ArchGraph NasBenchNlpSpace::recipe_graph(const NlpRecipe& recipe) {
  ArchGraph g;
  std::map<std::string, GraphVertex> vertex;
  vertex["x"] = add_op(g, "x");
  const int states = nasbench_nlp_hidden_states(recipe);
  for (int i = 0; i < states; ++i) vertex["h_prev_" + std::to_string(i)] = add_op(g, "h_prev_" + std::to_string(i));
  for (const auto& name : nasbench_nlp_order(recipe)) {
    const NlpNode& node = recipe.at(name);
    vertex[name] = add_op(g, node.op, node.op == "linear" || is_elementwise(node.op));
    for (std::size_t slot = 0; slot < node.inputs.size(); ++slot)
      add_data_edge(g, vertex.at(node.inputs[slot]), vertex[name], static_cast<int>(slot));
  }
  const GraphVertex output = add_op(g, "output");
  for (int i = 0; i < states; ++i) add_data_edge(g, vertex.at("h_new_" + std::to_string(i)), output, i);
  return g;
}

// Penn Treebank's, the benchmark's corpus, when the task names none.
std::int64_t nasbench_nlp_vocabulary(const Task& task) { return token_vocabulary(task, "nasbench_nlp", 10000); }

std::int64_t nasbench_nlp_parameter_count(const NlpRecipe& recipe, const NlpModelSize& size, const Task& task) {
  const std::int64_t vocabulary = nasbench_nlp_vocabulary(task);
  std::int64_t count = vocabulary * size.embedding;
  for (std::int64_t layer = 0; layer < size.layers; ++layer) {
    const std::int64_t h = size.layer_hidden(layer);
    for (const auto& [name, node] : recipe) {
      if (node.op != "linear") continue;
      count += h;
      for (const auto& input : node.inputs) count += h * (input == "x" ? size.layer_input(layer) : h);
    }
  }
  const bool tied = task.num_classes == vocabulary;
  count += tied ? vocabulary : size.embedding * task.num_classes + task.num_classes;
  return count;
}

Description NasBenchNlpSpace::describe(const std::string& arch, const Task& task) const {
  const NlpRecipe recipe = parse_nasbench_nlp(arch);
  Description description;
  description.params = static_cast<double>(nasbench_nlp_parameter_count(recipe, size_, task));
  const double length = static_cast<double>(task.input_shape[0]);
  double per_token = 0;
  for (std::int64_t layer = 0; layer < size_.layers; ++layer) {
    const double h = static_cast<double>(size_.layer_hidden(layer));
    for (const auto& [name, node] : recipe) {
      if (node.op == "linear") {
        for (const auto& input : node.inputs) per_token += 2 * h * (input == "x" ? size_.layer_input(layer) : h);
        per_token += h * static_cast<double>(node.inputs.size());  // the sums and the bias
      } else if (node.op == "blend") {
        per_token += 4 * h;
      } else if (is_elementwise(node.op)) {
        per_token += h * static_cast<double>(node.inputs.size() - 1);
      } else {
        per_token += h;
      }
    }
  }
  description.flops = length * per_token + 2.0 * static_cast<double>(size_.embedding * task.num_classes);
  description.graph = recipe_graph(recipe);
  description.extra["hidden_states"] = nasbench_nlp_hidden_states(recipe);
  description.extra["nodes"] = static_cast<double>(recipe.size());
  return description;
}

std::shared_ptr<Network> NasBenchNlpSpace::build(const std::string& arch, const Task& task) const {
  return make_nasbench_nlp_network(parse_nasbench_nlp(arch), size_, task);
}

}  // namespace nascent
