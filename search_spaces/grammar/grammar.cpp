#include "search_spaces/grammar/grammar.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.hpp"

namespace nascent::grammar {

namespace {

const std::map<std::string, OpKind>& op_kinds() {
  static const std::map<std::string, OpKind> kinds{
      {"identity", OpKind::identity}, {"clone", OpKind::clone},       {"group", OpKind::group},
      {"im2col", OpKind::im2col},     {"col2im", OpKind::col2im},     {"permute", OpKind::permute},
      {"linear", OpKind::linear},     {"norm", OpKind::norm},         {"leaky_relu", OpKind::leaky_relu},
      {"softmax", OpKind::softmax},   {"positional_encoding", OpKind::positional_encoding},
      {"dot_product", OpKind::dot_product}, {"add", OpKind::add},     {"cat", OpKind::cat}};
  return kinds;
}

class Loader {
 public:
  explicit Loader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw Error("grammar " + source_ + ": " + where + ": " + what);
  }

  template <typename T>
  T read(const YAML::Node& node, const std::string& where, const char* expected) const {
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      fail(where, std::string("expected ") + expected);
    }
  }

  void check_keys(const YAML::Node& node, const std::string& where, std::initializer_list<const char*> allowed) const {
    if (!node.IsMap()) fail(where, "expected a map");
    for (const auto& item : node) {
      const std::string key = item.first.as<std::string>();
      bool known = false;
      for (const char* name : allowed) known = known || key == name;
      if (!known) fail(where, "unknown key '" + key + "'");
    }
  }

  Op read_op(const YAML::Node& node, const std::string& where) const {
    check_keys(node, where, {"op", "width", "scale", "copies", "chunks", "dim", "inputs", "kernel", "stride",
                             "padding", "order", "scaled", "slope"});
    if (!node["op"]) fail(where, "missing 'op'");
    const std::string kind = read<std::string>(node["op"], where + ".op", "an op name");
    auto found = op_kinds().find(kind);
    if (found == op_kinds().end()) {
      std::string names;
      for (const auto& [name, unused] : op_kinds()) names += (names.empty() ? "" : ", ") + name;
      fail(where + ".op", "unknown op '" + kind + "' (known: " + names + ")");
    }
    Op op;
    op.kind = found->second;
    auto integer = [&](const char* key, int minimum, int fallback) {
      if (!node[key]) return fallback;
      const int value = read<int>(node[key], where + "." + key, "an integer");
      if (value < minimum) fail(where + "." + key, "must be at least " + std::to_string(minimum));
      return value;
    };
    auto require = [&](const char* key) {
      if (!node[key]) fail(where, "op '" + kind + "' needs '" + key + "'");
    };
    switch (op.kind) {
      case OpKind::clone:
        require("copies");
        op.copies = integer("copies", 2, 2);
        break;
      case OpKind::group:
        require("chunks");
        require("dim");
        op.copies = integer("chunks", 2, 2);
        op.dim = integer("dim", 1, 1);
        if (op.dim > 3) fail(where + ".dim", "must be 1, 2 or 3");
        break;
      case OpKind::cat:
        require("dim");
        op.dim = integer("dim", 1, 1);
        if (op.dim > 3) fail(where + ".dim", "must be 1, 2 or 3");
        op.inputs = integer("inputs", 2, 2);
        break;
      case OpKind::im2col:
        require("kernel");
        op.kernel = integer("kernel", 1, 1);
        op.stride = integer("stride", 1, 1);
        op.padding = integer("padding", 0, 0);
        break;
      case OpKind::permute: {
        require("order");
        op.order = read<std::vector<int>>(node["order"], where + ".order", "a list of dimensions");
        std::vector<int> sorted = op.order;
        std::sort(sorted.begin(), sorted.end());
        bool valid = sorted.size() == 2 || sorted.size() == 3;
        for (std::size_t i = 0; i < sorted.size(); ++i) valid = valid && sorted[i] == static_cast<int>(i) + 1;
        if (!valid) fail(where + ".order", "must be a permutation of 1,2 or of 1,2,3");
        break;
      }
      case OpKind::linear:
        if (node["width"]) {
          op.width = integer("width", 1, 1);
        } else if (node["scale"]) {
          op.scale = read<double>(node["scale"], where + ".scale", "a number");
          if (!(op.scale > 0)) fail(where + ".scale", "must be positive");
        } else {
          fail(where, "op 'linear' needs 'width' or 'scale'");
        }
        break;
      case OpKind::dot_product:
        if (node["scaled"]) op.scaled = read<bool>(node["scaled"], where + ".scaled", "true or false");
        break;
      case OpKind::leaky_relu:
        if (node["slope"]) op.slope = read<double>(node["slope"], where + ".slope", "a number");
        break;
      default:
        break;
    }
    return op;
  }

 private:
  std::string source_;
};

}  // namespace

int Grammar::find_production(const std::string& name) const {
  for (std::size_t i = 0; i < productions.size(); ++i)
    if (productions[i].name == name) return static_cast<int>(i);
  return -1;
}

int Grammar::find_symbol(const std::string& name) const {
  for (std::size_t i = 0; i < symbols.size(); ++i)
    if (symbols[i].name == name) return static_cast<int>(i);
  return -1;
}

Grammar Grammar::parse(const std::string& yaml_text, const std::string& source) {
  Loader loader(source);
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw Error("grammar " + source + ": invalid YAML at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  loader.check_keys(root, "top level", {"name", "start", "max_depth", "symbols", "rules", "terminals", "limits", "seeds"});
  for (const char* key : {"name", "start", "symbols", "terminals"})
    if (!root[key]) loader.fail("top level", std::string("missing '") + key + "'");

  Grammar grammar;
  grammar.source = source;
  grammar.name = loader.read<std::string>(root["name"], "name", "a string");
  if (root["max_depth"]) {
    grammar.max_depth = loader.read<int>(root["max_depth"], "max_depth", "an integer");
    if (grammar.max_depth < 2) loader.fail("max_depth", "must be at least 2");
  }
  if (root["limits"]) {
    loader.check_keys(root["limits"], "limits", {"params", "activation_elements", "macs"});
    if (root["limits"]["macs"]) grammar.limits.macs = loader.read<double>(root["limits"]["macs"], "limits.macs", "a number");
    if (root["limits"]["params"]) grammar.limits.params = loader.read<double>(root["limits"]["params"], "limits.params", "a number");
    if (root["limits"]["activation_elements"])
      grammar.limits.activation_elements =
          loader.read<double>(root["limits"]["activation_elements"], "limits.activation_elements", "a number");
  }

  // Names first, so that productions may refer to symbols declared later.
  const YAML::Node symbols = root["symbols"];
  const YAML::Node rules = root["rules"] ? root["rules"] : YAML::Node(YAML::NodeType::Map);
  const YAML::Node terminals = root["terminals"];
  for (const auto* section : {&symbols, &rules, &terminals})
    if (!section->IsMap()) loader.fail("top level", "symbols, rules and terminals must be maps");
  std::set<std::string> names;
  auto declare = [&](const YAML::Node& key, const std::string& section) {
    const std::string name = key.as<std::string>();
    if (name.empty() || name[0] == '@' || name.find_first_of("(), \t") != std::string::npos)
      loader.fail(section + "." + name, "names may not be empty or contain '@', parentheses, commas or spaces");
    if (!names.insert(name).second) loader.fail(section + "." + name, "the name is used twice");
    return name;
  };
  for (const auto& item : symbols) {
    Symbol symbol;
    symbol.name = declare(item.first, "symbols");
    grammar.symbols.push_back(symbol);
  }
  for (const auto& item : rules) {
    Production rule;
    rule.name = declare(item.first, "rules");
    rule.kind = Kind::sequence;
    grammar.productions.push_back(rule);
  }
  for (const auto& item : terminals) {
    Production terminal;
    terminal.name = declare(item.first, "terminals");
    terminal.op = loader.read_op(item.second, "terminals." + terminal.name);
    grammar.productions.push_back(terminal);
  }

  auto symbol_index = [&](const YAML::Node& node, const std::string& where) {
    const std::string name = loader.read<std::string>(node, where, "a symbol name");
    const int index = grammar.find_symbol(name);
    if (index < 0) loader.fail(where, "'" + name + "' is not a symbol");
    return index;
  };
  auto production_index = [&](const std::string& name, const std::string& where) {
    const int index = grammar.find_production(name);
    if (index < 0) loader.fail(where, "'" + name + "' is neither a rule nor a terminal");
    return index;
  };

  std::size_t rule_index = 0;
  for (const auto& item : rules) {
    Production& rule = grammar.productions[rule_index++];
    const std::string where = "rules." + rule.name;
    loader.check_keys(item.second, where, {"sequence", "route", "branch", "shared_above"});
    int forms = 0;
    for (const char* form : {"sequence", "route", "branch"}) {
      if (!item.second[form]) continue;
      ++forms;
      rule.kind = std::string(form) == "sequence" ? Kind::sequence : std::string(form) == "route" ? Kind::route : Kind::branch;
      const YAML::Node list = item.second[form];
      if (!list.IsSequence() || list.size() == 0) loader.fail(where + "." + form, "expected a list of symbols");
      for (std::size_t i = 0; i < list.size(); ++i)
        rule.children.push_back(symbol_index(list[i], where + "." + form + "[" + std::to_string(i) + "]"));
    }
    if (forms != 1) loader.fail(where, "needs exactly one of sequence, route or branch");
    if (rule.kind == Kind::branch && rule.children.size() != 3)
      loader.fail(where + ".branch", "expected [split symbol, inner symbol, merge symbol]");
    if (rule.kind == Kind::route && rule.children.size() < 2)
      loader.fail(where + ".route", "expected at least two symbols");
    if (item.second["shared_above"]) {
      rule.shared_above = loader.read<int>(item.second["shared_above"], where + ".shared_above", "an integer");
      if (rule.shared_above < 1) loader.fail(where + ".shared_above", "must be at least 1");
    }
  }

  std::size_t symbol_position = 0;
  for (const auto& item : symbols) {
    Symbol& symbol = grammar.symbols[symbol_position++];
    const std::string where = "symbols." + symbol.name;
    loader.check_keys(item.second, where, {"productions", "probability", "at_max_depth", "also_accepts"});
    const YAML::Node list = item.second["productions"];
    if (!list || !list.IsSequence() || list.size() == 0) loader.fail(where, "needs a non-empty 'productions' list");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string name = loader.read<std::string>(list[i], where + ".productions", "production names");
      const int index = production_index(name, where + ".productions");
      for (int existing : symbol.productions)
        if (existing == index) loader.fail(where + ".productions", "'" + name + "' is listed twice");
      symbol.productions.push_back(index);
    }
    symbol.probability.assign(symbol.productions.size(), -1.0);
    if (item.second["probability"]) {
      const YAML::Node fixed = item.second["probability"];
      if (!fixed.IsMap()) loader.fail(where + ".probability", "expected a map of production: probability");
      double total = 0;
      for (const auto& entry : fixed) {
        const std::string name = entry.first.as<std::string>();
        const double p = loader.read<double>(entry.second, where + ".probability." + name, "a number");
        if (!(p > 0 && p <= 1)) loader.fail(where + ".probability." + name, "must be in (0, 1]");
        const int index = production_index(name, where + ".probability");
        auto at = std::find(symbol.productions.begin(), symbol.productions.end(), index);
        if (at == symbol.productions.end()) loader.fail(where + ".probability", "'" + name + "' is not among the productions");
        symbol.probability[at - symbol.productions.begin()] = p;
        total += p;
      }
      const bool all_fixed = std::none_of(symbol.probability.begin(), symbol.probability.end(), [](double p) { return p < 0; });
      if (!all_fixed && total >= 1) loader.fail(where + ".probability", "leaves nothing for the other productions");
    }
    if (item.second["at_max_depth"]) {
      const std::string name = loader.read<std::string>(item.second["at_max_depth"], where + ".at_max_depth", "a production name");
      symbol.at_max_depth = production_index(name, where + ".at_max_depth");
    }
    if (item.second["also_accepts"]) {
      for (const auto& entry : item.second["also_accepts"])
        symbol.also_accepts.push_back(
            production_index(loader.read<std::string>(entry, where + ".also_accepts", "production names"), where + ".also_accepts"));
    }
  }

  // The split and merge slots of branch rules must offer only splitting and merging terminals,
  // and splitting or merging terminals may stand nowhere else.
  std::set<int> branch_slots;
  for (const Production& production : grammar.productions) {
    if (production.kind != Kind::branch) continue;
    const Symbol& split = grammar.symbols[production.children[0]];
    const Symbol& merge = grammar.symbols[production.children[2]];
    for (int index : split.productions)
      if (grammar.productions[index].kind != Kind::terminal || !grammar.productions[index].op.splits())
        loader.fail("symbols." + split.name, "'" + grammar.productions[index].name + "' is not a clone or group terminal");
    for (int index : merge.productions)
      if (grammar.productions[index].kind != Kind::terminal || !grammar.productions[index].op.merges())
        loader.fail("symbols." + merge.name, "'" + grammar.productions[index].name + "' is not a dot_product, add or cat terminal");
    branch_slots.insert(production.children[0]);
    branch_slots.insert(production.children[2]);
  }
  for (std::size_t symbol = 0; symbol < grammar.symbols.size(); ++symbol) {
    if (branch_slots.count(static_cast<int>(symbol))) continue;
    for (int index : grammar.symbols[symbol].productions) {
      const Production& production = grammar.productions[index];
      if (production.kind == Kind::terminal && (production.op.splits() || production.op.merges()))
        loader.fail("symbols." + grammar.symbols[symbol].name,
                    "'" + production.name + "' splits or merges but the symbol is not a branch rule's split or merge");
    }
  }

  // A symbol whose every production leads back to symbols that cannot finish would make the
  // sampler recurse until the stack runs out: refused here, by the least fixed point of "finishes".
  std::vector<bool> finishes(grammar.symbols.size(), false);
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t symbol = 0; symbol < grammar.symbols.size(); ++symbol) {
      if (finishes[symbol]) continue;
      for (int index : grammar.symbols[symbol].productions) {
        const std::vector<int>& children = grammar.productions[index].children;
        if (std::all_of(children.begin(), children.end(), [&](int child) { return finishes[static_cast<std::size_t>(child)]; })) {
          finishes[symbol] = changed = true;
          break;
        }
      }
    }
  }
  for (std::size_t symbol = 0; symbol < grammar.symbols.size(); ++symbol)
    if (!finishes[symbol])
      loader.fail("symbols." + grammar.symbols[symbol].name,
                  "no derivation of it ever ends: every production leads back to symbols without a finite derivation (give it a terminal)");

  grammar.start = symbol_index(root["start"], "start");
  if (root["seeds"]) {
    if (!root["seeds"].IsMap()) loader.fail("seeds", "expected a map of name: derivation");
    for (const auto& entry : root["seeds"])
      grammar.seeds[entry.first.as<std::string>()] = loader.read<std::string>(entry.second, "seeds." + entry.first.as<std::string>(), "a derivation string");
  }
  return grammar;
}

Grammar Grammar::load(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw Error("grammar " + path + ": cannot open the file");
  std::stringstream text;
  text << file.rdbuf();
  return parse(text.str(), path);
}

}  // namespace nascent::grammar
