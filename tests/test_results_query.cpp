#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "results/query.hpp"
#include "results/store.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

StoredEvaluation evaluation(std::int64_t seq, const std::string& arch, std::map<std::string, double> metrics,
                            bool ok = true, std::int64_t run = 1) {
  StoredEvaluation e;
  e.run = run;
  e.seq = seq;
  e.space = "nb201";
  e.arch = arch;
  e.fingerprint = "fp" + std::to_string(seq);
  e.result.ok = ok;
  e.result.error = ok ? "" : "out of memory, \"CUDA\"";
  e.result.out_of_memory = !ok;
  e.result.metrics = std::move(metrics);
  e.result.cost = 2.0 * static_cast<double>(seq);
  e.result.seconds = 1.0;
  if (ok && e.result.metrics.count("acc")) e.fitness = e.result.metrics.at("acc");
  e.created_at = "2026-11-28T22:40:00Z";
  return e;
}

std::vector<std::string> archs(const std::vector<StoredEvaluation>& evaluations) {
  std::vector<std::string> names;
  for (const auto& e : evaluations) names.push_back(e.arch);
  return names;
}

// A strict RFC 4180 reader, to check what a spreadsheet or pandas would see.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> records(1);
  std::string field;
  bool quoted = false, was_quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      if (!field.empty()) throw std::runtime_error("quote inside an unquoted field");
      quoted = was_quoted = true;
    } else if (c == ',') {
      records.back().push_back(field);
      field.clear();
      was_quoted = false;
    } else if (c == '\n') {
      records.back().push_back(field);
      field.clear();
      was_quoted = false;
      records.emplace_back();
    } else {
      if (was_quoted) throw std::runtime_error("text after a closing quote");
      field += c;
    }
  }
  if (quoted) throw std::runtime_error("unterminated quote");
  if (!records.back().empty() || !field.empty()) throw std::runtime_error("missing final newline");
  records.pop_back();
  return records;
}

TEST(ResultsQuery, ParseObjectives) {
  const auto objectives = parse_objectives("val_acc:max, params:min ,latency_ms:min");
  ASSERT_EQ(objectives.size(), 3u);
  EXPECT_EQ(objectives[0].metric, "val_acc");
  EXPECT_TRUE(objectives[0].maximize);
  EXPECT_EQ(objectives[1].metric, "params");
  EXPECT_FALSE(objectives[1].maximize);
  EXPECT_EQ(objectives[2].metric, "latency_ms");
  // Metric names may contain colons; the direction is after the last one.
  EXPECT_EQ(parse_objectives("a:b:max,c:min")[0].metric, "a:b");
  for (const char* bad : {"", "acc:max", "acc:max,", "acc:up,params:min", "acc,params:min", ":max,params:min",
                          "acc:max,acc:min", "acc:max,,params:min", "acc:MAX,params:min"})
    EXPECT_THROW(parse_objectives(bad), Error) << "'" << bad << "'";
}

TEST(ResultsQuery, MetricValue) {
  auto e = evaluation(3, "a", {{"acc", 90}, {"lat", kInf}, {"loss", std::nan("")}, {"cost", 7}});
  EXPECT_EQ(metric_value(e, "acc"), 90.0);
  EXPECT_EQ(metric_value(e, "fitness"), 90.0);
  EXPECT_EQ(metric_value(e, "lat"), kInf);
  EXPECT_FALSE(metric_value(e, "loss"));    // NaN is missing
  EXPECT_FALSE(metric_value(e, "params"));  // absent
  EXPECT_EQ(metric_value(e, "cost"), 7.0);  // a reported metric wins over the budget field
  EXPECT_EQ(metric_value(e, "seconds"), 1.0);
  e.result.ok = false;
  EXPECT_FALSE(metric_value(e, "acc"));
}

TEST(ResultsQuery, TopKOrdersAndSkipsFailuresAndMissingValues) {
  const std::vector<StoredEvaluation> all{
      evaluation(0, "a", {{"acc", 3}, {"params", 10}}), evaluation(1, "b", {{"acc", 9}, {"params", 30}}),
      evaluation(2, "failed", {{"acc", 99}}, false),    evaluation(3, "no-acc", {{"params", 5}}),
      evaluation(4, "e", {{"acc", 6}, {"params", 20}}), evaluation(5, "nan", {{"acc", std::nan("")}, {"params", 1}}),
      evaluation(6, "tie-with-e", {{"acc", 6}})};
  EXPECT_EQ(archs(top_k(all, 2, "acc", true)), (std::vector<std::string>{"b", "e"}));
  EXPECT_EQ(archs(top_k(all, 10, "acc", true)), (std::vector<std::string>{"b", "e", "tie-with-e", "a"}));
  EXPECT_EQ(archs(top_k(all, 10, "acc", false)), (std::vector<std::string>{"a", "e", "tie-with-e", "b"}));
  EXPECT_EQ(archs(top_k(all, 3, "params", false)), (std::vector<std::string>{"nan", "no-acc", "a"}));
  EXPECT_EQ(archs(top_k(all, 1, "fitness", true)), (std::vector<std::string>{"b"}));
  EXPECT_TRUE(top_k(all, 0, "acc", true).empty());
  EXPECT_TRUE(top_k({}, 5, "acc", true).empty());
}

TEST(ResultsQuery, RequireMetricNamesTheKnownOnes) {
  const std::vector<StoredEvaluation> all{evaluation(0, "a", {{"acc", 1}, {"params", 2}})};
  EXPECT_NO_THROW(require_metric(all, "acc"));
  EXPECT_NO_THROW(require_metric(all, "fitness"));
  EXPECT_NO_THROW(require_metric(all, "cost"));
  EXPECT_NO_THROW(require_metric({}, "anything"));
  try {
    require_metric(all, "size");
    FAIL() << "an unknown metric was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("no stored evaluation has a metric 'size'"), std::string::npos) << message;
    EXPECT_NE(message.find("acc, params"), std::string::npos) << message;
  }
}

TEST(ResultsQuery, ParetoFrontOfAHandMadeSet) {
  // acc up, params down. "dominated" loses to "middle" on both; "worse-twin" loses to "middle" on
  // acc only with equal params; "small-weak" and "big-strong" are the extremes.
  const std::vector<StoredEvaluation> all{
      evaluation(0, "small-weak", {{"acc", 80}, {"params", 1}}),
      evaluation(1, "big-strong", {{"acc", 95}, {"params", 10}}),
      evaluation(2, "dominated", {{"acc", 85}, {"params", 12}}),
      evaluation(3, "middle", {{"acc", 90}, {"params", 5}}),
      evaluation(4, "same-as-middle", {{"acc", 90}, {"params", 5}}),
      evaluation(5, "worse-twin", {{"acc", 89}, {"params", 5}}),
      evaluation(6, "failed-but-perfect", {{"acc", 100}, {"params", 0}}, false),
      evaluation(7, "no-params", {{"acc", 100}}),
  };
  const auto front = pareto_front(all, parse_objectives("acc:max,params:min"));
  EXPECT_EQ(archs(front), (std::vector<std::string>{"small-weak", "big-strong", "middle", "same-as-middle"}));
  // Flipping a direction changes the front: now small and weak is best on both.
  EXPECT_EQ(archs(pareto_front(all, parse_objectives("acc:min,params:min"))), (std::vector<std::string>{"small-weak"}));
  // A third objective can rescue a point that two objectives dominate.
  auto three = all;
  three[2].result.metrics["latency"] = 0.1;
  for (std::size_t i = 0; i < three.size(); ++i)
    if (i != 2) three[i].result.metrics["latency"] = 1.0;
  EXPECT_EQ(archs(pareto_front(three, parse_objectives("acc:max,params:min,latency:min"))),
            (std::vector<std::string>{"small-weak", "big-strong", "dominated", "middle", "same-as-middle"}));
}

TEST(ResultsQuery, ParetoFrontMatchesBruteForceOnRandomSets) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> value(0, 12);  // small range: many ties
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<StoredEvaluation> all;
    for (int i = 0; i < 60; ++i)
      all.push_back(evaluation(i, "x" + std::to_string(i), {{"a", value(rng)}, {"b", value(rng)}, {"c", value(rng)}}));
    const auto objectives = parse_objectives(trial % 2 ? "a:max,b:min,c:max" : "a:min,b:max");
    std::vector<std::string> expected;
    for (const auto& p : all) {
      bool dominated = false;
      for (const auto& q : all) {
        bool no_worse = true, better = false;
        for (const auto& o : objectives) {
          const double pv = p.result.metrics.at(o.metric) * (o.maximize ? 1 : -1);
          const double qv = q.result.metrics.at(o.metric) * (o.maximize ? 1 : -1);
          no_worse = no_worse && qv >= pv;
          better = better || qv > pv;
        }
        dominated = dominated || (no_worse && better);
      }
      if (!dominated) expected.push_back(p.arch);
    }
    EXPECT_EQ(archs(pareto_front(all, objectives)), expected) << "trial " << trial;
  }
}

TEST(ResultsQuery, CsvQuotingFollowsRfc4180) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_field("cr\r"), "\"cr\r\"");
}

TEST(ResultsQuery, CsvHasAColumnPerMetricAndReadsBackExactly) {
  std::vector<StoredEvaluation> all{
      evaluation(0, "|nor_conv_3x3~0|+|a,b|", {{"acc", 0.1 + 0.2}, {"loss", std::nan("")}, {"lat", kInf}}),
      evaluation(1, "multi\nline \"arch\"", {{"params", 1e6}}, false),
      evaluation(2, "c", {{"acc", 1.0 / 3}, {"we,ird", -kInf}})};
  all[2].parent = 0;
  const std::string csv = evaluations_to_csv(all);
  const auto records = parse_csv(csv);
  ASSERT_EQ(records.size(), 4u) << csv;
  const std::vector<std::string> header{"run",  "seq",    "space",   "arch",       "fingerprint", "ok",   "status", "error",
                                        "fitness", "cost", "seconds", "device",   "created_at",  "stage", "parent_seq", "acc",  "lat",
                                        "loss",    "params", "we,ird"};
  EXPECT_EQ(records[0], header);
  for (const auto& record : records) ASSERT_EQ(record.size(), header.size()) << csv;
  const auto cell = [&](std::size_t row, const std::string& column) {
    return records[row][std::find(header.begin(), header.end(), column) - header.begin()];
  };
  EXPECT_EQ(cell(1, "arch"), "|nor_conv_3x3~0|+|a,b|");
  EXPECT_EQ(cell(1, "parent_seq"), "");
  EXPECT_EQ(cell(3, "parent_seq"), "0");
  EXPECT_EQ(std::strtod(cell(1, "acc").c_str(), nullptr), 0.1 + 0.2);  // full precision
  EXPECT_EQ(std::strtod(cell(3, "acc").c_str(), nullptr), 1.0 / 3);
  EXPECT_EQ(cell(1, "loss"), "nan");
  EXPECT_EQ(cell(1, "lat"), "inf");
  EXPECT_EQ(cell(3, "we,ird"), "-inf");
  EXPECT_EQ(cell(1, "params"), "");  // absent, unlike NaN
  EXPECT_EQ(cell(2, "arch"), "multi\nline \"arch\"");
  EXPECT_EQ(cell(2, "ok"), "0");
  EXPECT_EQ(cell(2, "status"), "oom");
  EXPECT_EQ(cell(1, "status"), "ok");
  EXPECT_EQ(cell(2, "error"), "out of memory, \"CUDA\"");
  EXPECT_EQ(cell(2, "fitness"), "");
  EXPECT_EQ(cell(2, "params"), "1000000");
  EXPECT_EQ(cell(3, "cost"), "4");
  EXPECT_EQ(evaluations_to_csv({}), "run,seq,space,arch,fingerprint,ok,status,error,fitness,cost,seconds,device,created_at,stage,parent_seq\n");
}

RunRecord sample_run();

TEST(ResultsQuery, JsonCarriesEveryFieldWithNonFiniteAsNull) {
  const std::vector<StoredEvaluation> all{evaluation(0, "a", {{"acc", 91.5}, {"loss", std::nan("")}, {"lat", kInf}}),
                                          evaluation(1, "b", {}, false, 7)};
  const auto json = nlohmann::json::parse(evaluations_to_json(all));
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 2u);
  for (const char* key : {"run", "seq", "space", "arch", "fingerprint", "ok", "status", "error", "fitness", "cost", "seconds",
                          "device", "created_at", "stage", "metrics"})
    EXPECT_TRUE(json[0].contains(key)) << key;
  EXPECT_EQ(json[0]["run"], 1);
  EXPECT_EQ(json[0]["seq"], 0);
  EXPECT_EQ(json[0]["space"], "nb201");
  EXPECT_EQ(json[0]["arch"], "a");
  EXPECT_EQ(json[0]["fingerprint"], "fp0");
  EXPECT_EQ(json[0]["ok"], true);
  EXPECT_EQ(json[0]["fitness"], 91.5);
  EXPECT_EQ(json[0]["device"], "cpu");
  EXPECT_EQ(json[0]["metrics"]["acc"], 91.5);
  EXPECT_TRUE(json[0]["metrics"]["loss"].is_null());
  EXPECT_TRUE(json[0]["metrics"]["lat"].is_null());
  EXPECT_EQ(json[1]["run"], 7);
  EXPECT_EQ(json[1]["ok"], false);
  EXPECT_EQ(json[1]["status"], "oom");
  EXPECT_EQ(json[0]["status"], "ok");
  EXPECT_TRUE(json[1]["fitness"].is_null());
  EXPECT_EQ(json[1]["error"], "out of memory, \"CUDA\"");
  EXPECT_TRUE(json[1]["metrics"].is_object());
  EXPECT_EQ(nlohmann::json::parse(evaluations_to_json({})), nlohmann::json::array());
  EXPECT_EQ(nlohmann::json::parse(evaluation_to_json(all[0]))["arch"], "a");
  // Written directly, the text is still exactly what the JSON library prints for the same
  // evaluations built as a tree (run_to_json builds one).
  std::vector<StoredEvaluation> odd = all;
  odd[0].arch = "quote \" backslash \\ tab \t caf\u00e9";
  odd[1].result.metrics["m\"n"] = 1e-7;
  odd[1].result.metrics["whole"] = 12;
  const auto tree = nlohmann::ordered_json::parse(run_to_json(sample_run(), odd))["evaluations"];
  std::string expected = "[\n";
  for (std::size_t i = 0; i < tree.size(); ++i) {
    std::string element = tree[i].dump(2);
    for (std::size_t at = element.find('\n'); at != std::string::npos; at = element.find('\n', at + 3)) element.insert(at + 1, "  ");
    expected += (i ? ",\n  " : "  ") + element;
  }
  EXPECT_EQ(evaluations_to_json(odd), expected + "\n]\n");
  EXPECT_EQ(evaluation_to_json(odd[1]), tree[1].dump(2) + "\n");
  EXPECT_EQ(evaluations_to_json({}), nlohmann::json::array().dump(2) + "\n");
}

RunRecord sample_run() {
  RunRecord r;
  r.id = 4;
  r.config = "seed: 1\nspace: {name: nb201}\n";
  r.seed = 18446744073709551615ULL;
  r.space = "nb201";
  r.strategy = "evolution";
  r.evaluator = "table";
  r.versions = "nascent 0.1.0; sqlite 3";
  r.started_at = "2026-11-28T22:40:00Z";
  r.status = "running";
  r.evaluations = 12;
  return r;
}

TEST(ResultsQuery, RunListings) {
  const auto json = nlohmann::json::parse(runs_to_json({sample_run()}));
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["run"], 4);
  EXPECT_EQ(json[0]["seed"].get<std::uint64_t>(), 18446744073709551615ULL);
  EXPECT_EQ(json[0]["evaluations"], 12);
  EXPECT_EQ(json[0]["status"], "running");
  EXPECT_TRUE(json[0]["ended_at"].is_null());
  EXPECT_EQ(json[0]["config"], "seed: 1\nspace: {name: nb201}\n");

  const auto csv = parse_csv(runs_to_csv({sample_run()}));
  ASSERT_EQ(csv.size(), 2u);
  EXPECT_EQ(csv[0][0], "run");
  EXPECT_EQ(csv[1][5], "18446744073709551615");
  EXPECT_EQ(csv[1].back(), "seed: 1\nspace: {name: nb201}\n");

  const std::string table = runs_to_table({sample_run()});
  EXPECT_NE(table.find("18446744073709551615"), std::string::npos) << table;
  EXPECT_EQ(table.rfind("run", 0), 0u);

  const auto shown = nlohmann::json::parse(run_to_json(sample_run(), {evaluation(0, "a", {{"acc", 1}})}));
  EXPECT_EQ(shown["run"], 4);
  ASSERT_EQ(shown["evaluations"].size(), 1u);
  EXPECT_EQ(shown["evaluations"][0]["arch"], "a");
  const std::string text = run_to_text(sample_run(), {evaluation(0, "a", {{"acc", 1}})});
  EXPECT_NE(text.find("space: {name: nb201}"), std::string::npos) << text;
  EXPECT_NE(text.find("evolution"), std::string::npos) << text;
}

TEST(ResultsQuery, TablesAlignTheirColumns) {
  std::vector<StoredEvaluation> all{evaluation(0, "short", {{"acc", 91.23456789}, {"params", 1234567}}),
                                          evaluation(12, "a-much-longer-architecture", {{"acc", 5}}),
                                          evaluation(3, "failed", {}, false), evaluation(4, "hungry", {}, false)};
  all[2].result.out_of_memory = false;
  const std::string table = evaluations_to_table(all, {"acc", "params"});
  std::vector<std::string> lines;
  std::stringstream stream(table);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 5u) << table;
  // The last column, arch, starts at the same place in every line.
  const auto arch_column = lines[0].find("arch");
  ASSERT_NE(arch_column, std::string::npos);
  EXPECT_EQ(lines[1].find("short"), arch_column) << table;
  EXPECT_EQ(lines[2].find("a-much-longer-architecture"), arch_column) << table;
  EXPECT_EQ(lines[3].find("failed", lines[3].find("failed") + 1), arch_column) << table;
  // A candidate that ran out of memory is not shown as a failed architecture.
  EXPECT_LT(lines[4].find("oom"), arch_column) << table;
  EXPECT_EQ(lines[4].find("failed"), std::string::npos) << table;
  EXPECT_NE(lines[1].find("91.2346"), std::string::npos) << table;
  EXPECT_NE(lines[1].find("1234567"), std::string::npos) << table;  // whole numbers in full
  EXPECT_NE(lines[2].find(" - "), std::string::npos) << table;        // missing params
  EXPECT_NE(evaluation_to_text(all[0]).find("params"), std::string::npos);
}

StoredEvaluation staged(std::int64_t run, std::int64_t seq, const std::string& arch, Stage stage, double acc) {
  StoredEvaluation e = evaluation(seq, arch, {{"acc", acc}}, true, run);
  e.stage = stage;
  return e;
}

RunRecord run_record(std::int64_t id, bool maximize, Stage final_stage) {
  RunRecord r;
  r.id = id;
  r.maximize = maximize;
  r.final_stage = final_stage;
  return r;
}

TEST(ResultsQuery, StageSelectionDefaultsToEachRunsFinalStage) {
  const std::vector<StoredEvaluation> all{staged(1, 0, "q0", Stage::Query, 1), staged(1, 1, "q1", Stage::Query, 2),
                                          staged(2, 0, "e0", Stage::Epoch, 3), staged(2, 1, "f0", Stage::Final, 4),
                                          staged(3, 0, "s0", Stage::Score, 5)};
  const std::vector<RunRecord> runs{run_record(1, true, Stage::Query), run_record(2, true, Stage::Final)};
  // Run 3 is not listed: its final stage is taken to be query.
  EXPECT_EQ(archs(select_stage(all, runs, std::nullopt)), (std::vector<std::string>{"q0", "q1", "f0"}));
  EXPECT_EQ(archs(select_stage(all, runs, Stage::Epoch)), (std::vector<std::string>{"e0"}));
  EXPECT_EQ(archs(select_stage(all, runs, Stage::Score)), (std::vector<std::string>{"s0"}));
  EXPECT_TRUE(select_stage(all, runs, Stage::Measure).empty());
}

TEST(ResultsQuery, FitnessRanksInEachRunsDirection) {
  // Run 1 minimises (a loss), run 2 maximises (an accuracy); fitness is stored as measured.
  const std::vector<StoredEvaluation> all{staged(1, 0, "loss9", Stage::Query, 0.9), staged(1, 1, "loss4", Stage::Query, 0.4),
                                          staged(1, 2, "loss6", Stage::Query, 0.6), staged(2, 0, "acc70", Stage::Query, 70)};
  const auto directions = run_directions({run_record(1, false, Stage::Query), run_record(2, true, Stage::Query)});
  EXPECT_EQ(archs(top_k_fitness({all.begin(), all.begin() + 3}, 3, directions)),
            (std::vector<std::string>{"loss4", "loss6", "loss9"}));
  EXPECT_EQ(archs(top_k_fitness({all.begin(), all.begin() + 3}, 1, {})), (std::vector<std::string>{"loss9"}))
      << "a run without a direction maximises";
  // fitness:max in a Pareto query is the best by each run's own objective.
  const auto front = pareto_front({all.begin(), all.begin() + 3}, {{"fitness", true}, {"cost", false}}, directions);
  EXPECT_EQ(archs(front), (std::vector<std::string>{"loss9", "loss4"}));  // cost grows with seq
  const auto raw = pareto_front({all.begin(), all.begin() + 3}, {{"fitness", true}, {"cost", false}});
  EXPECT_EQ(archs(raw), (std::vector<std::string>{"loss9"}));
}

TEST(ResultsQuery, CurveListings) {
  const std::vector<CurvePoint> points{{3, "supernet.train_loss", 0.5, 2.5, "full"},
                                       {3, "predictor.rmse_heldout", 5, std::numeric_limits<double>::quiet_NaN(), ""},
                                       {3, "alpha.a,b", 1, 0.25, "x\"y"}};
  const auto json = nlohmann::json::parse(curves_to_json(points));
  ASSERT_EQ(json.size(), 3u);
  EXPECT_EQ(json[0]["run"], 3);
  EXPECT_EQ(json[0]["curve"], "supernet.train_loss");
  EXPECT_EQ(json[0]["step"], 0.5);
  EXPECT_EQ(json[0]["value"], 2.5);
  EXPECT_EQ(json[0]["label"], "full");
  EXPECT_TRUE(json[1]["value"].is_null());
  const auto csv = parse_csv(curves_to_csv(points));
  ASSERT_EQ(csv.size(), 4u);
  EXPECT_EQ(csv[0], (std::vector<std::string>{"run", "curve", "step", "value", "label"}));
  EXPECT_EQ(csv[2][3], "nan");
  EXPECT_EQ(csv[3], (std::vector<std::string>{"3", "alpha.a,b", "1", "0.25", "x\"y"}));
  const std::string table = curves_to_table(points);
  EXPECT_EQ(table.rfind("run", 0), 0u) << table;
  EXPECT_NE(table.find("supernet.train_loss"), std::string::npos) << table;
}

// The command line wiring, through the real binary.
class ResultsCli : public ScratchDirTest {
 protected:
  static CliOutput cli(const std::string& arguments) { return run_cli(arguments); }
  void SetUp() override {
    ScratchDirTest::SetUp();
    ResultStore store(db(), ResultStore::Mode::ReadWrite);
    const auto first = store.begin_run("seed: 1\n", 1, "nb201", "random", "table");
    const auto second = store.begin_run("seed: 2\n", 2, "nb201", "evolution", "table");
    store.add_evaluation(evaluation(0, "a", {{"acc", 80}, {"params", 1}}, true, first));
    store.add_evaluation(evaluation(1, "b", {{"acc", 95}, {"params", 10}}, true, first));
    store.add_evaluation(evaluation(0, "c", {{"acc", 85}, {"params", 12}}, true, second));
    store.add_evaluation(evaluation(1, "d", {}, false, second));
    store.finish_run(first, "finished");
  }
  std::string db() const { return path("results.db"); }
};

TEST_F(ResultsCli, ListingsInEveryFormat) {
  const auto runs = nlohmann::json::parse(cli("results runs --db " + db() + " --format json").out);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[1]["evaluations"], 2);

  const auto top = nlohmann::json::parse(cli("results top -k 2 --db " + db() + " --format json").out);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0]["arch"], "b");
  EXPECT_EQ(top[1]["arch"], "c");
  const auto smallest =
      nlohmann::json::parse(cli("results top -k 1 --metric params --min --run 2 --db " + db() + " --format json").out);
  ASSERT_EQ(smallest.size(), 1u);
  EXPECT_EQ(smallest[0]["arch"], "c");

  const auto exported = cli("results export --db " + db());  // csv by default
  ASSERT_EQ(exported.status, 0) << exported.out;
  EXPECT_EQ(parse_csv(exported.out).size(), 5u) << exported.out;
  EXPECT_EQ(nlohmann::json::parse(cli("results export --run 1 --format json --db " + db()).out).size(), 2u);

  const auto front = nlohmann::json::parse(
      cli("results pareto --objectives acc:max,params:min --format json --db " + db()).out);
  EXPECT_EQ(front.size(), 2u);

  const auto shown = cli("results show --run 1 --db " + db());
  ASSERT_EQ(shown.status, 0) << shown.out;
  EXPECT_NE(shown.out.find("seed: 1"), std::string::npos) << shown.out;
  const auto one = nlohmann::json::parse(cli("results show --eval 2:1 --format json --db " + db()).out);
  EXPECT_EQ(one["arch"], "d");
  EXPECT_EQ(one["ok"], false);
  const auto table = cli("results top --db " + db());
  EXPECT_EQ(table.out.rfind("run", 0), 0u) << table.out;
}

TEST_F(ResultsCli, ErrorsAreOneLine) {
  { std::ofstream(path("notes.txt")) << "not a database at all, just some notes that are long enough ......................"; }
  const std::vector<std::pair<std::string, std::string>> cases{
      {"results runs --db " + path("missing.db"), "no such database"},
      {"results runs --db " + path("notes.txt"), "file is not a database"},
      {"results top --metric size --db " + db(), "no stored evaluation has a metric 'size'"},
      {"results pareto --objectives acc:max --db " + db(), "at least two objectives"},
      {"results pareto --objectives acc:best,params:min --db " + db(), "expected metric:max or metric:min"},
      {"results pareto --objectives acc:max,size:min --db " + db(), "no stored evaluation has a metric 'size'"},
      {"results top --run 9 --db " + db(), "has no run 9"},
      {"results show --eval 1:99 --db " + db(), "has no evaluation 1:99"},
      {"results show --eval one --db " + db(), "expected RUN:SEQ"},
  };
  for (const auto& [arguments, expected] : cases) {
    const auto r = cli(arguments);
    EXPECT_EQ(r.status, 1) << arguments << "\n" << r.out;
    EXPECT_EQ(r.out.rfind("nascent: ", 0), 0u) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    EXPECT_NE(r.out.find(expected), std::string::npos) << arguments << "\n" << r.out;
  }
  // Table output is not an export format.
  EXPECT_NE(cli("results export --format table --db " + db()).status, 0);
}

// Runs of different kinds: --stage defaults to each run's final stage, and fitness ranks the way
// the run optimised it.
class StagedResultsCli : public ScratchDirTest {
 protected:
  static CliOutput cli(const std::string& arguments) { return run_cli(arguments); }
  void SetUp() override {
    ScratchDirTest::SetUp();
    ResultStore store(db(), ResultStore::Mode::ReadWrite);
    RunInfo ask;
    ask.config = "seed: 1\n";
    ask.space = "nb201";
    ask.strategy = "random";
    ask.evaluator = "train";
    ask.objective_metric = "loss";
    ask.maximize = false;
    const auto first = store.begin_run(ask);
    store.add_evaluation(staged(first, 0, "loss9", Stage::Query, 0.9));  // fitness: the "acc" given
    store.add_evaluation(staged(first, 1, "loss4", Stage::Query, 0.4));
    store.add_evaluation(staged(first, 2, "score", Stage::Score, 0.1));
    RunInfo darts = ask;
    darts.strategy = "darts-order1";
    darts.objective_metric = "acc";
    darts.maximize = true;
    darts.final_stage = Stage::Final;
    const auto second = store.begin_run(darts);
    store.add_evaluation(staged(second, 0, "epoch1", Stage::Epoch, 30));
    store.add_evaluation(staged(second, 1, "final", Stage::Final, 88));
    store.add_curve_points(second, {{second, "alpha.normal.conv", 1, 0.6, ""}, {second, "supernet.train_loss", 1, 2.0, "full"}});
  }
  std::string db() const { return path("staged.db"); }
  std::vector<std::string> json_archs(const std::string& arguments) {
    const auto r = cli(arguments + " --format json --db " + db());
    EXPECT_EQ(r.status, 0) << arguments << "\n" << r.out;
    std::vector<std::string> names;
    for (const auto& e : nlohmann::json::parse(r.out)) names.push_back(e["arch"]);
    return names;
  }
};

TEST_F(StagedResultsCli, StageDefaultsToEachRunsFinalStage) {
  EXPECT_EQ(json_archs("results top -k 5 --run 1"), (std::vector<std::string>{"loss4", "loss9"}));  // minimised
  EXPECT_EQ(json_archs("results top -k 5 --run 2"), (std::vector<std::string>{"final"}));
  EXPECT_EQ(json_archs("results top -k 5 --run 2 --stage epoch"), (std::vector<std::string>{"epoch1"}));
  EXPECT_EQ(json_archs("results top -k 5 --stage score"), (std::vector<std::string>{"score"}));
  EXPECT_EQ(json_archs("results export"), (std::vector<std::string>{"loss9", "loss4", "final"}));
  EXPECT_EQ(json_archs("results export --stage all").size(), 5u);
  EXPECT_EQ(json_archs("results export --stage epoch"), (std::vector<std::string>{"epoch1"}));
  EXPECT_EQ(json_archs("results pareto --objectives acc:max,cost:min --run 2"), (std::vector<std::string>{"final"}));
  EXPECT_EQ(json_archs("results pareto --objectives acc:max,cost:min --run 2 --stage epoch"),
            (std::vector<std::string>{"epoch1"}));

  const auto runs = nlohmann::json::parse(cli("results runs --format json --db " + db()).out);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]["objective_mode"], "min");
  EXPECT_EQ(runs[0]["final_stage"], "query");
  EXPECT_EQ(runs[1]["final_stage"], "final");

  const auto curves = nlohmann::json::parse(cli("results curves --format json --db " + db()).out);
  ASSERT_EQ(curves.size(), 2u);
  EXPECT_EQ(curves[0]["curve"], "alpha.normal.conv");
  const auto loss = nlohmann::json::parse(cli("results curves --run 2 --curve supernet. --format json --db " + db()).out);
  ASSERT_EQ(loss.size(), 1u);
  EXPECT_EQ(loss[0]["label"], "full");
  EXPECT_EQ(parse_csv(cli("results curves --format csv --db " + db()).out).size(), 3u);
  const auto table = cli("results curves --run 1 --db " + db());
  EXPECT_EQ(table.status, 0) << table.out;
  EXPECT_EQ(table.out, "run  curve  step  value  label\n");
}

TEST_F(StagedResultsCli, UnknownStagesAndRunsAreOneLineErrors) {
  for (const std::string command : {"top", "export", "pareto --objectives acc:max,cost:min"}) {
    const auto r = cli("results " + command + " --stage epochs --db " + db());
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    EXPECT_NE(r.out.find("--stage: unknown stage 'epochs' (valid: query, score, epoch, report, measure, search, final, rung, all)"),
              std::string::npos)
        << r.out;
  }
  const auto r = cli("results curves --run 9 --db " + db());
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("has no run 9"), std::string::npos) << r.out;
}

class SchemaTwoCli : public ScratchDirTest {};

// A schema-2 file is read as if upgraded: the minimised run ranks ascending, without writing.
TEST_F(SchemaTwoCli, ResultsReadTheFileWithoutUpgradingIt) {
  const std::string file = path("old.db");
  std::filesystem::copy_file(std::string(NASCENT_SOURCE_DIR) + "/tests/fixtures/schema2.db", file);
  const auto r = run_cli("results top -k 3 --run 1 --format json --db " + file);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto top = nlohmann::json::parse(r.out);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0]["arch"], "b");
  EXPECT_EQ(top[0]["fitness"], 0.4);
  EXPECT_EQ(top[1]["arch"], "d");
  EXPECT_EQ(top[2]["arch"], "a");
  const auto curves = nlohmann::json::parse(run_cli("results curves --run 3 --format json --db " + file).out);
  EXPECT_EQ(curves.size(), 6u);
  const auto finals = nlohmann::json::parse(run_cli("results export --run 3 --format json --db " + file).out);
  EXPECT_EQ(finals.size(), 2u);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 2);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST(ResultsQuery, CompareShowsRunsSideBySideWithTheirBestAndOnlyTheConfigKeysThatDiffer) {
  RunRecord a = sample_run(), b = sample_run();
  a.id = 1, b.id = 2;
  a.config = "seed: 1\nspace: {name: nb201}\nstrategy: {name: evolution, population: 20}\nbudget: {evaluations: 50}\n";
  b.config = "seed: 2\nspace: {name: nb201}\nstrategy: {name: random}\nbudget: {evaluations: 50}\nobjective: {metric: [a, b]}\n";
  b.strategy = "random", b.maximize = false, b.status = "finished";
  std::vector<StoredEvaluation> first{evaluation(0, "x", {}, true, 1), evaluation(1, "y", {}, true, 1)};
  first[0].fitness = 90, first[1].fitness = 93, first[1].elapsed = 12.5;
  std::vector<StoredEvaluation> second{evaluation(0, "p", {}, true, 2), evaluation(1, "q", {}, true, 2)};
  second[0].fitness = 3, second[1].fitness = 1;  // minimised: q is the best
  const RunComparison comparison = compare_runs({a, b}, {first, second});
  EXPECT_EQ(comparison.runs, (std::vector<std::int64_t>{1, 2}));
  std::map<std::string, std::vector<std::string>> summary(comparison.summary.begin(), comparison.summary.end());
  EXPECT_EQ(summary["method"], (std::vector<std::string>{"evolution", "random"}));
  EXPECT_EQ(summary["best"], (std::vector<std::string>{"93", "1"}));
  EXPECT_EQ(summary["best arch"], (std::vector<std::string>{"y", "q"}));
  EXPECT_EQ(summary["objective"], (std::vector<std::string>{"val_acc max", "val_acc min"}));
  EXPECT_EQ(summary["seconds"][0], "12.5");
  std::map<std::string, std::vector<std::optional<std::string>>> differences(comparison.differences.begin(),
                                                                             comparison.differences.end());
  EXPECT_EQ(differences.size(), 4u);  // seed, strategy.name, strategy.population, objective.metric
  EXPECT_EQ(differences["seed"], (std::vector<std::optional<std::string>>{"1", "2"}));
  EXPECT_EQ(differences["strategy.population"], (std::vector<std::optional<std::string>>{"20", std::nullopt}));
  EXPECT_EQ(differences["objective.metric"], (std::vector<std::optional<std::string>>{std::nullopt, "[a, b]"}));
  EXPECT_FALSE(differences.count("budget.evaluations"));
  EXPECT_FALSE(differences.count("space.name"));
  const std::string table = comparison_to_table(comparison);
  EXPECT_NE(table.find("config differences"), std::string::npos) << table;
  EXPECT_NE(table.find("strategy.population  20"), std::string::npos) << table;
  const auto json = nlohmann::json::parse(comparison_to_json(comparison));
  EXPECT_EQ(json["runs"], nlohmann::json::array({1, 2}));
  EXPECT_TRUE(json["config_differences"]["strategy.population"][1].is_null());
  EXPECT_EQ(json["summary"]["best arch"][1], "q");
}

using CompareCli = ScratchDirTest;

TEST_F(CompareCli, ComparesStoredRunsAndNamesAMissingOne) {
  const std::string db = path("runs.db");
  {
    ResultStore store(db, ResultStore::Mode::ReadWrite);
    for (int seed : {1, 2}) {
      const auto run = store.begin_run("seed: " + std::to_string(seed) + "\n", seed, "nb201", "random", "table");
      StoredEvaluation e = evaluation(0, "arch" + std::to_string(seed), {{"val_acc", 90.0 + seed}}, true, run);
      e.fitness = 90.0 + seed;
      store.add_evaluation(e);
      store.finish_run(run, "finished");
    }
  }
  const CliOutput table = run_cli("results compare --db " + db + " --runs 1,2");
  EXPECT_EQ(table.status, 0) << table.out;
  EXPECT_NE(table.out.find("arch1"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("arch2"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("seed"), std::string::npos) << table.out;
  const CliOutput json = run_cli("results compare --db " + db + " --runs 2,1 --format json");
  EXPECT_EQ(nlohmann::json::parse(json.out)["summary"]["best"], nlohmann::json::array({"92", "91"}));
  const CliOutput missing = run_cli("results compare --db " + db + " --runs 1,7");
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.out, "nascent: " + db + " has no run 7\n");
}

}  // namespace
}  // namespace nascent
