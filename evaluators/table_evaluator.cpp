#include "evaluators/table_evaluator.hpp"

#include <chrono>
#include <fstream>

#include "core/error.hpp"

namespace nascent {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cells.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.emplace_back();
    } else if (c != '\r') {
      cells.back() += c;
    }
  }
  if (quoted) throw Error("unterminated quote");
  return cells;
}

TableEvaluator::TableEvaluator(Options options) : options_(std::move(options)) {
  std::ifstream in(options_.path);
  if (!in) throw Error("table '" + options_.path + "': cannot read the file");
  std::string line;
  if (!std::getline(in, line)) throw Error("table '" + options_.path + "': the file is empty");
  const std::vector<std::string> header = split_csv_line(line);
  const auto column = [&](const std::string& name, const char* role) {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    throw Error("table '" + options_.path + "': no column '" + name + "' (the " + role + " column)");
  };
  const std::size_t key_col = column(options_.key, "key");
  std::vector<std::pair<std::string, std::size_t>> metric_cols{{options_.metric, column(options_.metric, "metric")}};
  for (const auto& name : options_.report)
    if (name != options_.metric) metric_cols.emplace_back(name, column(name, "report"));
  const std::size_t cost_col = options_.cost.empty() ? header.size() : column(options_.cost, "cost");

  std::size_t line_number = 1;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty() || line == "\r") continue;
    const std::string where = "table '" + options_.path + "' line " + std::to_string(line_number);
    std::vector<std::string> cells;
    try {
      cells = split_csv_line(line);
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
    if (cells.size() != header.size())
      throw Error(where + ": " + std::to_string(cells.size()) + " cells, the header has " + std::to_string(header.size()));
    const auto number = [&](std::size_t col) {
      try {
        std::size_t used = 0;
        const double value = std::stod(cells[col], &used);
        if (used == cells[col].size()) return value;
      } catch (const std::exception&) {
      }
      throw Error(where + ", column '" + header[col] + "': '" + cells[col] + "' is not a number");
    };
    Row row;
    for (const auto& [name, col] : metric_cols) row.metrics[name] = number(col);
    if (cost_col < header.size()) row.cost = number(cost_col);
    if (!rows_.emplace(cells[key_col], std::move(row)).second)
      throw Error(where + ": duplicate key '" + cells[key_col] + "'");
  }
}

std::unique_ptr<Evaluator> TableEvaluator::from_config(const Config& config, const EvaluatorContext& context) {
  config.check_keys({"name", "path", "key", "metric", "report", "cost"});
  Options options;
  options.path = resolve_path(config.get<std::string>("path"), context.config_dir);
  options.key = config.get<std::string>("key", "arch");
  options.metric = config.get<std::string>("metric");
  options.report = config.get<std::vector<std::string>>("report", {});
  options.cost = config.get<std::string>("cost", "");
  return std::make_unique<TableEvaluator>(options);
}

Evaluation TableEvaluator::evaluate(const SearchSpace& space, const std::string& arch, std::uint64_t seed) {
  const auto start = std::chrono::steady_clock::now();
  Evaluation evaluation;
  evaluation.device = "table";
  auto it = rows_.find(arch);
  if (it == rows_.end()) {
    evaluation.ok = false;
    evaluation.error = "not in table " + options_.path;
  } else {
    evaluation.metrics = it->second.metrics;
    evaluation.cost = it->second.cost;
  }
  evaluation.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return evaluation;
}

}  // namespace nascent
