#include "evaluators/table_evaluator.hpp"

#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace nascent {

CsvReader::CsvReader(std::string text, std::string source) : text_(std::move(text)), source_(std::move(source)) {
  // Spreadsheet exports often start with a UTF-8 byte order mark, which would corrupt the first column name.
  if (text_.compare(0, 3, "\xEF\xBB\xBF") == 0) pos_ = 3;
}

bool CsvReader::next(std::vector<std::string>& cells) {
  const std::size_t size = text_.size();
  // Length of the line break at p (LF, CRLF, or a CR ending the text), 0 if none.
  const auto line_break = [&](std::size_t p) -> std::size_t {
    if (p >= size) return 0;
    if (text_[p] == '\n') return 1;
    if (text_[p] == '\r' && p + 1 == size) return 1;
    if (text_[p] == '\r' && text_[p + 1] == '\n') return 2;
    return 0;
  };
  const auto where = [&](std::size_t line) { return source_ + " line " + std::to_string(line); };

  cells.clear();
  while (std::size_t n = line_break(pos_)) {
    pos_ += n;
    ++line_;
  }
  if (pos_ >= size) return false;
  record_line_ = line_;
  cells.emplace_back();
  for (;;) {
    std::string& cell = cells.back();
    if (pos_ < size && text_[pos_] == '"') {
      const std::size_t opened = line_;
      ++pos_;
      for (;;) {
        if (pos_ >= size) throw Error(where(opened) + ": unterminated quote");
        const char c = text_[pos_++];
        if (c != '"') {
          if (c == '\n') ++line_;
          cell += c;
        } else if (pos_ < size && text_[pos_] == '"') {
          cell += '"';
          ++pos_;
        } else {
          break;
        }
      }
      if (pos_ < size && text_[pos_] != ',' && !line_break(pos_))
        throw Error(where(line_) + ": unexpected character '" + std::string(1, text_[pos_]) +
                    "' after a closing quote (a quote inside a quoted field is written \"\")");
    } else {
      while (pos_ < size && text_[pos_] != ',' && !line_break(pos_)) cell += text_[pos_++];
    }
    if (pos_ >= size) return true;
    if (text_[pos_] == ',') {
      ++pos_;
      cells.emplace_back();
      continue;
    }
    pos_ += line_break(pos_);
    ++line_;
    return true;
  }
}

std::vector<std::string> split_csv_line(const std::string& line) {
  CsvReader reader(line, "CSV record");
  std::vector<std::string> cells;
  if (!reader.next(cells)) cells.assign(1, "");
  return cells;
}

std::optional<double> parse_csv_number(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

namespace {

std::string read_whole_file(const std::string& path, const std::string& source) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(source + ": cannot read the file");
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw Error(source + ": read error");
  return content.str();
}

}  // namespace

CsvFile::CsvFile(const std::string& path, std::string source_name)
    : source(std::move(source_name)), reader(read_whole_file(path, source), source) {
  if (!reader.next(header)) throw Error(source + ": the file is empty (expected a header line)");
  header_where_ = source + " line " + std::to_string(reader.line());
}

std::size_t CsvFile::column(const std::string& name, const char* role) const {
  std::size_t found = header.size();
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] != name) continue;
    if (found != header.size()) throw Error(header_where_ + ": column '" + name + "' appears twice");
    found = i;
  }
  if (found == header.size()) {
    std::string names;
    for (const auto& h : header) names += (names.empty() ? "" : ", ") + h;
    throw Error(header_where_ + ": no column '" + name + "' (the " + role + " column; the columns are " + names + ")");
  }
  return found;
}

namespace {

// A member name, or a JSON pointer when it starts with '/'.
const nlohmann::json* json_field(const nlohmann::json& record, const std::string& field) {
  if (!field.empty() && field[0] == '/') {
    const nlohmann::json::json_pointer pointer(field);
    return record.contains(pointer) ? &record.at(pointer) : nullptr;
  }
  return record.is_object() && record.contains(field) ? &record.at(field) : nullptr;
}

}  // namespace

void TableEvaluator::add_row(const std::string& key, Row row, const std::string& where, const std::string& key_name) {
  auto [it, inserted] = rows_.emplace(key, row);
  if (inserted) return;
  if (options_.duplicates != "mean")
    throw Error(where + ", " + key_name + ": duplicate key '" + key + "' (first on line " + std::to_string(it->second.line) +
                "; duplicates: mean averages repeated measurements)");
  Row& first = it->second;
  const double n = static_cast<double>(first.count);
  for (auto& [name, value] : first.metrics) value = (value * n + row.metrics[name]) / (n + 1);
  first.cost = (first.cost * n + row.cost) / (n + 1);
  first.count += 1;
}

void TableEvaluator::load_json(const std::string& text) {
  const std::string source = "table '" + options_.path + "'";
  if (!options_.space)
    throw Error(source + ": a JSON table needs the search space to read its keys");
  nlohmann::json records;
  try {
    records = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    throw Error(source + ": not valid JSON (byte " + std::to_string(error.byte) + ")");
  } catch (const nlohmann::json::exception& error) {
    throw Error(source + ": " + error.what());
  }
  if (!records.is_array()) throw Error(source + ": expected a JSON array of records");
  std::vector<std::string> metric_names{options_.metric};
  for (const auto& name : options_.report)
    if (name != options_.metric) metric_names.push_back(name);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const std::string where = source + " record " + std::to_string(i + 1);
    const auto number = [&](const std::string& field, const char* role) {
      const nlohmann::json* value = json_field(records[i], field);
      if (!value) throw Error(where + ": no " + role + " field '" + field + "'");
      if (!value->is_number() || !std::isfinite(value->get<double>()))
        throw Error(where + ", " + role + " field '" + field + "': " + value->dump() + " is not a number");
      return value->get<double>();
    };
    Row row;
    row.line = i + 1;
    for (const auto& name : metric_names) row.metrics[name] = number(name, name == options_.metric ? "metric" : "report");
    if (!options_.cost.empty()) row.cost = number(options_.cost, "cost");
    const nlohmann::json* key = json_field(records[i], options_.key);
    if (!key) throw Error(where + ": no key field '" + options_.key + "'");
    std::string arch;
    try {
      arch = options_.space->canonical(key->is_string() ? key->get<std::string>() : key->dump());
    } catch (const Error& error) {
      throw Error(where + ", key field '" + options_.key + "': " + error.what());
    }
    add_row(arch, std::move(row), where, "key field '" + options_.key + "'");
  }
  if (rows_.empty()) throw Error(source + ": no records");
}

TableEvaluator::TableEvaluator(Options options) : options_(std::move(options)) {
  if (options_.metric.empty()) throw Error("table '" + options_.path + "': no metric column given");
  if (options_.duplicates != "error" && options_.duplicates != "mean")
    throw Error("config: evaluator.duplicates '" + options_.duplicates + "': expected error or mean");
  // A JSON array is told apart by its first non-blank byte; only then is the file read as JSON
  // (CsvFile reads and reports on everything else, including a file that cannot be opened).
  char first = 0;
  {
    std::ifstream probe(options_.path, std::ios::binary);
    while (probe.get(first) && std::isspace(static_cast<unsigned char>(first))) {
    }
  }
  if (first == '[') {
    load_json(read_whole_file(options_.path, "table '" + options_.path + "'"));
    return;
  }
  CsvFile file(options_.path, "table '" + options_.path + "'");
  const std::string& source = file.source;
  const std::vector<std::string>& header = file.header;
  CsvReader& reader = file.reader;
  const std::size_t key_col = file.column(options_.key, "key");
  std::vector<std::pair<std::string, std::size_t>> metric_cols{{options_.metric, file.column(options_.metric, "metric")}};
  for (const auto& name : options_.report)
    if (name != options_.metric) metric_cols.emplace_back(name, file.column(name, "report"));
  const std::size_t cost_col = options_.cost.empty() ? header.size() : file.column(options_.cost, "cost");

  std::vector<std::string> cells;
  while (reader.next(cells)) {
    const std::string where = source + " line " + std::to_string(reader.line());
    if (cells.size() != header.size())
      throw Error(where + ": " + std::to_string(cells.size()) + " cells, the header has " + std::to_string(header.size()));
    const auto number = [&](std::size_t col) {
      if (const auto value = parse_csv_number(cells[col])) return *value;
      throw Error(where + ", column '" + header[col] + "': '" + cells[col] + "' is not a number");
    };
    Row row;
    row.line = reader.line();
    for (const auto& [name, col] : metric_cols) row.metrics[name] = number(col);
    if (cost_col < header.size()) row.cost = number(cost_col);
    add_row(cells[key_col], std::move(row), where, "column '" + options_.key + "'");
  }
  if (rows_.empty()) throw Error(source + ": no data rows after the header");
}

std::vector<std::string> TableEvaluator::reported_metrics() const {
  std::vector<std::string> metrics{options_.metric};
  for (const auto& name : options_.report)
    if (name != options_.metric) metrics.push_back(name);
  return metrics;
}

Evaluation TableEvaluator::evaluate(const SearchSpace& space, const std::string& arch, std::uint64_t seed) {
  const auto start = std::chrono::steady_clock::now();
  Evaluation evaluation;
  evaluation.device = "table";
  const auto it = rows_.find(arch);
  if (it == rows_.end()) {
    evaluation.ok = false;
    evaluation.error = "architecture '" + arch + "' is not in table '" + options_.path + "' (column '" + options_.key + "')";
  } else {
    evaluation.metrics = it->second.metrics;
    evaluation.cost = it->second.cost;
  }
  evaluation.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return evaluation;
}

}  // namespace nascent
