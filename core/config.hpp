#pragma once
#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace nascent {

// A view of one section of the YAML config that knows its own dotted path, so every error names
// the exact key ("config: strategy.population: expected an integer, got 'ten'").
class Config {
 public:
  Config() : node_(YAML::NodeType::Map) {}
  explicit Config(YAML::Node node, std::string path = "") : node_(std::move(node)), path_(std::move(path)) {}

  static Config load_file(const std::string& file);
  static Config parse(const std::string& text);

  // `--set a.b.c=value`: value is read as YAML, so numbers, lists and maps work.
  void set(const std::string& assignment);

  bool has(const std::string& key) const;
  Config child(const std::string& key) const;  // empty map if absent

  template <typename T>
  T get(const std::string& key) const {
    if (!has(key)) throw Error("config: missing required key '" + full(key) + "'");
    return convert<T>(key);
  }
  template <typename T>
  T get(const std::string& key, const T& fallback) const {
    return has(key) ? convert<T>(key) : fallback;
  }

  // Rejects keys not in `allowed`, so a typo is an error rather than a silently ignored setting.
  void check_keys(std::initializer_list<const char*> allowed) const;
  void check_keys(const std::vector<std::string>& allowed) const;

  std::string path() const { return path_; }
  std::string full(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  const YAML::Node& node() const { return node_; }
  std::string dump() const;

 private:
  template <typename T>
  T convert(const std::string& key) const {
    const YAML::Node value = node_[key];
    try {
      return value.as<T>();
    } catch (const YAML::Exception&) {
      throw Error("config: " + full(key) + ": expected " + type_name<T>() + ", got '" + scalar_text(value) + "'");
    }
  }
  template <typename T>
  static const char* type_name();
  static std::string scalar_text(const YAML::Node& node);

  YAML::Node node_;
  std::string path_;
};

template <> inline const char* Config::type_name<int>() { return "an integer"; }
template <> inline const char* Config::type_name<long>() { return "an integer"; }
template <> inline const char* Config::type_name<long long>() { return "an integer"; }
template <> inline const char* Config::type_name<unsigned long>() { return "a non-negative integer"; }
template <> inline const char* Config::type_name<double>() { return "a number"; }
template <> inline const char* Config::type_name<bool>() { return "true or false"; }
template <> inline const char* Config::type_name<std::string>() { return "a string"; }
template <> inline const char* Config::type_name<std::vector<std::string>>() { return "a list of strings"; }
template <> inline const char* Config::type_name<std::vector<double>>() { return "a list of numbers"; }
template <> inline const char* Config::type_name<std::vector<int>>() { return "a list of integers"; }

// Resolves a data path from a config: as given if it exists, else relative to the config's folder.
std::string resolve_path(const std::string& path, const std::string& config_dir);

}  // namespace nascent
