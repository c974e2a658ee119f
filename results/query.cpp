#include "results/query.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.hpp"

namespace nascent {

std::vector<Objective> parse_objectives(const std::string& text) {
  std::vector<Objective> objectives;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) {
    const auto colon = item.rfind(':');
    const std::string direction = colon == std::string::npos ? "" : item.substr(colon + 1);
    if (colon == std::string::npos || colon == 0 || (direction != "max" && direction != "min"))
      throw Error("--objectives: expected metric:max or metric:min, got '" + item + "'");
    objectives.push_back({item.substr(0, colon), direction == "max"});
  }
  if (objectives.size() < 2) throw Error("--objectives: a Pareto front needs at least two objectives, e.g. val_acc:max,params:min");
  return objectives;
}

std::optional<double> metric_value(const StoredEvaluation& e, const std::string& metric) {
  if (!e.result.ok) return std::nullopt;
  if (metric == "fitness") return e.fitness;
  if (metric == "cost") return e.result.cost;
  if (metric == "seconds") return e.result.seconds;
  auto it = e.result.metrics.find(metric);
  if (it == e.result.metrics.end() || !std::isfinite(it->second)) return std::nullopt;
  return it->second;
}

std::vector<StoredEvaluation> top_k(std::vector<StoredEvaluation> evaluations, std::size_t k, const std::string& metric,
                                    bool maximize) {
  std::vector<std::pair<double, StoredEvaluation>> ranked;
  for (auto& e : evaluations)
    if (auto value = metric_value(e, metric)) ranked.emplace_back(maximize ? -*value : *value, std::move(e));
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<StoredEvaluation> result;
  for (std::size_t i = 0; i < ranked.size() && i < k; ++i) result.push_back(std::move(ranked[i].second));
  return result;
}

std::vector<StoredEvaluation> pareto_front(const std::vector<StoredEvaluation>& evaluations,
                                           const std::vector<Objective>& objectives) {
  // Values oriented so that larger is better on every objective.
  std::vector<std::pair<std::vector<double>, const StoredEvaluation*>> points;
  for (const auto& e : evaluations) {
    std::vector<double> values;
    for (const auto& objective : objectives) {
      auto value = metric_value(e, objective.metric);
      if (!value) break;
      values.push_back(objective.maximize ? *value : -*value);
    }
    if (values.size() == objectives.size()) points.emplace_back(std::move(values), &e);
  }
  const auto dominates = [](const std::vector<double>& a, const std::vector<double>& b) {
    bool better = false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (a[i] < b[i]) return false;
      better = better || a[i] > b[i];
    }
    return better;
  };
  std::vector<StoredEvaluation> front;
  for (const auto& p : points) {
    bool dominated = false;
    for (const auto& q : points) dominated = dominated || dominates(q.first, p.first);
    if (!dominated) front.push_back(*p.second);
  }
  return front;
}

namespace {

nlohmann::json number(double value) { return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr); }

std::string format_number(double value) {
  if (std::isnan(value)) return "nan";
  std::ostringstream out;
  out << std::setprecision(10) << value;
  return out.str();
}

std::set<std::string> metric_names(const std::vector<StoredEvaluation>& evaluations) {
  std::set<std::string> names;
  for (const auto& e : evaluations)
    for (const auto& metric : e.result.metrics) names.insert(metric.first);
  return names;
}

std::string aligned(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], row[c].size());
    }
  std::ostringstream out;
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      out << row[c];
      if (c + 1 < row.size()) out << std::string(width[c] - row[c].size() + 2, ' ');
    }
    out << '\n';
  }
  return out.str();
}

}  // namespace

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string evaluations_to_json(const std::vector<StoredEvaluation>& evaluations) {
  nlohmann::json array = nlohmann::json::array();
  for (const auto& e : evaluations) {
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [name, value] : e.result.metrics) metrics[name] = number(value);
    array.push_back({{"run", e.run},
                     {"seq", e.seq},
                     {"space", e.space},
                     {"arch", e.arch},
                     {"fingerprint", e.fingerprint},
                     {"ok", e.result.ok},
                     {"error", e.result.error},
                     {"fitness", e.fitness ? number(*e.fitness) : nlohmann::json(nullptr)},
                     {"cost", number(e.result.cost)},
                     {"seconds", number(e.result.seconds)},
                     {"device", e.result.device},
                     {"created_at", e.created_at},
                     {"metrics", metrics}});
  }
  return array.dump(2) + "\n";
}

std::string evaluations_to_csv(const std::vector<StoredEvaluation>& evaluations) {
  const auto names = metric_names(evaluations);
  std::ostringstream out;
  out << "run,seq,space,arch,fingerprint,ok,error,fitness,cost,seconds,device,created_at";
  for (const auto& name : names) out << ',' << csv_field(name);
  out << '\n';
  for (const auto& e : evaluations) {
    out << e.run << ',' << e.seq << ',' << csv_field(e.space) << ',' << csv_field(e.arch) << ',' << e.fingerprint << ','
        << (e.result.ok ? 1 : 0) << ',' << csv_field(e.result.error) << ','
        << (e.fitness ? format_number(*e.fitness) : "") << ',' << format_number(e.result.cost) << ','
        << format_number(e.result.seconds) << ',' << csv_field(e.result.device) << ',' << e.created_at;
    for (const auto& name : names) {
      auto it = e.result.metrics.find(name);
      out << ',' << (it == e.result.metrics.end() ? "" : format_number(it->second));
    }
    out << '\n';
  }
  return out.str();
}

std::string evaluations_to_table(const std::vector<StoredEvaluation>& evaluations, const std::vector<std::string>& metrics) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header{"run", "seq", "fitness"};
  header.insert(header.end(), metrics.begin(), metrics.end());
  header.push_back("arch");
  rows.push_back(header);
  for (const auto& e : evaluations) {
    std::vector<std::string> row{std::to_string(e.run), std::to_string(e.seq),
                                 e.result.ok ? (e.fitness ? format_number(*e.fitness) : "-") : "failed"};
    for (const auto& metric : metrics) {
      auto it = e.result.metrics.find(metric);
      row.push_back(it == e.result.metrics.end() ? "-" : format_number(it->second));
    }
    row.push_back(e.arch);
    rows.push_back(row);
  }
  return aligned(rows);
}

std::string runs_to_json(const std::vector<RunRecord>& runs) {
  nlohmann::json array = nlohmann::json::array();
  for (const auto& r : runs)
    array.push_back({{"run", r.id},
                     {"status", r.status},
                     {"space", r.space},
                     {"strategy", r.strategy},
                     {"evaluator", r.evaluator},
                     {"seed", r.seed},
                     {"evaluations", r.evaluations},
                     {"started_at", r.started_at},
                     {"ended_at", r.ended_at},
                     {"versions", r.versions},
                     {"config", r.config}});
  return array.dump(2) + "\n";
}

std::string runs_to_csv(const std::vector<RunRecord>& runs) {
  std::ostringstream out;
  out << "run,status,space,strategy,evaluator,seed,evaluations,started_at,ended_at,versions\n";
  for (const auto& r : runs)
    out << r.id << ',' << r.status << ',' << csv_field(r.space) << ',' << csv_field(r.strategy) << ','
        << csv_field(r.evaluator) << ',' << r.seed << ',' << r.evaluations << ',' << r.started_at << ',' << r.ended_at
        << ',' << csv_field(r.versions) << '\n';
  return out.str();
}

std::string runs_to_table(const std::vector<RunRecord>& runs) {
  std::vector<std::vector<std::string>> rows{
      {"run", "status", "space", "strategy", "evaluator", "seed", "evaluations", "started_at", "ended_at"}};
  for (const auto& r : runs)
    rows.push_back({std::to_string(r.id), r.status, r.space, r.strategy, r.evaluator, std::to_string(r.seed),
                    std::to_string(r.evaluations), r.started_at, r.ended_at.empty() ? "-" : r.ended_at});
  return aligned(rows);
}

}  // namespace nascent
