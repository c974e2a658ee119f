#include "search_spaces/flexibert/flexibert.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include "core/error.hpp"

namespace nascent {

FlexiDesign FlexiDesign::test() {
  FlexiDesign design;
  design.name = "test";
  design.layers = {2, 4};
  design.hiddens = {128, 256};
  design.heads = {2, 4};
  design.feed_forward_counts = {1, 3};
  design.feed_forward_widths = {512, 1024};
  design.operations = {{"sa", "sdp"}, {"sa", "wma"}, {"l", "dft"}, {"l", "dct"}, {"c", "5"}, {"c", "9"}};
  return design;
}

FlexiDesign FlexiDesign::full() {
  FlexiDesign design;
  design.name = "full";
  design.layers = {2, 4, 6};
  design.hiddens = {128, 256, 512};
  design.heads = {2, 4, 8};
  design.feed_forward_counts = {1, 2, 3};
  design.feed_forward_widths = {512, 1024, 2048, 4096};
  design.operations = {{"sa", "sdp"}, {"sa", "wma"}, {"l", "dft"}, {"l", "dct"}, {"c", "5"}, {"c", "9"}, {"c", "13"}};
  return design;
}

FlexiDesign FlexiDesign::named(const std::string& name) {
  if (name == "test") return test();
  if (name == "full") return full();
  throw Error("flexibert: design '" + name + "': expected test or full");
}

namespace {

std::string join_ints(const std::vector<int>& values, const char* separator) {
  std::string text;
  for (std::size_t i = 0; i < values.size(); ++i) text += (i ? separator : "") + std::to_string(values[i]);
  return text;
}

bool contains(const std::vector<int>& values, int value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// Checks one layer against the design; returns what is wrong, or "" when it fits.
std::string layer_problem(const FlexiLayer& layer, const FlexiDesign& design) {
  const auto outside = [&](const std::string& what, const std::string& options) {
    return what + " not in the " + design.name + " design (" + options + ")";
  };
  bool known_op = false;
  for (const auto& [op, param] : design.operations) known_op |= op == layer.op && param == layer.param;
  if (!known_op) {
    std::string options;
    for (const auto& [op, param] : design.operations) options += (options.empty() ? "" : ", ") + op + "_" + param;
    return outside("operation '" + layer.op + "_" + layer.param + "' is", options);
  }
  if (!contains(design.hiddens, layer.hidden))
    return outside("hidden size " + std::to_string(layer.hidden) + " is", join_ints(design.hiddens, ", "));
  if (!contains(design.heads, layer.heads)) return outside("head count " + std::to_string(layer.heads) + " is", join_ints(design.heads, ", "));
  if (layer.hidden % layer.heads != 0)
    return "hidden size " + std::to_string(layer.hidden) + " is not divisible by " + std::to_string(layer.heads) + " heads";
  if (!contains(design.feed_forward_counts, static_cast<int>(layer.feed_forward.size())))
    return outside(std::to_string(layer.feed_forward.size()) + " feed-forward layers are", join_ints(design.feed_forward_counts, ", "));
  for (int width : layer.feed_forward)
    if (!contains(design.feed_forward_widths, width))
      return outside("feed-forward width " + std::to_string(width) + " is", join_ints(design.feed_forward_widths, ", "));
  return "";
}

void check_model(const FlexiModel& model, const FlexiDesign& design, const std::string& text,
                 const std::vector<std::size_t>& positions) {
  if (!contains(design.layers, static_cast<int>(model.size())))
    throw ParseError(text, 0, std::to_string(model.size()) + " layers are not in the " + design.name + " design (" +
                                  join_ints(design.layers, ", ") + ")");
  for (std::size_t i = 0; i < model.size(); ++i) {
    const std::string problem = layer_problem(model[i], design);
    if (!problem.empty()) throw ParseError(text, positions.empty() ? 0 : positions[i], "layer " + std::to_string(i + 1) + ": " + problem);
  }
}

int parse_int(const std::string& text, std::size_t position, const std::string& token, const std::string& what) {
  if (token.empty() || token.size() > 6 || !std::all_of(token.begin(), token.end(), [](unsigned char c) { return std::isdigit(c); }))
    throw ParseError(text, position, "expected " + what + " as a number, got '" + token + "'");
  return std::stoi(token);
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = text.find(separator, begin);
    parts.push_back(text.substr(begin, end - begin));
    if (end == std::string::npos) return parts;
    begin = end + 1;
  }
}

FlexiModel parse_string_form(const std::string& text, std::vector<std::size_t>& positions) {
  FlexiModel model;
  std::size_t offset = 0;
  for (const std::string& block : split(text, '|')) {
    positions.push_back(offset);
    const std::vector<std::string> fields = split(block, '_');
    if (fields.size() != 5)
      throw ParseError(text, offset, "expected a layer as op_param_h<hidden>_n<heads>_f<width>-<width>..., got '" + block + "'");
    FlexiLayer layer;
    layer.op = fields[0];
    layer.param = fields[1];
    std::size_t at = offset + fields[0].size() + fields[1].size() + 2;
    if (fields[2].empty() || fields[2][0] != 'h') throw ParseError(text, at, "expected h<hidden size>");
    layer.hidden = parse_int(text, at, fields[2].substr(1), "the hidden size");
    at += fields[2].size() + 1;
    if (fields[3].empty() || fields[3][0] != 'n') throw ParseError(text, at, "expected n<heads>");
    layer.heads = parse_int(text, at, fields[3].substr(1), "the head count");
    at += fields[3].size() + 1;
    if (fields[4].empty() || fields[4][0] != 'f') throw ParseError(text, at, "expected f<width>-<width>...");
    for (const std::string& width : split(fields[4].substr(1), '-')) layer.feed_forward.push_back(parse_int(text, at, width, "a feed-forward width"));
    model.push_back(layer);
    offset += block.size() + 1;
  }
  return model;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string json_param(const nlohmann::json& value) {
  if (value.is_number_integer()) return std::to_string(value.get<long long>());
  if (value.is_string()) return lower(value.get<std::string>());
  throw Error("expected an operation parameter (a name or a kernel size), got " + value.dump());
}

int json_int(const nlohmann::json& value, const char* what) {
  if (!value.is_number_integer()) throw Error(std::string("expected an integer ") + what + ", got " + value.dump());
  return value.get<int>();
}

const nlohmann::json& member(const nlohmann::json& object, const char* key) {
  if (!object.is_object() || !object.contains(key)) throw Error(std::string("missing '") + key + "'");
  return object.at(key);
}

// FlexiBERT's model_dict: {'l': L, 'o': [...], 'h': [...], 'n': [...], 'f': [[...], ...], 'p': [...]}.
FlexiModel from_model_dict(const nlohmann::json& dict) {
  const int count = json_int(member(dict, "l"), "'l'");
  // Checked before anything is sized by it: every design has at most a few dozen layers.
  constexpr int kMaxLayers = 64;
  if (count < 0 || count > kMaxLayers)
    throw Error("'l' is " + std::to_string(count) + ": a model has between 0 and " + std::to_string(kMaxLayers) + " layers");
  FlexiModel model(count);
  for (const char* key : {"o", "h", "n", "f", "p"}) {
    const auto& list = member(dict, key);
    if (!list.is_array() || static_cast<int>(list.size()) != count)
      throw Error(std::string("'") + key + "' must list one value per layer (" + std::to_string(count) + ")");
  }
  for (int i = 0; i < count; ++i) {
    FlexiLayer& layer = model[i];
    layer.op = lower(dict["o"][i].is_string() ? dict["o"][i].get<std::string>() : dict["o"][i].dump());
    layer.param = json_param(dict["p"][i]);
    layer.hidden = json_int(dict["h"][i], "hidden size");
    layer.heads = json_int(dict["n"][i], "head count");
    const auto& widths = dict["f"][i];
    if (!widths.is_array()) throw Error("'f' must hold a list of widths per layer");
    for (const auto& width : widths) layer.feed_forward.push_back(json_int(width, "feed-forward width"));
  }
  return model;
}

// BERT_benchmark.json: hidden_size and nas_config.encoder_layers, with SA / LT / DSC operations.
FlexiModel from_benchmark(const nlohmann::json& entry) {
  const nlohmann::json* overrides = &entry;
  if (entry.contains("hparams")) overrides = &member(member(entry, "hparams"), "model_hparam_overrides");
  else if (entry.contains("model_hparam_overrides")) overrides = &member(entry, "model_hparam_overrides");
  const int hidden = json_int(member(*overrides, "hidden_size"), "hidden_size");
  const auto& layers = member(member(*overrides, "nas_config"), "encoder_layers");
  if (!layers.is_array()) throw Error("'encoder_layers' must be a list");
  FlexiModel model;
  for (const auto& spec : layers) {
    FlexiLayer layer;
    const std::string type = member(spec, "operation_type").is_string() ? member(spec, "operation_type").get<std::string>() : "";
    if (type == "SA") layer.op = "sa";
    else if (type == "LT") layer.op = "l";
    else if (type == "DSC") layer.op = "c";
    else throw Error("operation_type " + member(spec, "operation_type").dump() + ": expected SA, LT or DSC");
    layer.param = json_param(member(spec, "operation_parameter"));
    layer.hidden = hidden;
    layer.heads = json_int(member(spec, "num_operation_heads"), "num_operation_heads");
    const int count = json_int(member(spec, "num_feed_forward"), "num_feed_forward");
    const int width = json_int(member(spec, "feed_forward_dimension"), "feed_forward_dimension");
    layer.feed_forward.assign(std::max(0, count), width);
    model.push_back(layer);
  }
  return model;
}

FlexiModel from_json_text(const std::string& text) {
  std::string json_text = text;
  // model_dicts are usually written as Python dicts, with single quotes.
  if (json_text.find('"') == std::string::npos) std::replace(json_text.begin(), json_text.end(), '\'', '"');
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& error) {
    throw ParseError(text, error.byte > 0 ? error.byte - 1 : 0, "malformed JSON model description");
  } catch (const nlohmann::json::exception&) {
    throw ParseError(text, 0, "malformed JSON model description (a number out of range)");
  }
  try {
    if (value.is_object() && value.contains("l")) return from_model_dict(value);
    return from_benchmark(value);
  } catch (const ParseError&) {
    throw;
  } catch (const Error& error) {
    throw ParseError(text, 0, error.what());
  } catch (const nlohmann::json::exception&) {
    throw ParseError(text, 0, "malformed JSON model description (a value of the wrong type)");
  }
}

}  // namespace

std::string print_flexibert(const FlexiModel& model) {
  std::string text;
  for (std::size_t i = 0; i < model.size(); ++i) {
    const FlexiLayer& layer = model[i];
    text += (i ? "|" : "") + layer.op + "_" + layer.param + "_h" + std::to_string(layer.hidden) + "_n" +
            std::to_string(layer.heads) + "_f" + join_ints(layer.feed_forward, "-");
  }
  return text;
}

FlexiModel parse_flexibert(const std::string& text, const FlexiDesign& design) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) throw ParseError(text, 0, "empty FlexiBERT architecture");
  std::vector<std::size_t> positions;
  FlexiModel model = text[first] == '{' ? from_json_text(text) : parse_string_form(text, positions);
  check_model(model, design, text, positions);
  return model;
}

FlexibertSpace::FlexibertSpace(Options options) : design_(FlexiDesign::named(options.design)) {
  if (options.embedding_size < 1) throw Error("flexibert: embedding_size must be at least 1");
  if (options.landmarks <= options.embedding_size)
    throw Error("flexibert: landmarks must exceed embedding_size (" + std::to_string(options.embedding_size) + ")");
  sorted_ops_ = flexibert_sorted_ops(design_);
  if (!options.models.empty()) {
    std::ifstream file(options.models);
    if (!file) throw Error("flexibert: cannot read models file '" + options.models + "'");
    std::stringstream buffer;
    buffer << file.rdbuf();
    const std::string content = buffer.str();
    std::vector<std::string> entries;
    const std::size_t first = content.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && content[first] == '[') {
      nlohmann::json list;
      try {
        list = nlohmann::json::parse(content);
      } catch (const nlohmann::json::parse_error& error) {
        throw Error("flexibert: models file '" + options.models + "' is not valid JSON (byte " + std::to_string(error.byte) + ")");
      } catch (const nlohmann::json::exception&) {
        throw Error("flexibert: models file '" + options.models + "' holds a number out of range");
      }
      for (const auto& entry : list) entries.push_back(entry.dump());
    } else {
      std::string line;
      std::istringstream lines(content);
      while (std::getline(lines, line)) {
        const std::size_t begin = line.find_first_not_of(" \t\r");
        if (begin == std::string::npos || line[begin] == '#') continue;
        entries.push_back(line.substr(begin, line.find_last_not_of(" \t\r") + 1 - begin));
      }
    }
    std::set<std::string> seen;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      FlexiModel model;
      try {
        model = parse_flexibert(entries[i], design_);
      } catch (const Error& error) {
        throw Error("flexibert: models file '" + options.models + "', entry " + std::to_string(i + 1) + ": " + error.what());
      }
      const std::string arch = print_flexibert(model);
      if (seen.insert(arch).second) {
        library_.push_back(arch);
        library_models_.push_back(model);
      }
    }
    if (library_.empty()) throw Error("flexibert: models file '" + options.models + "' lists no models");
  }
  build_landmarks(options.embedding_size, options.landmarks);
}

std::unique_ptr<SearchSpace> FlexibertSpace::from_options(const nascent::Options& declared) {
  Options options;
  options.design = declared.get<std::string>("design");
  options.models = declared.get<std::string>("models");
  options.embedding_size = declared.maybe<int>("embedding_size").value_or(options.embedding_size);
  options.landmarks = declared.maybe<int>("landmarks").value_or(options.landmarks);
  return std::make_unique<FlexibertSpace>(options);
}

FlexiModel FlexibertSpace::sample_model(Rng& rng) const {
  FlexiModel model(pick(rng, design_.layers));
  for (FlexiLayer& layer : model) {
    const auto& [op, param] = pick(rng, design_.operations);
    layer.op = op;
    layer.param = param;
    layer.hidden = pick(rng, design_.hiddens);
    layer.heads = pick(rng, design_.heads);
    layer.feed_forward.resize(pick(rng, design_.feed_forward_counts));
    for (int& width : layer.feed_forward) width = pick(rng, design_.feed_forward_widths);
  }
  return model;
}

std::string FlexibertSpace::sample(Rng& rng) const {
  if (!library_.empty()) return pick(rng, library_);
  return print_flexibert(sample_model(rng));
}

namespace {

// How many per-layer choices (operation, hidden size, heads, feed-forward stack) two models differ
// in; a missing layer counts as all four.
int choice_distance(const FlexiModel& a, const FlexiModel& b) {
  int distance = 4 * static_cast<int>(std::max(a.size(), b.size()) - std::min(a.size(), b.size()));
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    distance += (a[i].op != b[i].op || a[i].param != b[i].param) + (a[i].hidden != b[i].hidden) +
                (a[i].heads != b[i].heads) + (a[i].feed_forward != b[i].feed_forward);
  }
  return distance;
}

}  // namespace

// One choice changes: a layer's operation, hidden size, head count or feed-forward stack, or the
// layer count (layers are added at, or removed from, the top).
FlexiModel FlexibertSpace::mutate_model(const FlexiModel& model, Rng& rng) const {
  for (int attempt = 0; attempt < 100; ++attempt) {
    FlexiModel child = model;
    const std::size_t choice = uniform_index(rng, 5);
    if (choice == 4) {
      const int count = pick(rng, design_.layers);
      if (count == static_cast<int>(model.size())) continue;
      FlexiModel fresh = sample_model(rng);
      child.resize(count);
      for (int i = static_cast<int>(model.size()); i < count; ++i) {
        child[i] = fresh[i % fresh.size()];
      }
    } else {
      FlexiLayer& layer = child[uniform_index(rng, child.size())];
      if (choice == 0) {
        const auto& [op, param] = pick(rng, design_.operations);
        layer.op = op;
        layer.param = param;
      } else if (choice == 1) {
        layer.hidden = pick(rng, design_.hiddens);
      } else if (choice == 2) {
        layer.heads = pick(rng, design_.heads);
      } else {
        layer.feed_forward.resize(pick(rng, design_.feed_forward_counts));
        for (int& width : layer.feed_forward) width = pick(rng, design_.feed_forward_widths);
      }
    }
    bool valid = true;
    for (const FlexiLayer& layer : child) valid &= layer_problem(layer, design_).empty();
    if (valid && !(child == model)) return child;
  }
  throw Error("flexibert: no valid mutation found for '" + print_flexibert(model) + "'");
}

std::string FlexibertSpace::mutate(const std::string& arch, Rng& rng) const {
  const FlexiModel model = parse_flexibert(arch, design_);
  if (library_.empty()) return print_flexibert(mutate_model(model, rng));
  // A finite library: one mutation in the design space, then the library members (other than the
  // parent) nearest to that child by changed choices, one of them uniformly. Projecting a random
  // step, rather than taking the parent's nearest members, keeps repeated mutations of one parent
  // from cycling through the same few neighbours.
  if (library_.size() < 2) throw Error("flexibert: a library of one model cannot be mutated");
  const FlexiModel child = mutate_model(model, rng);
  int best = 1 << 30;
  std::vector<std::size_t> nearest;
  for (std::size_t i = 0; i < library_models_.size(); ++i) {
    if (library_models_[i] == model) continue;
    const int distance = choice_distance(child, library_models_[i]);
    if (distance < best) nearest.clear();
    if (distance <= best) {
      best = distance;
      nearest.push_back(i);
    }
  }
  return library_[pick(rng, nearest)];
}

std::string FlexibertSpace::canonical(const std::string& text) const { return print_flexibert(parse_flexibert(text, design_)); }

std::string flexibert_head_label(const FlexiLayer& layer) {
  return layer.op + "_h" + std::to_string(layer.hidden) + "_p-" + layer.param;
}

ArchGraph FlexibertSpace::graph(const std::string& arch) const {
  const FlexiModel model = parse_flexibert(arch, design_);
  ArchGraph graph;
  GraphVertex previous = add_op(graph, "input");
  for (const FlexiLayer& layer : model) {
    std::vector<GraphVertex> heads;
    for (int h = 0; h < layer.heads; ++h) heads.push_back(add_op(graph, flexibert_head_label(layer)));
    const GraphVertex attention_norm = add_op(graph, "add_norm", /*commutative=*/true);
    for (GraphVertex head : heads) {
      add_data_edge(graph, previous, head);
      add_data_edge(graph, head, attention_norm);
    }
    add_data_edge(graph, previous, attention_norm);
    GraphVertex chain = attention_norm;
    for (int width : layer.feed_forward) {
      const GraphVertex ff = add_op(graph, "f" + std::to_string(width));
      add_data_edge(graph, chain, ff);
      chain = ff;
    }
    const GraphVertex output_norm = add_op(graph, "add_norm", /*commutative=*/true);
    add_data_edge(graph, chain, output_norm);
    add_data_edge(graph, attention_norm, output_norm);
    previous = output_norm;
  }
  add_data_edge(graph, previous, add_op(graph, "output"));
  return graph;
}

namespace {

std::string hex64(std::uint64_t value) {
  std::ostringstream out;
  out << std::hex << std::setw(16) << std::setfill('0') << value;
  return out.str();
}

}  // namespace

std::string FlexibertSpace::fingerprint(const std::string& arch) const {
  const ArchGraph g = graph(arch);
  const std::size_t n = boost::num_vertices(g);
  std::vector<std::string> hashes(n);
  for (std::size_t v = 0; v < n; ++v)
    hashes[v] = hex64(fnv1a(std::to_string(boost::out_degree(v, g)) + "," + std::to_string(boost::in_degree(v, g)) + "," + g[v].op));
  for (int round = 0; round < 5; ++round) {
    std::vector<std::string> next(n);
    for (std::size_t v = 0; v < n; ++v) {
      std::vector<std::string> in, out;
      for (auto [e, end] = boost::in_edges(v, g); e != end; ++e) in.push_back(hashes[boost::source(*e, g)]);
      for (auto [e, end] = boost::out_edges(v, g); e != end; ++e) out.push_back(hashes[boost::target(*e, g)]);
      std::sort(in.begin(), in.end());
      std::sort(out.begin(), out.end());
      std::string text;
      for (const auto& h : in) text += h;
      text += "|";
      for (const auto& h : out) text += h;
      next[v] = hex64(fnv1a(text + "|" + hashes[v]));
    }
    hashes = std::move(next);
  }
  std::sort(hashes.begin(), hashes.end());
  std::string all;
  for (const auto& h : hashes) all += h;
  return hex64(fnv1a(all));
}

double FlexibertSpace::edit_distance(const std::string& a, const std::string& b) const {
  return flexibert_edit_distance(parse_flexibert(a, design_), parse_flexibert(b, design_), sorted_ops_);
}

}  // namespace nascent
