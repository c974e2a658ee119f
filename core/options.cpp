#include "core/options.hpp"

#include "core/option_rows.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

namespace nascent {

namespace {

std::string flow(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "";
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

std::string number_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string range_text(const OptionSpec& spec) {
  if (!spec.choices.empty()) {
    std::string text;
    for (const auto& choice : spec.choices) text += (text.empty() ? "" : "|") + choice;
    return text;
  }
  if (spec.min && spec.max) return "[" + number_text(*spec.min) + ", " + number_text(*spec.max) + "]";
  if (spec.min) return ">= " + number_text(*spec.min);
  if (spec.max) return "<= " + number_text(*spec.max);
  return "";
}

// Converts and range-checks one given value; throws the Config's own one-line type errors.
void check_value(const Config& section, const OptionSpec& spec, const std::string& component) {
  const std::string key = section.full(spec.name);
  const auto in_range = [&](double value) {
    if ((spec.min && value < *spec.min) || (spec.max && value > *spec.max) || std::isnan(value))
      throw Error("config: " + key + ": " + number_text(value) + " is out of range (" + range_text(spec) + ")");
  };
  switch (spec.type) {
    case OptionType::Integer: in_range(static_cast<double>(section.get<long long>(spec.name))); break;
    case OptionType::Number: in_range(section.get<double>(spec.name)); break;
    case OptionType::Flag: section.get<bool>(spec.name); break;
    case OptionType::Text: {
      const std::string value = section.get<std::string>(spec.name);
      if (!spec.choices.empty() && std::find(spec.choices.begin(), spec.choices.end(), value) == spec.choices.end())
        throw Error("config: " + key + ": expected one of " + range_text(spec) + ", got '" + value + "'");
      break;
    }
    case OptionType::Integers:
      for (int value : section.get<std::vector<int>>(spec.name)) in_range(value);
      break;
    case OptionType::Numbers:
      for (double value : section.get<std::vector<double>>(spec.name)) in_range(value);
      break;
    case OptionType::Texts: section.get<std::vector<std::string>>(spec.name); break;
    case OptionType::Section: section.child(spec.name); break;
    case OptionType::Value: break;
  }
}

}  // namespace

const char* option_type_name(OptionType type) {
  switch (type) {
    case OptionType::Integer: return "integer";
    case OptionType::Number: return "number";
    case OptionType::Flag: return "bool";
    case OptionType::Text: return "string";
    case OptionType::Integers: return "integers";
    case OptionType::Numbers: return "numbers";
    case OptionType::Texts: return "strings";
    case OptionType::Section: return "mapping";
    case OptionType::Value: return "value";
  }
  return "?";
}

OptionTable& OptionTable::add(OptionSpec spec) {
  if (find(spec.name)) throw Error("option '" + spec.name + "' declared twice");
  specs_.push_back(std::move(spec));
  return *this;
}

OptionTable& OptionTable::integer(const std::string& name, long long fallback, const std::string& doc) {
  return add({name, OptionType::Integer, YAML::Node(fallback), false, {}, {}, {}, doc});
}
OptionTable& OptionTable::number(const std::string& name, double fallback, const std::string& doc) {
  return add({name, OptionType::Number, YAML::Node(fallback), false, {}, {}, {}, doc});
}
OptionTable& OptionTable::flag(const std::string& name, bool fallback, const std::string& doc) {
  return add({name, OptionType::Flag, YAML::Node(fallback), false, {}, {}, {}, doc});
}
OptionTable& OptionTable::text(const std::string& name, const std::string& fallback, const std::string& doc) {
  return add({name, OptionType::Text, YAML::Node(fallback), false, {}, {}, {}, doc});
}
OptionTable& OptionTable::integers(const std::string& name, std::vector<long long> fallback, const std::string& doc) {
  YAML::Node node(YAML::NodeType::Sequence);
  for (auto value : fallback) node.push_back(value);
  return add({name, OptionType::Integers, node, false, {}, {}, {}, doc});
}
OptionTable& OptionTable::numbers(const std::string& name, std::vector<double> fallback, const std::string& doc) {
  YAML::Node node(YAML::NodeType::Sequence);
  for (auto value : fallback) node.push_back(value);
  return add({name, OptionType::Numbers, node, false, {}, {}, {}, doc});
}
OptionTable& OptionTable::texts(const std::string& name, std::vector<std::string> fallback, const std::string& doc) {
  YAML::Node node(YAML::NodeType::Sequence);
  for (const auto& value : fallback) node.push_back(value);
  return add({name, OptionType::Texts, node, false, {}, {}, {}, doc});
}
OptionTable& OptionTable::section(const std::string& name, const std::string& doc) {
  return add({name, OptionType::Section, YAML::Node(YAML::NodeType::Map), false, {}, {}, {}, doc});
}
OptionTable& OptionTable::section(const std::string& name, const std::string& doc, OptionTable nested) {
  add({name, OptionType::Section, YAML::Node(YAML::NodeType::Map), false, {}, {}, {}, doc});
  specs_.back().nested = std::make_shared<const OptionTable>(std::move(nested));
  return *this;
}

OptionTable& OptionTable::optional(const std::string& name, OptionType type, const std::string& doc) {
  return add({name, type, YAML::Node(), false, {}, {}, {}, doc});
}

OptionTable& OptionTable::required() {
  specs_.back().required = true;
  specs_.back().fallback = YAML::Node();
  return *this;
}
OptionTable& OptionTable::at_least(double min) {
  specs_.back().min = min;
  return *this;
}
OptionTable& OptionTable::at_most(double max) {
  specs_.back().max = max;
  return *this;
}
OptionTable& OptionTable::one_of(std::vector<std::string> choices) {
  specs_.back().choices = std::move(choices);
  return *this;
}

const OptionSpec* OptionTable::find(const std::string& name) const {
  for (const auto& spec : specs_)
    if (spec.name == name) return &spec;
  return nullptr;
}

Options OptionTable::read(const Config& section, const std::string& component, bool name_key) const {
  if (section.node().IsDefined() && !section.node().IsNull() && !section.node().IsMap())
    throw Error("config: " + section.path() + ": expected a mapping");
  if (section.node().IsMap()) {
    for (const auto& item : section.node()) {
      const std::string key = item.first.as<std::string>();
      if ((name_key && key == "name") || find(key)) continue;
      std::string valid = name_key ? "name" : "";
      for (const auto& spec : specs_) valid += (valid.empty() ? "" : ", ") + spec.name;
      throw Error("config: " + component + ": unknown key '" + section.full(key) + "' (valid: " + (valid.empty() ? "none" : valid) + ")");
    }
  }
  for (const auto& spec : specs_) {
    if (spec.nested) {
      spec.nested->read(section.child(spec.name), component, false);
    } else if (section.has(spec.name)) {
      check_value(section, spec, component);
    } else if (spec.required) {
      throw Error("config: " + component + ": missing required key '" + section.full(spec.name) + "' (" + spec.doc + ")");
    }
  }
  return Options(this, section, component);
}

std::vector<OptionRow> option_rows(const OptionTable& table) {
  std::vector<OptionRow> rows;
  const std::function<void(const OptionTable&, const std::string&)> add_rows = [&](const OptionTable& t, const std::string& prefix) {
    for (const auto& spec : t.specs()) {
      rows.push_back({prefix + spec.name, option_type_name(spec.type), spec.required ? "(required)" : flow(spec.fallback),
                      range_text(spec), spec.doc});
      if (spec.nested) add_rows(*spec.nested, prefix + spec.name + ".");
    }
  };
  add_rows(table, "");
  return rows;
}

std::string OptionTable::describe() const {
  std::vector<std::vector<std::string>> rows{{"option", "type", "default", "range", "description"}};
  for (const OptionRow& row : option_rows(*this)) rows.push_back({row.name, row.type, row.fallback, row.range, row.doc});
  std::vector<std::size_t> width(5, 0);
  for (const auto& row : rows)
    for (std::size_t c = 0; c + 1 < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      out += row[c];
      if (c + 1 < row.size()) out += std::string(width[c] - row[c].size() + 2, ' ');
    }
    out += "\n";
  }
  if (specs_.empty()) out += "(no options)\n";
  return out;
}

std::string options_markdown(const OptionTable& table) {
  const std::vector<OptionRow> rows = option_rows(table);
  if (rows.empty()) return "(no options)\n";
  // A '|' inside a cell (choices "a|b") would end the cell.
  const auto cell = [](std::string text) {
    std::string out;
    for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
  };
  std::string out = "| option | type | default | range | description |\n|---|---|---|---|---|\n";
  for (const OptionRow& row : rows)
    out += "| `" + row.name + "` | " + row.type + " | " + (row.fallback.empty() ? "" : "`" + cell(row.fallback) + "`") + " | " +
           cell(row.range) + " | " + cell(row.doc) + " |\n";
  return out;
}

const OptionSpec& Options::declared(const std::string& name) const {
  const OptionSpec* spec = table_ ? table_->find(name) : nullptr;
  // A component asking for a key it never declared is a bug in that component, not in the config.
  if (!spec) throw Error("internal: " + component_ + " reads undeclared option '" + name + "'");
  return *spec;
}

Options Options::nested(const std::string& name) const {
  const OptionSpec& spec = declared(name);
  if (!spec.nested) throw Error("internal: " + component_ + " option '" + name + "' has no declared options");
  return Options(spec.nested.get(), section_.child(name), component_);
}

void Options::fail(const std::string& name, const std::string& message) const {
  throw Error("config: " + section_.full(name) + ": " + message);
}

}  // namespace nascent
