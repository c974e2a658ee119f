#include "results/query.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>
#include <yaml-cpp/yaml.h>

#include "core/error.hpp"

namespace nascent {

namespace {

using Json = nlohmann::ordered_json;  // keeps fields in the documented order for people reading it

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

bool is_builtin_field(const std::string& metric) { return metric == "fitness" || metric == "cost" || metric == "seconds"; }

}  // namespace

std::vector<Objective> parse_objectives(const std::string& text) {
  std::vector<Objective> objectives;
  std::set<std::string> seen;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) {
    const std::optional<Objective> objective = parse_objective(item);
    if (!objective) throw Error("--objectives: expected metric:max or metric:min, got '" + trim(item) + "' in '" + text + "'");
    if (!seen.insert(objective->metric).second) throw Error("--objectives: '" + objective->metric + "' is listed twice");
    objectives.push_back(*objective);
  }
  // getline drops a trailing empty item, which would hide a typo such as "acc:max,".
  if (!text.empty() && text.back() == ',')
    throw Error("--objectives: expected metric:max or metric:min after the last comma in '" + text + "'");
  if (objectives.size() < 2)
    throw Error("--objectives: a Pareto front needs at least two objectives, e.g. val_acc:max,params:min");
  return objectives;
}

std::optional<double> metric_value(const StoredEvaluation& e, const std::string& metric) {
  if (!e.result.ok) return std::nullopt;
  std::optional<double> value;
  if (metric == "fitness") {
    value = e.fitness;
  } else if (auto it = e.result.metrics.find(metric); it != e.result.metrics.end()) {
    value = it->second;
  } else if (metric == "cost") {
    value = e.result.cost;
  } else if (metric == "seconds") {
    value = e.result.seconds;
  }
  if (value && std::isnan(*value)) return std::nullopt;
  return value;
}

std::vector<std::string> metric_names(const std::vector<StoredEvaluation>& evaluations) {
  std::set<std::string> names;
  for (const auto& e : evaluations)
    for (const auto& metric : e.result.metrics) names.insert(metric.first);
  return {names.begin(), names.end()};
}

void require_metric(const std::vector<StoredEvaluation>& evaluations, const std::string& metric) {
  if (is_builtin_field(metric) || evaluations.empty()) return;
  const auto names = metric_names(evaluations);
  if (std::binary_search(names.begin(), names.end(), metric)) return;
  std::string known = "fitness, cost, seconds";
  for (const auto& name : names) known += ", " + name;
  throw Error("no stored evaluation has a metric '" + metric + "' (known: " + known + ")");
}

RunDirections run_directions(const std::vector<RunRecord>& runs) {
  RunDirections directions;
  for (const auto& r : runs) directions[r.id] = r.maximize;
  return directions;
}

std::vector<StoredEvaluation> select_stage(std::vector<StoredEvaluation> evaluations, const std::vector<RunRecord>& runs,
                                           std::optional<Stage> stage) {
  std::map<std::int64_t, Stage> finals;
  for (const auto& r : runs) finals[r.id] = r.final_stage;
  std::vector<StoredEvaluation> kept;
  for (auto& e : evaluations) {
    const auto final_stage = finals.find(e.run);
    const Stage wanted = stage ? *stage : final_stage == finals.end() ? Stage::Query : final_stage->second;
    if (e.stage == wanted) kept.push_back(std::move(e));
  }
  return kept;
}

namespace {

// The best k by `key` (larger is better), leaving out evaluations without a key; ties keep
// storage order.
template <typename Key>
std::vector<StoredEvaluation> best_k(std::vector<StoredEvaluation> evaluations, std::size_t k, const Key& key) {
  std::vector<std::pair<double, std::size_t>> ranked;
  for (std::size_t i = 0; i < evaluations.size(); ++i)
    if (std::optional<double> value = key(evaluations[i])) ranked.emplace_back(*value, i);
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<StoredEvaluation> result;
  for (std::size_t i = 0; i < ranked.size() && i < k; ++i) result.push_back(std::move(evaluations[ranked[i].second]));
  return result;
}

bool run_maximizes(const RunDirections& directions, std::int64_t run) {
  const auto it = directions.find(run);
  return it == directions.end() || it->second;
}

}  // namespace

std::vector<StoredEvaluation> top_k(std::vector<StoredEvaluation> evaluations, std::size_t k, const std::string& metric,
                                    bool maximize) {
  return best_k(std::move(evaluations), k, [&](const StoredEvaluation& e) -> std::optional<double> {
    const auto value = metric_value(e, metric);
    if (!value) return std::nullopt;
    return maximize ? *value : -*value;
  });
}

std::vector<StoredEvaluation> top_k_fitness(std::vector<StoredEvaluation> evaluations, std::size_t k,
                                            const RunDirections& directions) {
  return best_k(std::move(evaluations), k, [&](const StoredEvaluation& e) -> std::optional<double> {
    const auto value = metric_value(e, "fitness");
    if (!value) return std::nullopt;
    return run_maximizes(directions, e.run) ? *value : -*value;
  });
}

std::vector<StoredEvaluation> pareto_front(const std::vector<StoredEvaluation>& evaluations,
                                           const std::vector<Objective>& objectives, const RunDirections& directions) {
  // Values oriented so that larger is better on every objective.
  std::vector<std::vector<double>> points;
  std::vector<std::size_t> owner;
  for (std::size_t i = 0; i < evaluations.size(); ++i) {
    std::vector<double> values;
    for (const auto& objective : objectives) {
      auto value = metric_value(evaluations[i], objective.metric);
      if (!value) break;
      if (objective.metric == "fitness" && directions.count(evaluations[i].run) && !directions.at(evaluations[i].run))
        value = -*value;
      values.push_back(objective.maximize ? *value : -*value);
    }
    if (values.size() != objectives.size()) continue;
    points.push_back(std::move(values));
    owner.push_back(i);
  }
  const auto dominates = [](const std::vector<double>& a, const std::vector<double>& b) {
    bool strictly = false;
    for (std::size_t d = 0; d < a.size(); ++d) {
      if (a[d] < b[d]) return false;
      strictly = strictly || a[d] > b[d];
    }
    return strictly;
  };
  // Whatever dominates a point comes before it in descending lexicographic order, and dominance is
  // transitive, so each point need only be checked against the front found so far: O(n * front)
  // instead of O(n^2), which matters for tables with tens of thousands of evaluations.
  std::vector<std::size_t> order(points.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return points[a] > points[b]; });
  std::vector<std::size_t> front;
  for (std::size_t p : order) {
    const bool dominated =
        std::any_of(front.begin(), front.end(), [&](std::size_t q) { return dominates(points[q], points[p]); });
    if (!dominated) front.push_back(p);
  }
  std::sort(front.begin(), front.end());
  std::vector<StoredEvaluation> result;
  for (std::size_t p : front) result.push_back(evaluations[owner[p]]);
  return result;
}

std::string exact_number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  // Whole numbers (parameter counts, FLOPs) in full: shortest form would write 1e+06.
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
    return buffer;
  }
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  return std::string(buffer, end);
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

namespace {

Json number(double value) { return std::isfinite(value) ? Json(value) : Json(nullptr); }

// Tables are for reading: whole numbers (parameter counts, FLOPs) in full, others to 6 digits.
std::string short_number(double value) {
  if (!std::isfinite(value)) return exact_number(value);
  char buffer[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
  else
    std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}

std::string aligned(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], row[c].size());
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

Json evaluation_json(const StoredEvaluation& e) {
  Json metrics = Json::object();
  for (const auto& [name, value] : e.result.metrics) metrics[name] = number(value);
  return Json{{"run", e.run},
              {"seq", e.seq},
              {"space", e.space},
              {"arch", e.arch},
              {"fingerprint", e.fingerprint},
              {"ok", e.result.ok},
              {"status", evaluation_status(e.result)},
              {"error", e.result.error},
              {"fitness", e.fitness ? number(*e.fitness) : Json(nullptr)},
              {"cost", number(e.result.cost)},
              {"seconds", number(e.result.seconds)},
              {"device", e.result.device},
              {"created_at", e.created_at},
              {"stage", to_string(e.stage)},
              {"parent_seq", e.parent ? Json(*e.parent) : Json(nullptr)},
              {"metrics", metrics}};
}

Json run_json(const RunRecord& r) {
  return Json{{"run", r.id},
              {"status", r.status},
              {"space", r.space},
              {"strategy", r.strategy},
              {"evaluator", r.evaluator},
              {"seed", r.seed},
              {"evaluations", r.evaluations},
              {"started_at", r.started_at},
              {"ended_at", r.ended_at.empty() ? Json(nullptr) : Json(r.ended_at)},
              {"objective_metric", r.objective_metric},
              {"objective_mode", r.maximize ? "max" : "min"},
              {"final_stage", to_string(r.final_stage)},
              {"versions", r.versions},
              {"config", r.config}};
}

std::string fitness_text(const StoredEvaluation& e) {
  if (!e.result.ok) return evaluation_status(e.result);
  return e.fitness ? short_number(*e.fitness) : "-";
}

}  // namespace

// evaluation_json(e).dump(2), each line after the first indented by `indent` more spaces,
// written directly: building the JSON tree of every evaluation of a large export costs more than
// reading them from the database. Scalars still go through the JSON library, so quoting and
// number formatting are the library's; test_results_query checks the text equals the tree's.
void append_evaluation_json(std::string& out, const StoredEvaluation& e, const std::string& indent) {
  const std::string line = "\n" + indent + "  ";
  const auto key = [&](const char* name) {
    out += line;
    out += '"';
    out += name;
    out += "\": ";
  };
  // Printable ASCII without quotes or backslashes is written as it is; anything else (escapes,
  // UTF-8, which the library validates) goes through the library.
  const auto text = [&out](const std::string& value) {
    for (const char c : value)
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
        out += Json(value).dump();
        return;
      }
    out += '"';
    out += value;
    out += '"';
  };
  const auto real = [&out](double value) { out += number(value).dump(); };
  // Keys in the order evaluation_json inserts them.
  out += '{';
  key("run"), out += std::to_string(e.run), out += ',';
  key("seq"), out += std::to_string(e.seq), out += ',';
  key("space"), text(e.space), out += ',';
  key("arch"), text(e.arch), out += ',';
  key("fingerprint"), text(e.fingerprint), out += ',';
  key("ok"), out += e.result.ok ? "true" : "false", out += ',';
  key("status"), text(evaluation_status(e.result)), out += ',';
  key("error"), text(e.result.error), out += ',';
  key("fitness"), out += e.fitness ? number(*e.fitness).dump() : "null", out += ',';
  key("cost"), real(e.result.cost), out += ',';
  key("seconds"), real(e.result.seconds), out += ',';
  key("device"), text(e.result.device), out += ',';
  key("created_at"), text(e.created_at), out += ',';
  key("stage"), text(to_string(e.stage)), out += ',';
  key("parent_seq"), out += e.parent ? std::to_string(*e.parent) : "null", out += ',';
  key("metrics");
  if (e.result.metrics.empty()) {
    out += "{}";
  } else {
    out += '{';
    bool first = true;
    for (const auto& [name, value] : e.result.metrics) {
      out += first ? "" : ",";
      first = false;
      out += line + "  ";
      text(name);
      out += ": ";
      real(value);
    }
    out += line + "}";
  }
  out += "\n" + indent + "}";
}

// The same text as one array's dump(2), written one evaluation at a time.
std::string evaluations_to_json(const std::vector<StoredEvaluation>& evaluations) {
  if (evaluations.empty()) return "[]\n";
  std::string out = "[\n";
  for (std::size_t i = 0; i < evaluations.size(); ++i) {
    out += i ? ",\n  " : "  ";
    append_evaluation_json(out, evaluations[i], "  ");
  }
  out += "\n]\n";
  return out;
}

std::string evaluation_to_json(const StoredEvaluation& evaluation) {
  std::string out;
  append_evaluation_json(out, evaluation, "");
  return out + "\n";
}

std::string evaluations_to_csv(const std::vector<StoredEvaluation>& evaluations) {
  const auto names = metric_names(evaluations);
  std::string out = "run,seq,space,arch,fingerprint,ok,status,error,fitness,cost,seconds,device,created_at,stage,parent_seq";
  for (const auto& name : names) out += "," + csv_field(name);
  out += "\n";
  // Appended field by field: exports of hundreds of thousands of rows are read at the speed of
  // the database, not of temporary strings.
  const auto field = [&out](const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos) out += text;
    else out += csv_field(text);
  };
  for (const auto& e : evaluations) {
    out += std::to_string(e.run);
    out += ',';
    out += std::to_string(e.seq);
    out += ',';
    field(e.space);
    out += ',';
    field(e.arch);
    out += ',';
    field(e.fingerprint);
    out += e.result.ok ? ",1," : ",0,";
    out += evaluation_status(e.result);
    out += ',';
    field(e.result.error);
    out += ',';
    if (e.fitness) out += exact_number(*e.fitness);
    out += ',';
    out += exact_number(e.result.cost);
    out += ',';
    out += exact_number(e.result.seconds);
    out += ',';
    field(e.result.device);
    out += ',';
    field(e.created_at);
    out += ',';
    out += to_string(e.stage);
    out += ',';
    if (e.parent) out += std::to_string(*e.parent);
    // Metric names are sorted, as are both maps: one merge pass instead of a lookup per column.
    auto metric = e.result.metrics.begin();
    for (const auto& name : names) {
      out += ',';
      while (metric != e.result.metrics.end() && metric->first < name) ++metric;
      if (metric != e.result.metrics.end() && metric->first == name) out += exact_number(metric->second);
    }
    out += '\n';
  }
  return out;
}

std::string evaluations_to_table(const std::vector<StoredEvaluation>& evaluations, const std::vector<std::string>& shown) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header{"run", "seq", "fitness"};
  // A multi-fidelity search's evaluations say how far each candidate was trained.
  std::vector<std::string> metrics = shown;
  const bool fidelity = std::any_of(evaluations.begin(), evaluations.end(), [](const StoredEvaluation& e) { return e.result.metrics.count("rung") > 0; });
  for (const char* column : {"rung", "epochs"})
    if (fidelity && std::find(metrics.begin(), metrics.end(), column) == metrics.end()) metrics.push_back(column);
  for (const auto& metric : metrics)
    if (metric != "fitness") header.push_back(metric);
  header.push_back("arch");
  rows.push_back(header);
  for (const auto& e : evaluations) {
    std::vector<std::string> row{std::to_string(e.run), std::to_string(e.seq), fitness_text(e)};
    for (const auto& metric : metrics) {
      if (metric == "fitness") continue;
      const auto it = e.result.metrics.find(metric);
      if (it != e.result.metrics.end()) row.push_back(short_number(it->second));
      else if (metric == "cost") row.push_back(short_number(e.result.cost));
      else if (metric == "seconds") row.push_back(short_number(e.result.seconds));
      else if (metric == "stage") row.push_back(to_string(e.stage));
      else row.push_back("-");
    }
    row.push_back(e.arch);
    rows.push_back(row);
  }
  return aligned(rows);
}

namespace {

// Hypervolume of points (minimised on every coordinate) below `reference`, by slicing the last
// coordinate: between consecutive values the dominated region is the (d-1)-dimensional
// hypervolume of the points at or below the slice.
double minimised_hypervolume(std::vector<std::vector<double>> points, const std::vector<double>& reference) {
  const std::size_t d = reference.size();
  if (points.empty()) return 0;
  if (d == 1) {
    double best = reference[0];
    for (const auto& p : points) best = std::min(best, p[0]);
    return reference[0] - best;
  }
  if (d == 2) {
    // Sweep along the first coordinate, keeping the lowest second coordinate seen so far.
    std::sort(points.begin(), points.end());
    double volume = 0, lowest = reference[1];
    for (std::size_t i = 0; i < points.size(); ++i) {
      lowest = std::min(lowest, points[i][1]);
      const double next = i + 1 < points.size() ? points[i + 1][0] : reference[0];
      volume += (next - points[i][0]) * (reference[1] - lowest);
    }
    return volume;
  }
  std::sort(points.begin(), points.end(), [d](const auto& a, const auto& b) { return a[d - 1] < b[d - 1]; });
  const std::vector<double> lower_reference(reference.begin(), reference.end() - 1);
  double volume = 0;
  std::vector<std::vector<double>> below;
  for (std::size_t i = 0; i < points.size(); ++i) {
    below.emplace_back(points[i].begin(), points[i].end() - 1);
    const double top = i + 1 < points.size() ? points[i + 1][d - 1] : reference[d - 1];
    if (top > points[i][d - 1]) volume += minimised_hypervolume(below, lower_reference) * (top - points[i][d - 1]);
  }
  return volume;
}

}  // namespace

double hypervolume(const std::vector<std::vector<double>>& points, const std::vector<Objective>& objectives,
                   const std::vector<double>& reference) {
  if (reference.size() != objectives.size())
    throw Error("hypervolume: the reference point has " + std::to_string(reference.size()) + " values for " +
                std::to_string(objectives.size()) + " objectives");
  std::vector<double> ref;
  for (std::size_t m = 0; m < objectives.size(); ++m) ref.push_back(objectives[m].maximize ? -reference[m] : reference[m]);
  std::vector<std::vector<double>> kept;
  for (const auto& point : points) {
    std::vector<double> p;
    bool inside = point.size() == objectives.size();
    for (std::size_t m = 0; inside && m < objectives.size(); ++m) {
      p.push_back(objectives[m].maximize ? -point[m] : point[m]);
      inside = std::isfinite(p.back()) && p.back() < ref[m];
    }
    if (inside) kept.push_back(std::move(p));
  }
  return minimised_hypervolume(std::move(kept), ref);
}

std::string evaluation_to_text(const StoredEvaluation& e) {
  std::vector<std::vector<std::string>> rows{
      {"run", std::to_string(e.run)},
      {"seq", std::to_string(e.seq)},
      {"space", e.space},
      {"arch", e.arch},
      {"fingerprint", e.fingerprint},
      {"stage", to_string(e.stage)},
      {"parent", e.parent ? std::to_string(e.run) + ":" + std::to_string(*e.parent) : "-"},
      {"status", e.result.ok ? "ok" : evaluation_status(e.result) + ": " + e.result.error},
      {"fitness", e.fitness ? exact_number(*e.fitness) : "-"},
      {"cost", exact_number(e.result.cost)},
      {"seconds", exact_number(e.result.seconds)},
      {"elapsed", exact_number(e.elapsed)},
      {"device", e.result.device},
      {"stored_at", e.created_at},
  };
  for (const auto& [name, value] : e.result.metrics) rows.push_back({"  " + name, exact_number(value)});
  return aligned(rows);
}

std::string runs_to_json(const std::vector<RunRecord>& runs) {
  Json array = Json::array();
  for (const auto& r : runs) array.push_back(run_json(r));
  return array.dump(2) + "\n";
}

std::string runs_to_csv(const std::vector<RunRecord>& runs) {
  std::string out =
      "run,status,space,strategy,evaluator,seed,evaluations,started_at,ended_at,objective_metric,objective_mode,"
      "final_stage,versions,config\n";
  for (const auto& r : runs) {
    const std::vector<std::string> fields{std::to_string(r.id),
                                          r.status,
                                          r.space,
                                          r.strategy,
                                          r.evaluator,
                                          std::to_string(r.seed),
                                          std::to_string(r.evaluations),
                                          r.started_at,
                                          r.ended_at,
                                          r.objective_metric,
                                          r.maximize ? "max" : "min",
                                          to_string(r.final_stage),
                                          r.versions,
                                          r.config};
    for (std::size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + csv_field(fields[i]);
    out += "\n";
  }
  return out;
}

std::string runs_to_table(const std::vector<RunRecord>& runs) {
  std::vector<std::vector<std::string>> rows{
      {"run", "status", "space", "strategy", "evaluator", "seed", "evaluations", "started_at", "ended_at"}};
  for (const auto& r : runs)
    rows.push_back({std::to_string(r.id), r.status, r.space, r.strategy, r.evaluator, std::to_string(r.seed),
                    std::to_string(r.evaluations), r.started_at, r.ended_at.empty() ? "-" : r.ended_at});
  return aligned(rows);
}

std::string run_to_text(const RunRecord& r, const std::vector<StoredEvaluation>& evaluations) {
  std::string out = aligned({{"run", std::to_string(r.id)},
                             {"status", r.status},
                             {"space", r.space},
                             {"strategy", r.strategy},
                             {"evaluator", r.evaluator},
                             {"seed", std::to_string(r.seed)},
                             {"evaluations", std::to_string(r.evaluations)},
                             {"started_at", r.started_at},
                             {"ended_at", r.ended_at.empty() ? "-" : r.ended_at},
                             {"objective", r.objective_metric + (r.maximize ? " (max)" : " (min)")},
                             {"final_stage", to_string(r.final_stage)},
                             {"versions", r.versions}});
  out += "--- config\n" + r.config;
  if (!r.config.empty() && r.config.back() != '\n') out += "\n";
  out += "---\n";
  // Differentiable runs store the softmax of every architecture weight per epoch (alpha.*): too
  // many columns for a table, so they are left to --eval and export.
  std::vector<std::string> columns;
  std::size_t alphas = 0;
  bool staged = false;
  for (const auto& e : evaluations) staged = staged || e.stage != Stage::Query;
  if (staged) columns.push_back("stage");
  for (const auto& name : metric_names(evaluations)) {
    if (name.rfind("alpha.", 0) == 0) ++alphas;
    else columns.push_back(name);
  }
  out += evaluations_to_table(evaluations, columns);
  if (alphas > 0)
    out += "(" + std::to_string(alphas) + " alpha.* metrics not shown: nascent results show --eval RUN:SEQ, or export)\n";
  return out;
}

std::string curves_to_json(const std::vector<CurvePoint>& points) {
  Json array = Json::array();
  for (const auto& p : points)
    array.push_back(Json{{"run", p.run}, {"curve", p.curve}, {"step", number(p.step)}, {"value", number(p.value)}, {"label", p.label}});
  return array.dump(2) + "\n";
}

std::string curves_to_csv(const std::vector<CurvePoint>& points) {
  std::string out = "run,curve,step,value,label\n";
  for (const auto& p : points)
    out += std::to_string(p.run) + "," + csv_field(p.curve) + "," + exact_number(p.step) + "," + exact_number(p.value) + "," +
           csv_field(p.label) + "\n";
  return out;
}

std::string curves_to_table(const std::vector<CurvePoint>& points) {
  std::vector<std::vector<std::string>> rows{{"run", "curve", "step", "value", "label"}};
  for (const auto& p : points)
    rows.push_back({std::to_string(p.run), p.curve, short_number(p.step), short_number(p.value), p.label.empty() ? "-" : p.label});
  return aligned(rows);
}

std::string run_to_json(const RunRecord& r, const std::vector<StoredEvaluation>& evaluations) {
  Json object = run_json(r);
  Json array = Json::array();
  for (const auto& e : evaluations) array.push_back(evaluation_json(e));
  object["evaluations"] = std::move(array);
  return object.dump(2) + "\n";
}

namespace {

// "a.b.c" -> scalar text for every leaf of a config; lists in YAML flow style.
void flatten_config(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (node.IsMap()) {
    for (const auto& item : node) {
      const std::string key = item.first.as<std::string>();
      flatten_config(item.second, prefix.empty() ? key : prefix + "." + key, out);
    }
    return;
  }
  if (node.IsScalar()) {
    out[prefix] = node.Scalar();
    return;
  }
  YAML::Emitter flow;
  flow << YAML::Flow << node;
  out[prefix] = flow.c_str();
}

std::map<std::string, std::string> flat_config(const std::string& yaml) {
  std::map<std::string, std::string> flat;
  try {
    flatten_config(YAML::Load(yaml), "", flat);
  } catch (const YAML::Exception&) {
    flat["(config)"] = "(not readable YAML)";
  }
  return flat;
}

}  // namespace

RunComparison compare_runs(const std::vector<RunRecord>& runs, const std::vector<std::vector<StoredEvaluation>>& evaluations) {
  RunComparison comparison;
  std::vector<std::map<std::string, std::string>> configs;
  std::map<std::string, std::vector<std::string>> rows;
  const std::vector<std::string> order = {"method", "space", "evaluator", "status", "seed", "evaluations",
                                          "objective", "best", "best arch", "seconds"};
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const RunRecord& run = runs[i];
    comparison.runs.push_back(run.id);
    rows["method"].push_back(run.strategy);
    rows["space"].push_back(run.space);
    rows["evaluator"].push_back(run.evaluator);
    rows["status"].push_back(run.status);
    rows["seed"].push_back(std::to_string(run.seed));
    rows["evaluations"].push_back(std::to_string(run.evaluations));
    rows["objective"].push_back(run.objective_metric + " " + (run.maximize ? "max" : "min"));
    const auto final = select_stage(evaluations[i], {run}, std::nullopt);
    const auto best = top_k_fitness(final, 1, run_directions({run}));
    rows["best"].push_back(best.empty() ? "-" : short_number(*best.front().fitness));
    rows["best arch"].push_back(best.empty() ? "-" : best.front().arch);
    double seconds = 0;
    for (const auto& e : evaluations[i]) seconds = std::max(seconds, e.elapsed);
    rows["seconds"].push_back(short_number(seconds));
    configs.push_back(flat_config(run.config));
  }
  for (const auto& name : order) comparison.summary.emplace_back(name, rows[name]);
  std::set<std::string> keys;
  for (const auto& config : configs)
    for (const auto& [key, value] : config) keys.insert(key);
  for (const auto& key : keys) {
    std::vector<std::optional<std::string>> values;
    for (const auto& config : configs) {
      const auto found = config.find(key);
      values.push_back(found == config.end() ? std::nullopt : std::optional<std::string>(found->second));
    }
    if (std::adjacent_find(values.begin(), values.end(), std::not_equal_to<>()) != values.end())
      comparison.differences.emplace_back(key, values);
  }
  return comparison;
}

std::string comparison_to_table(const RunComparison& comparison) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header{"run"};
  for (const auto id : comparison.runs) header.push_back(std::to_string(id));
  rows.push_back(header);
  for (const auto& [name, values] : comparison.summary) {
    rows.push_back({name});
    rows.back().insert(rows.back().end(), values.begin(), values.end());
  }
  std::string out = aligned(rows);
  out += comparison.differences.empty() ? "config: the same\n" : "config differences\n";
  rows.clear();
  for (const auto& [key, values] : comparison.differences) {
    rows.push_back({key});
    for (const auto& value : values) rows.back().push_back(value.value_or("-"));
  }
  if (!rows.empty()) out += aligned(rows);
  return out;
}

std::string comparison_to_json(const RunComparison& comparison) {
  Json summary = Json::object(), differences = Json::object();
  for (const auto& [name, values] : comparison.summary) summary[name] = values;
  for (const auto& [key, values] : comparison.differences) {
    Json list = Json::array();
    for (const auto& value : values) list.push_back(value ? Json(*value) : Json(nullptr));
    differences[key] = list;
  }
  return Json{{"runs", comparison.runs}, {"summary", summary}, {"config_differences", differences}}.dump(2) + "\n";
}

}  // namespace nascent
