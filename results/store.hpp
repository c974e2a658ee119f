#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "evaluators/evaluator.hpp"

struct sqlite3;

namespace nascent {

struct RunRecord {
  std::int64_t id = 0;
  std::string config;  // the YAML as given (after --set overrides)
  std::uint64_t seed = 0;
  std::string space, strategy, evaluator;
  std::string versions;  // "nascent X; libtorch Y; sqlite Z"
  std::string started_at, ended_at;  // ISO-8601 UTC; ended_at empty while running
  std::string status;                // running, finished, failed, interrupted
  std::int64_t evaluations = 0;      // stored evaluations of this run
};

struct StoredEvaluation {
  std::int64_t run = 0;
  std::int64_t seq = 0;  // 0-based order in which the strategy asked for it
  std::string space, arch, fingerprint;
  Evaluation result;
  std::optional<double> fitness;  // objective value, higher is better; empty when failed
  double elapsed = 0;             // run seconds when it was stored (for wall-clock budgets on resume)
  std::string stage = "query";    // "query": the run's evaluator; "score": training-free predictors
  std::string created_at;
};

// One point of a named curve of a run (supernet loss per epoch, predictor quality, alphas).
struct CurvePoint {
  std::int64_t run = 0;
  std::string curve;
  double step = 0;
  double value = 0;
  std::string label;
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

  // 2 added evaluations.stage; a schema-1 file is upgraded when opened for writing.
  static constexpr int kSchemaVersion = 2;

  std::int64_t begin_run(const std::string& config, std::uint64_t seed, const std::string& space,
                         const std::string& strategy, const std::string& evaluator);
  void finish_run(std::int64_t run, const std::string& status);
  void reopen_run(std::int64_t run);  // marks a resumed run as running again

  void add_evaluation(const StoredEvaluation& evaluation);
  void add_curve_points(std::int64_t run, const std::vector<CurvePoint>& points);
  // A run's curve points whose name starts with `curve_prefix`, by curve then step.
  std::vector<CurvePoint> curves(std::int64_t run, const std::string& curve_prefix = "") const;

  std::vector<RunRecord> runs() const;
  std::optional<RunRecord> run(std::int64_t id) const;
  std::optional<RunRecord> latest_run() const;
  std::vector<StoredEvaluation> evaluations(std::optional<std::int64_t> run = std::nullopt) const;
  std::optional<StoredEvaluation> evaluation(std::int64_t run, std::int64_t seq) const;

  const std::string& path() const { return path_; }

 private:
  struct Statements;  // add_evaluation's prepared statements, kept for the store's lifetime
  void exec(const std::string& sql) const;
  std::vector<StoredEvaluation> select_evaluations(std::optional<std::int64_t> run, std::optional<std::int64_t> seq) const;
  std::string path_;
  int schema_version_ = kSchemaVersion;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statements> statements_;
  mutable std::mutex mutex_;
};

}  // namespace nascent
