// `nascent report` and `nascent serve`: the page of a real small run opened in headless Chromium
// (no errors, every chart with as many points as the database has rows, a screenshot), the live
// page showing an evaluation written after it loaded, and bad databases as one line.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "core/config.hpp"
#include "core/registry.hpp"
#include "core/rng.hpp"
#include "core/search_space.hpp"
#include "results/drawing.hpp"
#include "results/query.hpp"
#include "results/report.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;

const std::string kTable = std::string(NASCENT_SOURCE_DIR) + "/../shared/data/nas-bench-201/nb201.csv";

bool have_chromium() { return shell("command -v chromium").status == 0; }

// The page's data, as embedded in the HTML.
nlohmann::json embedded_data(const std::string& page) {
  const std::string open = "<script id=\"nascent-data\" type=\"application/json\">";
  const std::size_t start = page.find(open);
  if (start == std::string::npos) return nullptr;
  const std::size_t end = page.find("</script>", start);
  return nlohmann::json::parse(page.substr(start + open.size(), end - start - open.size()));
}

// An attribute of the element with `id` in Chromium's DOM dump ("" when absent).
std::string attribute(const std::string& dom, const std::string& id, const std::string& name) {
  const std::regex element("<[a-z]+[^>]*\\bid=\"" + id + "\"[^>]*>");
  std::smatch found;
  if (!std::regex_search(dom, found, element)) return "";
  const std::regex value("\\b" + name + "=\"([^\"]*)\"");
  std::smatch attr;
  const std::string tag = found.str();
  return std::regex_search(tag, attr, value) ? attr.str(1) : "";
}

std::string body_attribute(const std::string& dom, const std::string& name) {
  std::smatch body;
  if (!std::regex_search(dom, body, std::regex("<body[^>]*>"))) return "";
  std::smatch attr;
  const std::string tag = body.str();
  return std::regex_search(tag, attr, std::regex("\\b" + name + "=\"([^\"]*)\"")) ? attr.str(1) : "";
}

std::size_t count_with(const std::vector<StoredEvaluation>& evaluations, const std::vector<std::string>& metrics) {
  std::size_t n = 0;
  for (const auto& e : evaluations) {
    bool all = true;
    for (const auto& m : metrics) {
      const auto found = e.result.metrics.find(m);
      all = all && found != e.result.metrics.end() && std::isfinite(found->second);
    }
    n += all;
  }
  return n;
}

class ReportTest : public ScratchDirTest {
 protected:
  SearchOptions options(const std::string& yaml) const { return search_options(yaml); }
  // Two real runs: regularised evolution on the NB201 table and a tiny DARTS search (alpha curves).
  void make_runs(int evaluations = 60) {
    if (!fs::exists(kTable)) GTEST_SKIP() << kTable << " is absent (../shared/data)";
    ASSERT_EQ(run_search(options("seed: 2\nspace: {name: nb201}\nstrategy: {name: evolution, population: 10, sample: 3}\n"
                                 "evaluator: {name: table, path: " + kTable + ", key: arch, metric: cifar10_valid_12ep, "
                                 "report: [cifar10_test_200ep], cost: train_seconds_12ep}\n"
                                 "budget: {evaluations: " + std::to_string(evaluations) + "}\n"))
                  .status,
              "finished");
    ASSERT_EQ(run_search(options("seed: 1\nparallel: {threads_per_worker: 1}\nspace: {name: nb201}\n"
                                 "strategy: {name: darts, epochs: 2, batch_size: 16, steps_per_epoch: 2, supernet: {channels: 4, cells_per_stage: 1}, "
                                 "dataset: {name: synthetic, shape: [1, 8, 8], classes: 4, train: 64, val: 32, test: 32, noise: 0.5}}\n"))
                  .status,
              "finished");
  }
  // Headless, as root, and quiet on a machine without internet: no background networking.
  std::string browser() {
    return "chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --mute-audio --no-first-run --disable-quic "
           "--disable-background-networking --disable-component-update --disable-sync --user-data-dir=" + path("chromium-profile") + " ";
  }
  std::string chromium(const std::string& url, const std::string& extra) {
    return shell(browser() + extra + " --dump-dom '" + url + "' 2>/dev/null").out;
  }
};

TEST_F(ReportTest, GraphvizDrawsACellAsSvg) {
  const std::string svg = dot_to_svg("digraph G {\n0[label=input];\n1[label=conv_3x3];\n0->1 ;\n}\n");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("conv_3x3"), std::string::npos);
  EXPECT_ERROR(dot_to_svg("not a graph"), "drawing:");
}

// Grammar derivations as trees, OFA and ViT-ResNAS by stage: each space's own drawing lays out.
TEST_F(ReportTest, SpacesWithTheirOwnDrawingLayOut) {
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"einspace", "derivation tree"}, {"ofa_mbv3", "stages and blocks"}, {"vit_resnas", "stages and blocks"}};
  for (const auto& [name, kind] : expected) {
    const auto space = registries().spaces.create(name, Config::parse("{}"));
    const auto* own = dynamic_cast<const DrawsArchitecture*>(space.get());
    ASSERT_NE(own, nullptr) << name;
    EXPECT_EQ(own->drawing_kind(), kind);
    Rng rng(4);
    const std::string arch = space->sample(rng);
    const std::string svg = dot_to_svg(own->drawing(arch));
    EXPECT_EQ(svg.rfind("<svg", 0), 0u) << name;
    EXPECT_NE(svg.find(name == "einspace" ? arch.substr(0, arch.find('(')) : "stage 1"), std::string::npos) << name << " " << arch;
  }
}

TEST_F(ReportTest, ThePageHoldsEveryRowAndDrawsTheTopCandidates) {
  make_runs();
  if (IsSkipped()) return;
  const CliOutput written = run_cli("report --db " + path("run.db") + " --out " + path("report.html"));
  ASSERT_EQ(written.status, 0) << written.out;
  const std::string page = file_bytes(path("report.html"));
  EXPECT_EQ(page.find("http://"), page.find("http://www.w3.org"));  // nothing to fetch but XML namespaces
  const nlohmann::json data = embedded_data(page);
  ASSERT_TRUE(data.is_object());
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  EXPECT_EQ(data["runs"].size(), 2u);
  EXPECT_EQ(data["evaluations"].size(), store.evaluations().size());
  EXPECT_EQ(data["curves"].size(), store.curves(2).size());
  EXPECT_GT(store.curves(2, "alpha.").size(), 0u);
  // Five from the evolution, and DARTS's derived cell.
  ASSERT_GE(data["top"].size(), 6u);
  for (const auto& candidate : data["top"]) {
    EXPECT_EQ(candidate["svg"].get<std::string>().rfind("<svg", 0), 0u) << candidate["drawing"];
  }
  const auto best = top_k_fitness(store.evaluations(1), 1, {{1, true}});
  EXPECT_EQ(data["top"][0]["arch"], best[0].arch);
  // Spearman of the reported 200-epoch accuracy against the searched 12-epoch one, recomputed here.
  bool found = false;
  for (const auto& c : data["correlations"])
    if (c["run"] == 1 && c["metric"] == "cifar10_test_200ep") {
      found = true;
      EXPECT_GT(c["spearman"].get<double>(), 0.3);
      EXPECT_EQ(c["n"], 60);
    }
  EXPECT_TRUE(found);
  // Lineage: after the first population every child names its parent, one NB201 operation away.
  const auto evolution = store.evaluations(1);
  for (const auto& e : evolution) {
    if (e.seq < 10) {
      EXPECT_FALSE(e.parent) << e.seq;
      continue;
    }
    ASSERT_TRUE(e.parent) << e.seq;
    ASSERT_LT(*e.parent, e.seq);
    const std::string& parent = evolution[static_cast<std::size_t>(*e.parent)].arch;
    int differ = 0;
    for (std::size_t at = 0, bt = 0; at < e.arch.size() && bt < parent.size(); ++at, ++bt) {
      const std::size_t a_end = e.arch.find('~', at), b_end = parent.find('~', bt);
      if (a_end == std::string::npos || b_end == std::string::npos) break;
      differ += e.arch.substr(at, a_end - at) != parent.substr(bt, b_end - bt);
      at = a_end + 1;
      bt = b_end + 1;
    }
    EXPECT_EQ(differ, 1) << e.arch << " from " << parent;
  }
  for (const auto& candidate : data["top"]) {
    if (candidate["run"] != 1) continue;
    for (const auto& child : candidate["children"])
      EXPECT_EQ(evolution[child.get<std::size_t>()].parent, candidate["seq"].get<std::int64_t>());
  }
  // Only some runs.
  ASSERT_EQ(run_cli("report --db " + path("run.db") + " --run 2 --out " + path("two.html")).status, 0);
  EXPECT_EQ(embedded_data(file_bytes(path("two.html")))["runs"].size(), 1u);
}

TEST_F(ReportTest, ChromiumRendersEveryChartWithEveryRowAndNoErrors) {
  if (!have_chromium()) GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs it)";
  make_runs();
  if (IsSkipped()) return;
  ASSERT_EQ(run_cli("report --db " + path("run.db") + " --out " + path("report.html")).status, 0);
  const nlohmann::json data = embedded_data(file_bytes(path("report.html")));
  const std::string dom = chromium("file://" + path("report.html"), "--virtual-time-budget=20000");
  ASSERT_EQ(body_attribute(dom, "data-ready"), "true") << dom.substr(0, 2000);
  EXPECT_EQ(body_attribute(dom, "data-errors"), "0") << dom.substr(dom.find("report-errors"), 2000);

  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  const auto all = store.evaluations();
  std::size_t with_fitness = 0;
  for (const auto& e : all) with_fitness += e.fitness.has_value();
  EXPECT_EQ(attribute(dom, "chart-best-evals", "data-points"), std::to_string(with_fitness));
  EXPECT_EQ(attribute(dom, "chart-best-time", "data-points"), std::to_string(with_fitness));
  const std::string x = data["defaults"]["scatter_x"], y = data["defaults"]["scatter_y"], h = data["defaults"]["histogram"];
  EXPECT_EQ(attribute(dom, "chart-scatter", "data-points"), std::to_string(count_with(all, {x, y})));
  EXPECT_EQ(attribute(dom, "chart-histogram", "data-points"), std::to_string(count_with(all, {h})));
  // The proxies chart: the picked metric against each run's accuracy, for the runs that have both.
  const std::string proxy = attribute(dom, "chart-proxies", "data-metric");
  ASSERT_FALSE(proxy.empty());
  std::map<std::int64_t, std::string> against;  // the runs with a correlation for that metric
  for (const auto& c : data["correlations"])
    if (c["metric"] == proxy) against[c["run"].get<std::int64_t>()] = c["against"].get<std::string>();
  std::size_t proxy_rows = 0;
  for (const auto& e : all)
    if (against.count(e.run)) proxy_rows += metric_value(e, proxy) && metric_value(e, against.at(e.run));
  EXPECT_EQ(attribute(dom, "chart-proxies", "data-points"), std::to_string(proxy_rows)) << proxy;
  for (const std::string group : {"alpha", "supernet"}) {
    const auto points = store.curves(2, group + ".");
    ASSERT_FALSE(points.empty()) << group;
    EXPECT_EQ(attribute(dom, "chart-curves-2-" + group, "data-points"), std::to_string(points.size())) << group;
  }
  // DARTS's derived cell per epoch, as a table.
  EXPECT_NE(dom.find("id=\"derived-cells-2\""), std::string::npos);
  // Charts drew marks, and every top candidate its drawing.
  EXPECT_NE(dom.find("class=\"candidate"), std::string::npos);
  EXPECT_NE(dom.find("mark-symbol"), std::string::npos);

  // The screenshot the README shows.
  const std::string png = (fs::path(NASCENT_BINARY).parent_path() / "report-screenshot.png").string();
  fs::remove(png);
  shell(browser() + "--virtual-time-budget=20000 --window-size=1280,2600 --screenshot=" + png + " 'file://" + path("report.html") + "' 2>/dev/null");
  ASSERT_TRUE(fs::exists(png));
  EXPECT_GT(fs::file_size(png), 20000u);
}

TEST_F(ReportTest, ServeShowsAnEvaluationWrittenAfterThePageLoaded) {
  if (!have_chromium()) GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs it)";
  make_runs(20);
  if (IsSkipped()) return;
  const CliOutput started = shell(std::string(NASCENT_BINARY) + " serve --db " + path("run.db") +
                                  " --port 0 --poll-ms 300 > " + path("serve.log") + " 2>&1 & echo $!");
  const int pid = std::stoi(started.out);
  std::string log;
  std::smatch address;
  for (int i = 0; i < 200 && !std::regex_search(log, address, std::regex("http://127\\.0\\.0\\.1:([0-9]+)/")); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    log = file_bytes(path("serve.log"));
  }
  ASSERT_FALSE(address.empty()) << log;
  const std::string url = address.str(0);

  // The page loads and polls; once its first poll arrives the search writes one more evaluation,
  // and the page shows it without a reload. Chromium's virtual time runs the polls (every 300 ms)
  // as fast as the server answers them, for 15 s of page time.
  std::string dom;
  std::thread browser([&] { dom = chromium(url, "--virtual-time-budget=15000"); });
  bool polled = false;
  for (int i = 0; i < 600 && !polled; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    polled = file_bytes(path("serve.log")).find("GET /data.json 200") != std::string::npos;
  }
  EXPECT_TRUE(polled) << file_bytes(path("serve.log"));
  {
    ResultStore store(path("run.db"), ResultStore::Mode::ReadWrite);
    StoredEvaluation e = store.evaluations(1).back();
    e.seq += 1;
    e.arch = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";
    e.result.metrics["cifar10_valid_12ep"] = 10.0;
    e.fitness = 10.0;
    store.add_evaluations({e});
  }
  browser.join();
  kill(pid, SIGTERM);
  ResultStore store(path("run.db"), ResultStore::Mode::ReadOnly);
  const std::size_t rows = store.evaluations().size();
  EXPECT_NE(dom.find(std::to_string(rows) + " evaluations"), std::string::npos) << attribute(dom, "evaluation-count", "id");
  std::size_t with_fitness = 0;
  for (const auto& e : store.evaluations()) with_fitness += e.fitness.has_value();
  EXPECT_EQ(attribute(dom, "chart-best-evals", "data-points"), std::to_string(with_fitness));
  EXPECT_EQ(body_attribute(dom, "data-errors"), "0");
}

TEST_F(ReportTest, EmptyForeignAndMissingDatabasesAreOneLine) {
  { ResultStore empty(path("empty.db"), ResultStore::Mode::ReadWrite); }
  const CliOutput empty = run_cli("report --db " + path("empty.db") + " --out " + path("r.html"));
  EXPECT_EQ(empty.status, 1);
  EXPECT_EQ(empty.out, "nascent: report: " + path("empty.db") + " holds no runs yet\n");
  shell("sqlite3 " + path("foreign.db") + " 'CREATE TABLE t (x); INSERT INTO t VALUES (1);'");
  const CliOutput foreign = run_cli("report --db " + path("foreign.db"));
  EXPECT_EQ(foreign.status, 1);
  EXPECT_EQ(std::count(foreign.out.begin(), foreign.out.end(), '\n'), 1) << foreign.out;
  EXPECT_NE(foreign.out.find("not a nascent results database"), std::string::npos) << foreign.out;
  const CliOutput missing = run_cli("serve --db " + path("missing.db"));
  EXPECT_EQ(missing.out, "nascent: " + path("missing.db") + " does not exist\n");
  const CliOutput served_empty = run_cli("serve --db " + path("empty.db") + " --port 0");
  EXPECT_EQ(served_empty.out, "nascent: report: " + path("empty.db") + " holds no runs yet\n");
  EXPECT_FALSE(fs::exists(path("r.html")));
}

}  // namespace
}  // namespace nascent
