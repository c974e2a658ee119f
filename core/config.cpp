#include "core/config.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>

namespace nascent {

namespace {

// YAML allows a mapping to repeat a key and yaml-cpp keeps one silently; in a config the repeat
// is nearly always an edit that went wrong, so it is an error naming the key and its line.
void reject_duplicate_keys(const YAML::Node& node, const std::string& path) {
  if (node.IsMap()) {
    std::set<std::string> seen;
    for (const auto& item : node) {
      const std::string key = item.first.IsScalar() ? item.first.Scalar() : "";
      if (!key.empty() && !seen.insert(key).second)
        throw Error("config: duplicate key '" + path + key + "' (line " + std::to_string(item.first.Mark().line + 1) + ")");
      reject_duplicate_keys(item.second, path + key + ".");
    }
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) reject_duplicate_keys(node[i], path + std::to_string(i) + ".");
  }
}

}  // namespace

Config Config::load_file(const std::string& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) throw Error("config: '" + file + "': no such file");
  // A folder or a device (/dev/null) would otherwise read as an empty config and fail much later
  // with a message about whatever key it lacks first.
  if (!std::filesystem::is_regular_file(file, ec)) throw Error("config: '" + file + "' is not a file");
  std::ifstream in(file);
  if (!in) throw Error("config: cannot read '" + file + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (buffer.str().find_first_not_of(" \t\r\n") == std::string::npos) throw Error("config: '" + file + "' is empty");
  try {
    return parse(buffer.str());
  } catch (const Error& e) {
    throw Error(file + ": " + e.what());
  }
}

Config Config::parse(const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error("config: invalid YAML at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) throw Error("config: the top level must be a mapping of keys to values");
  reject_duplicate_keys(root, "");
  return Config(root);
}

void Config::set(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error("--set: expected key.path=value, got '" + assignment + "'");
  const std::string key = assignment.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw Error("--set " + key + ": value is not valid YAML: " + e.msg);
  }
  std::vector<std::string> parts;
  std::stringstream stream(key);
  for (std::string part; std::getline(stream, part, '.');) {
    if (part.empty()) throw Error("--set: empty component in key '" + key + "'");
    parts.push_back(part);
  }
  // yaml-cpp nodes are handles: walking with operator[] on a non-const node creates maps as needed.
  std::vector<YAML::Node> chain{node_};
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next = chain.back()[parts[i]];
    if (next.IsDefined() && !next.IsNull() && !next.IsMap())
      throw Error("--set " + key + ": '" + parts[i] + "' is not a mapping");
    if (!next.IsDefined() || next.IsNull()) chain.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
    chain.push_back(chain.back()[parts[i]]);
  }
  chain.back()[parts.back()] = value;
}

bool Config::has(const std::string& key) const {
  if (!node_.IsMap()) return false;
  const YAML::Node value = node_[key];
  return value.IsDefined() && !value.IsNull();
}

Config Config::child(const std::string& key) const {
  if (!has(key)) return Config(YAML::Node(YAML::NodeType::Map), full(key));
  const YAML::Node value = node_[key];
  if (!value.IsMap()) throw Error("config: " + full(key) + ": expected a mapping");
  return Config(value, full(key));
}

void Config::check_keys(std::initializer_list<const char*> allowed) const {
  check_keys(std::vector<std::string>(allowed.begin(), allowed.end()));
}

void Config::check_keys(const std::vector<std::string>& allowed) const {
  if (!node_.IsMap()) return;
  for (const auto& item : node_) {
    const std::string key = item.first.as<std::string>();
    bool known = false;
    for (const auto& name : allowed) known = known || key == name;
    if (!known) {
      std::string list;
      for (const auto& name : allowed) list += (list.empty() ? "" : ", ") + name;
      throw Error("config: unknown key '" + full(key) + "' (expected one of: " + list + ")");
    }
  }
}

std::string Config::dump() const {
  YAML::Emitter out;
  out << node_;
  return out.c_str();
}

std::string Config::scalar_text(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

std::string resolve_path(const std::string& path, const std::string& config_dir) {
  namespace fs = std::filesystem;
  if (path.empty() || fs::path(path).is_absolute() || fs::exists(path) || config_dir.empty()) return path;
  const fs::path beside = fs::path(config_dir) / path;
  return fs::exists(beside) ? beside.lexically_normal().string() : path;
}

}  // namespace nascent
