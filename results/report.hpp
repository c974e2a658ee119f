#pragma once
// `nascent report` and `nascent serve`: the runs of a results database as one self-contained HTML
// page (results/web, charts by Vega-Lite, drawings by Graphviz). The data contract between this
// file and the page is results/web/README.md.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "results/store.hpp"

namespace nascent {

struct ReportOptions {
  std::vector<std::int64_t> runs;  // empty: every run
  std::size_t top = 5;             // candidates drawn per run
  bool live = false;               // serve: the page polls data_url
  std::string data_url = "data.json";
  int poll_ms = 2000;
  std::string title;  // default: the database's file name
};

// An architecture drawing: inline SVG, and a few words on what it shows (or why there is none).
struct Drawing {
  std::string svg;
  std::string what;
};
// Draws a run's candidate; the caller knows how to build the run's space (the report does not).
using DrawCandidate = std::function<Drawing(const RunRecord& run, const std::string& arch)>;

// The page's data as JSON (results/web/README.md): runs, evaluations, curves, the top candidates
// with their drawings, Spearman's rho of every metric against the accuracy, chart defaults.
// Throws Error naming the problem for a database without runs and for an unknown run id.
std::string report_data(const ResultStore& store, const ReportOptions& options, const DrawCandidate& draw);

// The HTML page with its style, the charting libraries, its script and `data_json` inlined.
std::string report_page(const std::string& data_json);

// The metric the training-free scores are compared with: the run's objective when its evaluations
// have it, else the first metric whose name holds "acc", else the objective.
std::string accuracy_metric(const std::string& objective, const std::vector<std::string>& metrics);

}  // namespace nascent
