#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "evaluators/evaluator.hpp"
#include "results/stage.hpp"

struct sqlite3;

namespace nascent {

// What begin_run records about a run. The objective is stored so that queries can rank a run's
// fitness the right way without reading its config.
struct RunInfo {
  std::string config;  // the YAML as given (after --set overrides)
  std::uint64_t seed = 0;
  std::string space, strategy, evaluator;
  std::string objective_metric = "val_acc";
  bool maximize = true;              // objective.mode: max (true) or min
  Stage final_stage = Stage::Query;  // the stage holding the method's final candidates
};

struct RunRecord {
  std::int64_t id = 0;
  std::string config;  // the YAML as given (after --set overrides)
  std::uint64_t seed = 0;
  std::string space, strategy, evaluator;
  std::string versions;  // "nascent X; libtorch Y; sqlite Z"
  std::string started_at, ended_at;  // ISO-8601 UTC; ended_at empty while running
  std::string status;                // running, finished, failed, interrupted
  std::int64_t evaluations = 0;      // stored evaluations of this run
  std::string objective_metric = "val_acc";
  bool maximize = true;
  Stage final_stage = Stage::Query;
};

struct StoredEvaluation {
  std::int64_t run = 0;
  std::int64_t seq = 0;  // 0-based order in which the strategy asked for it
  std::string space, arch, fingerprint;
  Evaluation result;
  // The objective metric's value as measured, not oriented: whether larger is better is the run's
  // RunRecord::maximize. Empty when the evaluation failed or has no value for the objective.
  std::optional<double> fitness;
  double elapsed = 0;             // run seconds when it was stored (for wall-clock budgets on resume)
  Stage stage = Stage::Query;
  std::string created_at;
  // Lineage: the seq (in the same run) of the evaluation this architecture was derived from, e.g.
  // evolution's parent; empty when it was sampled or the method records no parents.
  std::optional<std::int64_t> parent;
};

// One point of a named series that is no evaluation of a candidate: a supernet's loss per epoch,
// an accuracy predictor's quality, a differentiable search's architecture weights.
struct CurvePoint {
  std::int64_t run = 0;
  std::string curve;  // dotted name, e.g. "supernet.train_loss", "alpha.normal.0_1.conv_3x3"
  double step = 0;    // usually the epoch; fractional within OFA's progressive-shrinking phases
  double value = 0;   // NaN round-trips (stored as NULL)
  std::string label;  // free text, e.g. the OFA phase; may be empty
};

// The results database: SQLite, WAL mode, one transaction per write so a killed process loses
// at most the evaluations in flight. Opening refuses (with a one-line Error, without writing)
// a file that is not a nascent database, one with a newer schema, or one that is locked.
// Methods may be called from several threads; each call holds the store for its duration.
class ResultStore {
 public:
  enum class Mode { ReadOnly, ReadWrite };
  ResultStore(const std::string& path, Mode mode);
  ~ResultStore();
  ResultStore(const ResultStore&) = delete;
  ResultStore& operator=(const ResultStore&) = delete;

  // 2 added evaluations.stage; 3 added the runs' objective and final stage, stored fitness
  // unnegated, and the curves table for what earlier schemas stored as stand-in evaluations.
  // Older files are upgraded in place (one transaction) when opened for writing, and read as if
  // upgraded when opened read-only.
  static constexpr int kSchemaVersion = 5;

  std::int64_t begin_run(const RunInfo& info);
  // A run maximising val_acc whose final candidates are its queries.
  std::int64_t begin_run(const std::string& config, std::uint64_t seed, const std::string& space,
                         const std::string& strategy, const std::string& evaluator);
  void finish_run(std::int64_t run, const std::string& status);
  void reopen_run(std::int64_t run);  // marks a resumed run as running again

  void add_evaluation(const StoredEvaluation& evaluation);
  // All or none, in one transaction: much faster than one by one when there are many.
  void add_evaluations(const std::vector<StoredEvaluation>& evaluations);
  // All points in one transaction: all stored or none. Throws Error for a NaN step.
  void add_curve_points(std::int64_t run, const std::vector<CurvePoint>& points);

  std::vector<RunRecord> runs() const;
  std::optional<RunRecord> run(std::int64_t id) const;
  std::optional<RunRecord> latest_run() const;
  std::vector<StoredEvaluation> evaluations(std::optional<std::int64_t> run = std::nullopt) const;
  std::optional<StoredEvaluation> evaluation(std::int64_t run, std::int64_t seq) const;
  // The run's points whose curve name starts with curve_prefix, by curve name, then step, then
  // the order they were added.
  std::vector<CurvePoint> curves(std::int64_t run, const std::string& curve_prefix = "") const;
  // The file's schema: kSchemaVersion, or an older one when it was opened read-only.
  int schema_version() const { return schema_version_; }

  const std::string& path() const { return path_; }

 private:
  struct Statements;  // add_evaluation's prepared statements, kept for the store's lifetime
  void exec(const std::string& sql) const;
  std::vector<StoredEvaluation> select_evaluations(std::optional<std::int64_t> run, std::optional<std::int64_t> seq) const;
  std::vector<RunRecord> select_runs(const std::string& tail, std::optional<std::int64_t> id) const;
  void upgrade_to_3();
  std::string path_;
  int schema_version_ = kSchemaVersion;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statements> statements_;
  mutable std::mutex mutex_;
};

}  // namespace nascent
