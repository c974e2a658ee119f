#include "results/report.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/stats.hpp"
#include "results/query.hpp"
#include "results/report_assets.hpp"

namespace nascent {

namespace {

using nlohmann::json;

// JSON has no NaN or infinities: the page reads null as "no value".
json number(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }
json number(const std::optional<double>& value) { return value ? number(*value) : json(nullptr); }

json metrics_json(const std::map<std::string, double>& metrics) {
  json out = json::object();
  for (const auto& [name, value] : metrics) out[name] = number(value);
  return out;
}

bool contains(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

// Which way a metric is better, for the Pareto front's default pickers: costs are minimised,
// everything else (accuracies, scores) maximised.
std::string default_direction(const std::string& metric) {
  for (const char* cost : {"flops", "params", "macs", "latency", "loss", "seconds", "cost", "error", "memory", "size"})
    if (contains(metric, cost)) return "min";
  return "max";
}

std::string now_utc() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::vector<RunRecord> chosen_runs(const ResultStore& store, const ReportOptions& options) {
  const std::vector<RunRecord> all = store.runs();
  if (all.empty()) throw Error("report: " + store.path() + " holds no runs yet");
  if (options.runs.empty()) return all;
  std::vector<RunRecord> chosen;
  for (const std::int64_t id : options.runs) {
    const auto found = std::find_if(all.begin(), all.end(), [id](const RunRecord& r) { return r.id == id; });
    if (found == all.end()) throw Error("report: no run " + std::to_string(id) + " in " + store.path());
    chosen.push_back(*found);
  }
  return chosen;
}

json run_json(const RunRecord& run, const std::vector<StoredEvaluation>& evaluations) {
  const std::vector<StoredEvaluation> finals = select_stage(evaluations, {run}, std::nullopt);
  const std::vector<StoredEvaluation> best = top_k_fitness(finals, 1, {{run.id, run.maximize}});
  double seconds = 0;
  for (const auto& e : evaluations) seconds = std::max(seconds, e.elapsed);
  return {{"id", run.id},
          {"method", run.strategy},
          {"space", run.space},
          {"evaluator", run.evaluator},
          {"status", run.status},
          {"seed", run.seed},
          {"objective", run.objective_metric},
          {"maximize", run.maximize},
          {"final_stage", to_string(run.final_stage)},
          {"evaluations", static_cast<std::int64_t>(evaluations.size())},
          {"best", best.empty() ? json(nullptr) : number(best[0].fitness)},
          {"best_arch", best.empty() ? "" : best[0].arch},
          {"seconds", seconds},
          {"started_at", run.started_at},
          {"ended_at", run.ended_at},
          {"config", run.config}};
}

json evaluation_json(const StoredEvaluation& e) {
  return {{"run", e.run},       {"seq", e.seq},         {"stage", to_string(e.stage)},
          {"arch", e.arch},     {"ok", e.result.ok},    {"fitness", number(e.fitness)},
          {"elapsed", e.elapsed}, {"seconds", number(e.result.seconds)}, {"metrics", metrics_json(e.result.metrics)}};
}

// Spearman's rho of every other metric against the run's accuracy, over its successful evaluations.
json correlations_json(const RunRecord& run, const std::vector<StoredEvaluation>& evaluations) {
  json out = json::array();
  const std::vector<std::string> names = metric_names(evaluations);
  const std::string against = accuracy_metric(run.objective_metric, names);
  for (const std::string& metric : names) {
    if (metric == against) continue;
    std::vector<double> x, y;
    for (const auto& e : evaluations) {
      const auto a = metric_value(e, metric), b = metric_value(e, against);
      if (a && b) x.push_back(*a), y.push_back(*b);
    }
    const double rho = spearman(x, y);
    if (!std::isfinite(rho)) continue;
    out.push_back({{"run", run.id}, {"metric", metric}, {"against", against}, {"spearman", rho}, {"n", static_cast<std::int64_t>(x.size())}});
  }
  return out;
}

json children_of(const std::vector<StoredEvaluation>& evaluations, std::int64_t seq) {
  json children = json::array();
  for (const auto& e : evaluations)
    if (e.parent == seq) children.push_back(e.seq);
  return children;
}

json top_json(const RunRecord& run, const std::vector<StoredEvaluation>& evaluations, std::size_t k, const DrawCandidate& draw) {
  json out = json::array();
  // A run without final candidates (DARTS without a final training) shows its best epochs' cells.
  std::vector<StoredEvaluation> top = top_k_fitness(select_stage(evaluations, {run}, std::nullopt), k, {{run.id, run.maximize}});
  if (top.empty()) top = top_k(evaluations, k, run.objective_metric, run.maximize);
  int rank = 0;
  for (const StoredEvaluation& e : top) {
    Drawing drawing;
    try {
      drawing = draw(run, e.arch);
    } catch (const std::exception& error) {
      drawing = {"", std::string("no drawing: ") + error.what()};
    }
    out.push_back({{"run", run.id},
                   {"rank", ++rank},
                   {"seq", e.seq},
                   {"stage", to_string(e.stage)},
                   {"arch", e.arch},
                   {"fitness", number(e.fitness ? e.fitness : metric_value(e, run.objective_metric))},
                   {"metrics", metrics_json(e.result.metrics)},
                   {"svg", drawing.svg},
                   {"drawing", drawing.what},
                   {"parent", e.parent ? json(*e.parent) : json(nullptr)},
                   {"children", children_of(evaluations, e.seq)}});
  }
  return out;
}

// The `objectives` of a run's stored config ([metric:max, ...]); empty when it has none or they do
// not read (the report then falls back to the run's single objective).
std::vector<Objective> run_objectives(const RunRecord& run) {
  try {
    const YAML::Node list = Config::parse(run.config).node()["objectives"];
    if (!list || !list.IsSequence()) return {};
    std::vector<Objective> objectives;
    for (const YAML::Node& item : list)
      if (const auto objective = parse_objective(item.as<std::string>(), true)) objectives.push_back(*objective);
    return objectives;
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace

std::string accuracy_metric(const std::string& objective, const std::vector<std::string>& metrics) {
  if (std::find(metrics.begin(), metrics.end(), objective) != metrics.end()) return objective;
  for (const std::string& metric : metrics)
    if (contains(metric, "acc")) return metric;
  return objective;
}

std::string report_data(const ResultStore& store, const ReportOptions& options, const DrawCandidate& draw) {
  const std::vector<RunRecord> runs = chosen_runs(store, options);
  json data = {{"title", options.title.empty() ? std::filesystem::path(store.path()).filename().string() : options.title},
               {"generated_at", now_utc()},
               {"live", options.live},
               {"data_url", options.live ? options.data_url : ""},
               {"poll_ms", options.poll_ms}};
  json runs_out = json::array(), evaluations_out = json::array(), curves_out = json::array(), top_out = json::array(),
       correlations_out = json::array();
  std::set<std::string> metrics;
  std::vector<std::string> first_metrics;  // the first run's, for the charts' defaults
  for (const RunRecord& run : runs) {
    const std::vector<StoredEvaluation> evaluations = store.evaluations(run.id);  // in seq order
    if (run.id == runs.front().id) first_metrics = metric_names(evaluations);
    runs_out.push_back(run_json(run, evaluations));
    for (const auto& e : evaluations) {
      evaluations_out.push_back(evaluation_json(e));
      for (const auto& [name, value] : e.result.metrics) metrics.insert(name);
    }
    for (const CurvePoint& p : store.curves(run.id))
      curves_out.push_back({{"run", run.id}, {"curve", p.curve}, {"step", p.step}, {"value", number(p.value)}, {"label", p.label}});
    for (auto& candidate : top_json(run, evaluations, options.top, draw)) top_out.push_back(std::move(candidate));
    for (auto& correlation : correlations_json(run, evaluations)) correlations_out.push_back(std::move(correlation));
  }
  const std::vector<std::string> metric_list(metrics.begin(), metrics.end());
  json directions = json::object();
  for (const std::string& metric : metric_list) directions[metric] = default_direction(metric);
  for (const RunRecord& run : runs)
    if (metrics.count(run.objective_metric)) directions[run.objective_metric] = run.maximize ? "max" : "min";
  // Defaults: the first run's accuracy against its first cost metric (FLOPs when it has them), and
  // the accuracy's histogram.
  const std::string objective = accuracy_metric(runs.front().objective_metric, first_metrics);
  std::string x_metric;
  for (const std::string& metric : first_metrics)
    if (metric != objective && default_direction(metric) == "min" && (x_metric.empty() || contains(metric, "flops"))) x_metric = metric;
  for (const std::string& metric : first_metrics)
    if (x_metric.empty() && metric != objective) x_metric = metric;
  // A multi-objective run shows its first two objectives, each in its own direction.
  std::string y_metric = objective;
  const std::vector<Objective> searched = run_objectives(runs.front());
  if (searched.size() >= 2) {
    y_metric = searched[0].metric;
    x_metric = searched[1].metric;
    for (const Objective& o : searched) directions[o.metric] = o.maximize ? "max" : "min";
  }
  data["runs"] = std::move(runs_out);
  data["metrics"] = metric_list;
  data["evaluations"] = std::move(evaluations_out);
  data["curves"] = std::move(curves_out);
  data["top"] = std::move(top_out);
  data["correlations"] = std::move(correlations_out);
  data["defaults"] = {{"scatter_x", x_metric.empty() ? objective : x_metric}, {"scatter_y", y_metric}, {"histogram", y_metric}};
  data["directions"] = std::move(directions);
  return data.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string report_page(const std::string& data_json) {
  std::map<std::string, const char*> assets;  // the compiled-in texts, not copies
  for (const ReportAsset& asset : report_asset_table()) assets[asset.name] = asset.text;
  for (const char* needed : {"report.html", "report.css", "report.js", "vega.min.js", "vega-lite.min.js", "vega-embed.min.js"})
    if (!assets.count(needed)) throw Error(std::string("report: this build lacks ") + needed + " (built with -DNASCENT_REPORT=OFF?)");
  // A <script> element ends at "</script", and "<!--" inside one changes how HTML reads it. The
  // libraries hold neither outside string literals, where "<\/" reads the same; in the data every
  // "<" becomes the JSON escape \u003c, which also keeps a placeholder-like string inert.
  const auto escaped = [](std::string text, const std::string& what, const std::string& with) {
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size())) text.replace(at, 1, with);
    return text;
  };
  std::string scripts;
  for (const char* library : {"vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "report.js"})
    scripts += "<script>\n" + escaped(assets[library], "</script", "<\\") + "\n</script>\n";
  std::string page = assets["report.html"];
  const auto put = [&page](const std::string& placeholder, const std::string& text) {
    const std::size_t at = page.find(placeholder);
    if (at == std::string::npos) throw Error("report: report.html lacks " + placeholder);
    page.replace(at, placeholder.size(), text);
  };
  put("<!--NASCENT_STYLE-->", std::string("<style>\n") + assets["report.css"] + "\n</style>");
  put("<!--NASCENT_DATA-->", "<script id=\"nascent-data\" type=\"application/json\">" + escaped(data_json, "<", "\\u003c") + "</script>");
  put("<!--NASCENT_SCRIPTS-->", scripts);
  return page;
}

}  // namespace nascent
