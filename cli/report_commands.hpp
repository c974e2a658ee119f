#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace nascent {

// `nascent report --db FILE [--run N ...] --out report.html`: one self-contained HTML page of the
// database's runs (results/report.hpp).
void add_report_command(CLI::App& app, const std::vector<std::string>& plugins);

// `nascent serve --db FILE [--port 8080] [--host 127.0.0.1]`: the same page, live, while a search
// writes; a read-only connection per request, so the writer is never blocked for long.
void add_serve_command(CLI::App& app, const std::vector<std::string>& plugins);

}  // namespace nascent
