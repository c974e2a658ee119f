#pragma once
// Declared options: a component lists each of its config keys once (name, type, default, range,
// one-line doc). Reading a config section, the unknown-key error with the valid keys, and the
// table `nascent options KIND NAME` prints all come from that one list, so the documentation
// cannot drift from what is read.
#include <yaml-cpp/yaml.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace nascent {

enum class OptionType { Integer, Number, Flag, Text, Integers, Numbers, Texts, Section, Value };  // Value: any YAML the component checks

struct OptionSpec {
  std::string name;
  OptionType type = OptionType::Text;
  YAML::Node fallback;  // undefined: no default (absent unless given, or required)
  bool required = false;
  std::optional<double> min, max;    // Integer, Number and each element of Integers, Numbers
  std::vector<std::string> choices;  // Text: the accepted values (empty: any)
  std::string doc;
  std::shared_ptr<const class OptionTable> nested;  // Section: its own declared options, when it has them
};

class Options;

// A component's declared options. Built with chained calls, each modifier applying to the option
// declared last:  OptionTable().integer("population", 50, "individuals kept").at_least(1)
class OptionTable {
 public:
  OptionTable& integer(const std::string& name, long long fallback, const std::string& doc);
  OptionTable& number(const std::string& name, double fallback, const std::string& doc);
  OptionTable& flag(const std::string& name, bool fallback, const std::string& doc);
  OptionTable& text(const std::string& name, const std::string& fallback, const std::string& doc);
  OptionTable& integers(const std::string& name, std::vector<long long> fallback, const std::string& doc);
  OptionTable& numbers(const std::string& name, std::vector<double> fallback, const std::string& doc);
  OptionTable& texts(const std::string& name, std::vector<std::string> fallback, const std::string& doc);
  // A nested mapping that another declared table reads (a dataset, a supernet's settings).
  OptionTable& section(const std::string& name, const std::string& doc);
  // A nested mapping with declared options of its own (checked with the outer table).
  OptionTable& section(const std::string& name, const std::string& doc, OptionTable nested);
  // An option of `type` with no default: absent unless the config gives it.
  OptionTable& optional(const std::string& name, OptionType type, const std::string& doc);

  OptionTable& required();
  OptionTable& at_least(double min);
  OptionTable& at_most(double max);
  OptionTable& one_of(std::vector<std::string> choices);

  // The options of `section` (a config section; its `name` key, when `name_key`, is the component's
  // name and always allowed). Unknown keys, wrong types, values out of range and missing required
  // keys are one-line Errors naming `component` ("strategy evolution") and the key.
  Options read(const Config& section, const std::string& component, bool name_key = true) const;

  const std::vector<OptionSpec>& specs() const { return specs_; }
  const OptionSpec* find(const std::string& name) const;
  // Aligned rows: name, type, default, range, doc.
  std::string describe() const;

 private:
  OptionTable& add(OptionSpec spec);
  std::vector<OptionSpec> specs_;
};

// Values read through an OptionTable: what the config gave, else the declared default.
class Options {
 public:
  Options() = default;
  Options(const OptionTable* table, Config section, std::string component)
      : table_(table), section_(std::move(section)), component_(std::move(component)) {}

  template <typename T>
  T get(const std::string& name) const {
    const OptionSpec& spec = declared(name);
    if (section_.has(name)) return section_.get<T>(name);
    if (!spec.fallback.IsDefined() || spec.fallback.IsNull())
      throw Error("config: " + component_ + ": missing required key '" + section_.full(name) + "'");
    return spec.fallback.as<T>();
  }
  // Options declared without a default: the value when given.
  template <typename T>
  std::optional<T> maybe(const std::string& name) const {
    declared(name);
    if (!section_.has(name)) return std::nullopt;
    return section_.get<T>(name);
  }
  // True when the config gave the option (rather than the default applying).
  bool given(const std::string& name) const {
    declared(name);
    return section_.has(name);
  }
  // A Section option (an empty mapping when absent).
  Config section(const std::string& name) const {
    declared(name);
    return section_.child(name);
  }
  // A Section declared with its own options, read through them.
  Options nested(const std::string& name) const;
  const Config& config() const { return section_; }
  const std::string& component() const { return component_; }
  // "config: strategy.population: <message>": a one-line Error about one option's value.
  [[noreturn]] void fail(const std::string& name, const std::string& message) const;

 private:
  const OptionSpec& declared(const std::string& name) const;
  const OptionTable* table_ = nullptr;
  Config section_;
  std::string component_;
};

const char* option_type_name(OptionType type);

}  // namespace nascent
