#pragma once
// The report page's files, compiled into the library at build time (cmake/embed_assets.cmake):
// report.html, report.css and report.js from results/web, and the charting libraries from the
// npm bundle pinned by results/web/package-lock.json. Nothing is fetched when a report is written.
#include <string>
#include <vector>

namespace nascent {

struct ReportAsset {
  const char* name;
  const char* text;
};

const std::vector<ReportAsset>& report_asset_table();

}  // namespace nascent
