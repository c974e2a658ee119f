#include "results/store.hpp"

#include <sqlite3.h>
#include <unistd.h>

#if __has_include(<torch/version.h>)
#include <torch/version.h>
#endif

#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_map>

#include "core/config.hpp"
#include "core/error.hpp"

#ifndef NASCENT_VERSION
#define NASCENT_VERSION "unknown"
#endif

namespace nascent {

namespace {

namespace fs = std::filesystem;

constexpr int kApplicationId = 0x6E617363;  // "nasc"
constexpr int kBusyTimeoutMs = 2000;

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string versions_string() {
  std::string versions = "nascent " NASCENT_VERSION;
#ifdef TORCH_VERSION
  versions += "; libtorch " TORCH_VERSION;
#endif
  versions += std::string("; sqlite ") + sqlite3_libversion();
  return versions;
}

bool is_busy(int code) { return (code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED; }

std::string locked_message(const std::string& path) { return path + " is locked by another process"; }

// A prepared statement that can be reused (reset() between uses); every failure becomes an Error
// naming the database file.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, const std::string& path) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) fail("query");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  Statement& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  // NaN has no SQLite representation (it would become NULL anyway), so it is stored as NULL on
  // purpose and read back as NaN; infinities are ordinary REAL values and round-trip.
  Statement& bind(int i, double v) { return check(std::isnan(v) ? sqlite3_bind_null(stmt_, i) : sqlite3_bind_double(stmt_, i, v)); }
  Statement& bind(int i, std::optional<double> v) { return v ? bind(i, *v) : check(sqlite3_bind_null(stmt_, i)); }
  Statement& bind(int i, std::optional<std::int64_t> v) { return v ? bind(i, *v) : check(sqlite3_bind_null(stmt_, i)); }

  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  // True for a row, false when done.
  bool step(const char* what = "query") {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(what);
  }
  int last_error() const { return sqlite3_extended_errcode(db_); }

  std::int64_t integer(int c) const { return sqlite3_column_int64(stmt_, c); }
  double real(int c) const {
    return sqlite3_column_type(stmt_, c) == SQLITE_NULL ? std::numeric_limits<double>::quiet_NaN()
                                                        : sqlite3_column_double(stmt_, c);
  }
  std::optional<double> optional_real(int c) const {
    if (sqlite3_column_type(stmt_, c) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_double(stmt_, c);
  }
  bool is_null(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  std::string text(int c) const {
    const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
    return t ? std::string(t, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, c))) : std::string();
  }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK) fail("bind");
    return *this;
  }
  [[noreturn]] void fail(const char* what) const {
    const int code = sqlite3_errcode(db_);
    if (is_busy(code)) throw Error(locked_message(path_));
    if (code == SQLITE_READONLY) throw Error(path_ + " is read-only");
    throw Error(path_ + ": database " + what + " failed: " + sqlite3_errmsg(db_));
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string path_;
};

// Comments inside CREATE statements are kept by SQLite, so `.schema` in the sqlite3 shell shows them.
// A comment after a column that may end up last goes above it instead: when the columns after it
// are dropped, SQLite's DROP COLUMN leaves the comment swallowing the closing parenthesis.
const char* kSchema = R"sql(
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  config TEXT NOT NULL,      -- the YAML as run, after --set overrides
  seed INTEGER NOT NULL,     -- unsigned 64-bit seed stored as its signed bit pattern
  space TEXT NOT NULL,
  strategy TEXT NOT NULL,
  evaluator TEXT NOT NULL,
  versions TEXT NOT NULL,
  started_at TEXT NOT NULL,  -- ISO-8601 UTC
  ended_at TEXT,             -- NULL while running
  -- status: running, finished, failed, interrupted, exhausted
  status TEXT NOT NULL,
  objective_metric TEXT NOT NULL DEFAULT 'val_acc',
  -- objective_mode: max or min, how evaluations.fitness ranks;
  -- final_stage: the stage holding the method's final candidates
  objective_mode TEXT NOT NULL DEFAULT 'max',
  final_stage TEXT NOT NULL DEFAULT 'query'
);
CREATE TABLE candidates (
  id INTEGER PRIMARY KEY,
  space TEXT NOT NULL,
  arch TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  UNIQUE (space, arch)
);
CREATE INDEX candidates_fingerprint ON candidates (fingerprint);
CREATE TABLE evaluations (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs (id),
  seq INTEGER NOT NULL,      -- 0-based order in which the strategy asked
  candidate_id INTEGER NOT NULL REFERENCES candidates (id),
  ok INTEGER NOT NULL,
  error TEXT NOT NULL,
  fitness REAL,              -- the objective metric as measured (see runs.objective_mode); NULL when failed
  cost REAL,
  seconds REAL,
  elapsed REAL,              -- run seconds when stored
  device TEXT NOT NULL,
  created_at TEXT NOT NULL,
  stage TEXT NOT NULL DEFAULT 'query',  -- query, score, epoch, report, measure, search, final, rung (results/stage.hpp)
  parent_seq INTEGER,        -- lineage: the seq this architecture was derived from (schema 4); NULL when none
  status TEXT NOT NULL DEFAULT 'ok',  -- ok, failed, or oom: failed for lack of memory, not for the architecture (schema 5)
  UNIQUE (run_id, seq)
);
CREATE INDEX evaluations_candidate ON evaluations (candidate_id);
CREATE TABLE metrics (
  evaluation_id INTEGER NOT NULL REFERENCES evaluations (id),
  name TEXT NOT NULL,
  value REAL,                -- NULL stands for NaN
  PRIMARY KEY (evaluation_id, name)
) WITHOUT ROWID;
CREATE INDEX metrics_name ON metrics (name, value);
)sql";

const char* kCurvesSchema = R"sql(
CREATE TABLE curves (
  id INTEGER PRIMARY KEY,    -- keeps the order points were added in
  run_id INTEGER NOT NULL REFERENCES runs (id),
  curve TEXT NOT NULL,       -- e.g. supernet.train_loss, alpha.normal.0_1.conv_3x3
  step REAL NOT NULL,        -- usually the epoch
  value REAL,                -- NULL stands for NaN
  label TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);
CREATE INDEX curves_run ON curves (run_id, curve, step);
)sql";

// Schema 2's curves, which it stored as evaluations: the supernet's training and the accuracy
// predictor's quality as stand-in evaluations, and a differentiable search's architecture weights
// (alpha.*) as metrics of its epoch evaluations. Each metric is one point at the row's epoch (its
// seq when it has none); the epoch itself, being the step, is no curve. Read directly from a
// schema-2 file opened read-only, and copied into the curves table by the upgrade.
const char* kSchema2Curves = R"sql(
SELECT e.run_id AS run_id, CASE WHEN e.stage = 'epoch' THEN m.name ELSE e.stage || '.' || m.name END AS curve,
  COALESCE((SELECT s.value FROM metrics s WHERE s.evaluation_id = e.id AND s.name = 'epoch'), e.seq) AS step,
  m.value AS value, '' AS label, e.created_at AS created_at, e.id AS source, m.name AS metric
FROM evaluations e JOIN metrics m ON m.evaluation_id = e.id
WHERE (e.stage IN ('supernet', 'predictor') AND m.name <> 'epoch') OR (e.stage = 'epoch' AND substr(m.name, 1, 6) = 'alpha.')
)sql";

// Schema-2 rows that schema 3 keeps as evaluations, and their metrics.
const char* kSchema2Evaluation = "e.stage NOT IN ('supernet', 'predictor')";
const char* kSchema2Metric = "NOT (e.stage = 'epoch' AND substr(m.name, 1, 6) = 'alpha.')";

// Before schema 5, a failure's kind is known only from its message: the status SQL derives from
// `ok` and `error` with the fragments the evaluators classify LibTorch's messages by.
std::string status_from_error_sql(const std::string& table = "") {
  std::string oom;
  for (const char* fragment : kOutOfMemoryFragments) {
    std::string quoted;
    for (const char c : std::string(fragment)) quoted += c == '\'' ? "''" : std::string(1, c);
    oom += std::string(oom.empty() ? "" : " OR ") + "lower(" + table + "error) LIKE '%" + quoted + "%'";
  }
  return "CASE WHEN " + table + "ok THEN 'ok' WHEN " + oom + " THEN 'oom' ELSE 'failed' END";
}

struct StoredObjective {
  std::string metric = "val_acc";
  bool maximize = true;
};

// A run's objective as the runner read it from the config (runner/search.cpp, differentiable.cpp):
// for runs stored before schema 3 recorded it. Weight-sharing runs (evaluator "supernet") always
// ranked by val_acc, larger is better, whatever their config said.
StoredObjective objective_of(const std::string& config, const std::string& evaluator) {
  StoredObjective objective;
  if (evaluator == "supernet") return objective;
  try {
    const Config c = Config::parse(config);
    std::string fallback = c.child("evaluator").get<std::string>("metric", "val_acc");
    const YAML::Node finals = c.node()["final_training"];
    if (!c.has("evaluator") && finals && finals.IsSequence() && finals.size() > 0 && finals[0]["metric"])
      fallback = finals[0]["metric"].as<std::string>();
    const Config section = c.child("objective");
    objective.metric = section.get<std::string>("metric", fallback);
    objective.maximize = section.get<std::string>("mode", "max") != "min";
  } catch (const std::exception&) {
    // A config this build cannot read keeps the defaults rather than blocking access to the results.
  }
  return objective;
}

struct Identity {
  int application_id = 0;
  int user_version = 0;
  int objects = 0;  // tables, indexes, views, triggers
};

// Reads what identifies the file; returns the SQLite error code (SQLITE_OK on success).
int read_identity(sqlite3* db, Identity& identity) {
  const char* sql =
      "SELECT (SELECT count(*) FROM sqlite_master), (SELECT application_id FROM pragma_application_id), "
      "(SELECT user_version FROM pragma_user_version)";
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    identity.objects = sqlite3_column_int(stmt, 0);
    identity.application_id = sqlite3_column_int(stmt, 1);
    identity.user_version = sqlite3_column_int(stmt, 2);
    rc = SQLITE_OK;
  } else {
    rc = sqlite3_errcode(db);
  }
  sqlite3_finalize(stmt);
  return rc;
}

// True for a blank SQLite file that nascent may adopt; false for one of ours with a schema this
// build reads; throws for anything else.
bool classify(const std::string& path, const Identity& id, ResultStore::Mode mode) {
  if (id.application_id == kApplicationId) {
    if (id.user_version > ResultStore::kSchemaVersion)
      throw Error(path + " was written by a newer nascent (schema " + std::to_string(id.user_version) +
                  ", this build reads up to " + std::to_string(ResultStore::kSchemaVersion) + ")");
    if (id.user_version < 1) throw Error(path + " is a damaged nascent results database (no schema version)");
    return false;
  }
  // An application id or a user_version, even without tables, means some other program set it up.
  if (id.objects > 0 || id.application_id != 0 || id.user_version != 0)
    throw Error(path + " is not a nascent results database (another program's SQLite file)");
  if (mode == ResultStore::Mode::ReadOnly) throw Error(path + " is an empty database: no nascent results in it");
  return true;
}

// The fields of the 100-byte SQLite file header that tell whose file it is.
struct Header {
  bool wal = false;
  std::uint32_t user_version = 0;
  std::uint32_t application_id = 0;
};

std::uint32_t big_endian(const unsigned char* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) | bytes[3];
}

Header read_header(const std::string& path) {
  unsigned char bytes[100] = {};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read the file");
  in.read(reinterpret_cast<char*>(bytes), sizeof bytes);
  static const char magic[] = "SQLite format 3";  // with its terminating NUL: 16 bytes
  if (in.gcount() < static_cast<std::streamsize>(sizeof bytes) || std::memcmp(bytes, magic, sizeof magic) != 0)
    throw Error(path + ": file is not a database (not an SQLite file)");
  Header header;
  header.wal = bytes[18] == 2 && bytes[19] == 2;
  header.user_version = big_endian(bytes + 60);
  header.application_id = big_endian(bytes + 68);
  return header;
}

// Every reason to refuse an existing file, checked without writing to it. The file header alone
// settles most cases, before SQLite opens the file: even a read-only SQLite connection to a WAL
// database creates -wal and -shm files next to it, which a foreign file should not get.
void inspect_read_only(const std::string& path, ResultStore::Mode mode) {
  const Header header = read_header(path);
  // nascent sets its application id before switching to WAL, so a WAL file without one is foreign
  // (counted as having objects). Without an id and WAL, only SQLite can tell whether it is blank.
  const bool foreign_wal = header.application_id == 0 && header.wal;
  if (header.application_id != 0 || foreign_wal)
    classify(path,
             Identity{static_cast<std::int32_t>(header.application_id), static_cast<std::int32_t>(header.user_version),
                      foreign_wal ? 1 : 0},
             mode);

  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw Error(path + ": cannot open: " + message);
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  Identity identity;
  const int rc = read_identity(db, identity);
  const std::string message = sqlite3_errmsg(db);
  sqlite3_close(db);
  if ((rc & 0xff) == SQLITE_NOTADB) throw Error(path + ": file is not a database (not an SQLite file)");
  if (is_busy(rc)) throw Error(locked_message(path));
  if (rc != SQLITE_OK) throw Error(path + ": cannot read: " + message);
  classify(path, identity, mode);
}

// The first line of an integrity check's answer that names a problem: SQLite heads its findings
// with "*** in database main ***".
std::string first_finding(const std::string& verdict) {
  std::istringstream lines(verdict);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line.rfind("***", 0) != 0) return line.substr(0, 200);
  return "it failed";
}

void check_path(const std::string& path, ResultStore::Mode mode) {
  // SQLite opens "" as a private temporary database, which would drop every result at exit.
  if (path.empty()) throw Error("the results database path is empty (--db)");
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (fs::is_directory(status)) throw Error(path + " is a directory, not a results database");
  if (!fs::exists(status)) {
    if (mode == ResultStore::Mode::ReadOnly) throw Error(path + ": no such database");
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty() && !fs::is_directory(parent, ec))
      throw Error(path + ": cannot create the database: no folder " + parent.string());
    return;
  }
  if (!fs::is_regular_file(status)) throw Error(path + " is not a regular file");
  if (::access(path.c_str(), R_OK) != 0) throw Error(path + ": cannot read the file (permission denied)");
  if (mode == ResultStore::Mode::ReadWrite && ::access(path.c_str(), W_OK) != 0)
    throw Error(path + ": cannot write the file (permission denied)");
}

}  // namespace

struct ResultStore::Statements {
  Statements(sqlite3* db, const std::string& path)
      : candidate(db, "INSERT OR IGNORE INTO candidates (space, arch, fingerprint) VALUES (?, ?, ?)", path),
        find_candidate(db, "SELECT id FROM candidates WHERE space = ? AND arch = ?", path),
        evaluation(db,
                   "INSERT INTO evaluations (run_id, seq, candidate_id, ok, error, fitness, cost, seconds, elapsed, "
                   "device, created_at, stage, parent_seq, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   path),
        metric(db, "INSERT INTO metrics (evaluation_id, name, value) VALUES (?, ?, ?)", path) {}
  Statement candidate, find_candidate, evaluation, metric;
  void reset() {
    candidate.reset();
    find_candidate.reset();
    evaluation.reset();
    metric.reset();
  }
};

ResultStore::ResultStore(const std::string& path, Mode mode) : path_(path) {
  check_path(path, mode);
  std::error_code ec;
  const bool blank = !fs::exists(path) || fs::file_size(path, ec) == 0;
  if (blank && mode == Mode::ReadOnly) throw Error(path + " is an empty file: no nascent results in it");
  if (!blank) inspect_read_only(path, mode);

  const int flags = mode == Mode::ReadOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  // Every method holds mutex_ while it uses the connection, so SQLite's own per-call locking
  // (which costs a tenth of a large read) is not needed.
  if (sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(path + ": cannot open: " + message);
  }
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  if (mode == Mode::ReadOnly) {
    Identity identity;
    if (read_identity(db_, identity) == SQLITE_OK) schema_version_ = identity.user_version;
    return;
  }
  try {
    if (sqlite3_db_readonly(db_, "main") == 1) throw Error(path + " is read-only");
    // Under the write lock, look again: the file may have changed since the read-only check, and a
    // writer holding the database makes this fail as "locked" before anything is written.
    exec("BEGIN IMMEDIATE");
    try {
      Identity identity;
      const int rc = read_identity(db_, identity);
      if (is_busy(rc)) throw Error(locked_message(path));
      if (rc != SQLITE_OK) throw Error(path + ": cannot read: " + sqlite3_errmsg(db_));
      const bool fresh = classify(path, identity, mode);
      if (fresh) {
        exec(kSchema);
        exec(kCurvesSchema);
        exec("PRAGMA application_id = " + std::to_string(kApplicationId));
        exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
      } else {
        // A damaged file would otherwise fail halfway through a run (leaving a failed run in it)
        // or an upgrade, or worse, be rewritten from whatever SQLite could still read.
        std::string verdict = "no answer";
        {
          Statement check(db_, "PRAGMA quick_check(1)", path_);
          if (check.step()) verdict = check.text(0);
        }
        if (verdict != "ok")
          throw Error(path + " is damaged; nothing written (SQLite's check: " + first_finding(verdict) + ")");
      }
      if (!fresh && identity.user_version < kSchemaVersion) {
        if (identity.user_version == 1) {
          // Schema 1 had no stages: every evaluation in it was a query.
          exec("ALTER TABLE evaluations ADD COLUMN stage TEXT NOT NULL DEFAULT 'query'");
        }
        if (identity.user_version < 3) upgrade_to_3();
        if (identity.user_version < 4) exec("ALTER TABLE evaluations ADD COLUMN parent_seq INTEGER");  // schema 4: lineage
        exec("ALTER TABLE evaluations ADD COLUMN status TEXT NOT NULL DEFAULT 'ok'");  // schema 5
        exec("UPDATE evaluations SET status = " + status_from_error_sql());
        exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
      }
      schema_version_ = kSchemaVersion;
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    exec("PRAGMA journal_mode = WAL");
    // In WAL mode NORMAL loses nothing when the process is killed, only on power loss, and avoids
    // an fsync per evaluation.
    exec("PRAGMA synchronous = NORMAL");
    exec("PRAGMA foreign_keys = ON");
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

ResultStore::~ResultStore() {
  statements_.reset();  // statements must be finalized before the connection can close
  if (db_) sqlite3_close(db_);
}

void ResultStore::exec(const std::string& sql) const {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    const int code = sqlite3_errcode(db_);
    if (is_busy(code)) throw Error(locked_message(path_));
    if (code == SQLITE_READONLY) throw Error(path_ + " is read-only");
    throw Error(path_ + ": " + text);
  }
}

void ResultStore::upgrade_to_3() {
  exec("ALTER TABLE runs ADD COLUMN objective_metric TEXT NOT NULL DEFAULT 'val_acc'");
  exec("ALTER TABLE runs ADD COLUMN objective_mode TEXT NOT NULL DEFAULT 'max'");
  exec("ALTER TABLE runs ADD COLUMN final_stage TEXT NOT NULL DEFAULT 'query'");
  exec(kCurvesSchema);
  std::vector<std::pair<std::int64_t, StoredObjective>> objectives;
  {
    Statement runs(db_, "SELECT id, config, evaluator FROM runs", path_);
    while (runs.step()) objectives.emplace_back(runs.integer(0), objective_of(runs.text(1), runs.text(2)));
  }
  Statement update(db_, "UPDATE runs SET objective_metric = ?, objective_mode = ? WHERE id = ?", path_);
  // Schemas 1 and 2 stored fitness negated for minimised objectives, so that larger was better.
  Statement unnegate(db_, "UPDATE evaluations SET fitness = -fitness WHERE run_id = ? AND fitness IS NOT NULL", path_);
  for (const auto& [run, objective] : objectives) {
    update.reset();
    update.bind(1, objective.metric).bind(2, std::string(objective.maximize ? "max" : "min")).bind(3, run);
    update.step("upgrade");
    if (objective.maximize) continue;
    unnegate.reset();
    unnegate.bind(1, run);
    unnegate.step("upgrade");
  }
  exec("UPDATE runs SET final_stage = 'final' WHERE EXISTS "
       "(SELECT 1 FROM evaluations e WHERE e.run_id = runs.id AND e.stage = 'final')");
  exec("INSERT INTO curves (run_id, curve, step, value, label, created_at) SELECT run_id, curve, step, value, label, "
       "created_at FROM (" + std::string(kSchema2Curves) + ") ORDER BY source, metric");
  exec("DELETE FROM metrics WHERE substr(name, 1, 6) = 'alpha.' AND evaluation_id IN "
       "(SELECT id FROM evaluations WHERE stage = 'epoch')");
  exec("DELETE FROM metrics WHERE evaluation_id IN (SELECT id FROM evaluations WHERE stage IN ('supernet', 'predictor'))");
  exec("DELETE FROM evaluations WHERE stage IN ('supernet', 'predictor')");
}

std::int64_t ResultStore::begin_run(const RunInfo& info) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement insert(db_,
                   "INSERT INTO runs (config, seed, space, strategy, evaluator, versions, started_at, status, "
                   "objective_metric, objective_mode, final_stage) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                   path_);
  insert.bind(1, info.config).bind(2, static_cast<std::int64_t>(info.seed)).bind(3, info.space).bind(4, info.strategy);
  insert.bind(5, info.evaluator).bind(6, versions_string()).bind(7, now_utc()).bind(8, info.objective_metric);
  insert.bind(9, std::string(info.maximize ? "max" : "min")).bind(10, to_string(info.final_stage));
  insert.step("write");
  return sqlite3_last_insert_rowid(db_);
}

std::int64_t ResultStore::begin_run(const std::string& config, std::uint64_t seed, const std::string& space,
                                    const std::string& strategy, const std::string& evaluator) {
  RunInfo info;
  info.config = config;
  info.seed = seed;
  info.space = space;
  info.strategy = strategy;
  info.evaluator = evaluator;
  return begin_run(info);
}

void ResultStore::finish_run(std::int64_t run, const std::string& status) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement update(db_, "UPDATE runs SET status = ?, ended_at = ? WHERE id = ?", path_);
  update.bind(1, status).bind(2, now_utc()).bind(3, run);
  update.step("write");
  if (sqlite3_changes(db_) == 0) throw Error(path_ + " has no run " + std::to_string(run));
}

void ResultStore::reopen_run(std::int64_t run) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement update(db_, "UPDATE runs SET status = 'running', ended_at = NULL WHERE id = ?", path_);
  update.bind(1, run);
  update.step("write");
  if (sqlite3_changes(db_) == 0) throw Error(path_ + " has no run " + std::to_string(run));
}

void ResultStore::add_evaluation(const StoredEvaluation& e) { add_evaluations({e}); }

void ResultStore::add_evaluations(const std::vector<StoredEvaluation>& evaluations) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!statements_) statements_ = std::make_unique<Statements>(db_, path_);
  Statements& s = *statements_;
  exec("BEGIN IMMEDIATE");
  try {
    for (const StoredEvaluation& e : evaluations) {
      s.candidate.bind(1, e.space).bind(2, e.arch).bind(3, e.fingerprint);
      s.candidate.step("write");
      s.find_candidate.bind(1, e.space).bind(2, e.arch);
      if (!s.find_candidate.step()) throw Error(path_ + ": candidate " + e.arch + " vanished while storing it");
      const std::int64_t candidate_id = s.find_candidate.integer(0);

      s.evaluation.bind(1, e.run).bind(2, e.seq).bind(3, candidate_id).bind(4, std::int64_t{e.result.ok ? 1 : 0});
      s.evaluation.bind(5, e.result.error).bind(6, e.fitness).bind(7, e.result.cost).bind(8, e.result.seconds);
      s.evaluation.bind(9, e.elapsed).bind(10, e.result.device).bind(11, now_utc()).bind(12, to_string(e.stage)).bind(13, e.parent);
      s.evaluation.bind(14, evaluation_status(e.result));
      try {
        s.evaluation.step("write");
      } catch (const Error&) {
        const int code = s.evaluation.last_error();
        if (code == SQLITE_CONSTRAINT_UNIQUE)
          throw Error(path_ + ": run " + std::to_string(e.run) + " already has evaluation " + std::to_string(e.seq));
        if (code == SQLITE_CONSTRAINT_FOREIGNKEY) throw Error(path_ + " has no run " + std::to_string(e.run));
        throw;
      }
      const std::int64_t evaluation_id = sqlite3_last_insert_rowid(db_);
      for (const auto& [name, value] : e.result.metrics) {
        s.metric.reset();
        s.metric.bind(1, evaluation_id).bind(2, name).bind(3, value);
        s.metric.step("write");
      }
      s.reset();
    }
    exec("COMMIT");
  } catch (...) {
    s.reset();
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void ResultStore::add_curve_points(std::int64_t run, const std::vector<CurvePoint>& points) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& p : points)
    if (std::isnan(p.step)) throw Error(path_ + ": curve " + p.curve + " has a point without a step (NaN)");
  Statement insert(db_, "INSERT INTO curves (run_id, curve, step, value, label, created_at) VALUES (?, ?, ?, ?, ?, ?)", path_);
  exec("BEGIN IMMEDIATE");
  try {
    const std::string now = now_utc();
    for (const auto& p : points) {
      insert.reset();
      insert.bind(1, run).bind(2, p.curve).bind(3, p.step).bind(4, p.value).bind(5, p.label).bind(6, now);
      try {
        insert.step("write");
      } catch (const Error&) {
        if (insert.last_error() == SQLITE_CONSTRAINT_FOREIGNKEY) throw Error(path_ + " has no run " + std::to_string(run));
        throw;
      }
    }
    insert.reset();
    exec("COMMIT");
  } catch (...) {
    insert.reset();
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<CurvePoint> ResultStore::curves(std::int64_t run, const std::string& curve_prefix) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (schema_version_ < 2) return {};  // schema 1 stored only queries
  const std::string source = schema_version_ >= 3 ? "SELECT run_id, curve, step, value, label, id AS source, '' AS metric FROM curves"
                                                  : std::string(kSchema2Curves);
  Statement s(db_,
              "SELECT run_id, curve, step, value, label FROM (" + source +
                  ") WHERE run_id = ?1 AND substr(curve, 1, length(?2)) = ?2 ORDER BY curve, step, source, metric",
              path_);
  s.bind(1, run).bind(2, curve_prefix);
  std::vector<CurvePoint> points;
  while (s.step()) points.push_back({s.integer(0), s.text(1), s.real(2), s.real(3), s.text(4)});
  return points;
}

namespace {

RunRecord read_run(const Statement& s) {
  RunRecord r;
  r.id = s.integer(0);
  r.config = s.text(1);
  r.seed = static_cast<std::uint64_t>(s.integer(2));
  r.space = s.text(3);
  r.strategy = s.text(4);
  r.evaluator = s.text(5);
  r.versions = s.text(6);
  r.started_at = s.text(7);
  r.ended_at = s.text(8);
  r.status = s.text(9);
  r.evaluations = s.integer(10);
  if (s.is_null(11)) {
    const StoredObjective objective = objective_of(r.config, r.evaluator);
    r.objective_metric = objective.metric;
    r.maximize = objective.maximize;
  } else {
    r.objective_metric = s.text(11);
    r.maximize = s.text(12) != "min";
  }
  r.final_stage = parse_stage(s.text(13));
  return r;
}

}  // namespace

// `tail` is the WHERE/ORDER BY part; ?1 is bound to `id` when given.
std::vector<RunRecord> ResultStore::select_runs(const std::string& tail, std::optional<std::int64_t> id) const {
  std::string columns = "NULL, NULL, 'query'";  // schema 1: every evaluation a query
  if (schema_version_ >= 3)
    columns = "r.objective_metric, r.objective_mode, r.final_stage";
  else if (schema_version_ == 2)
    columns = "NULL, NULL, CASE WHEN EXISTS (SELECT 1 FROM evaluations e WHERE e.run_id = r.id AND e.stage = 'final') "
              "THEN 'final' ELSE 'query' END";
  const std::string counted = schema_version_ == 2 ? std::string(" AND ") + kSchema2Evaluation : "";
  Statement s(db_,
              "SELECT r.id, r.config, r.seed, r.space, r.strategy, r.evaluator, r.versions, r.started_at, r.ended_at, "
              "r.status, (SELECT count(*) FROM evaluations e WHERE e.run_id = r.id" + counted + "), " + columns +
                  " FROM runs r " + tail,
              path_);
  if (id) s.bind(1, *id);
  std::vector<RunRecord> result;
  while (s.step()) result.push_back(read_run(s));
  return result;
}

std::vector<RunRecord> ResultStore::runs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return select_runs("ORDER BY r.id", std::nullopt);
}

std::optional<RunRecord> ResultStore::run(std::int64_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = select_runs("WHERE r.id = ?1", id);
  if (found.empty()) return std::nullopt;
  return std::move(found.front());
}

std::optional<RunRecord> ResultStore::latest_run() const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = select_runs("ORDER BY r.id DESC LIMIT 1", std::nullopt);
  if (found.empty()) return std::nullopt;
  return std::move(found.front());
}

std::vector<StoredEvaluation> ResultStore::evaluations(std::optional<std::int64_t> run) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return select_evaluations(run, std::nullopt);
}

std::optional<StoredEvaluation> ResultStore::evaluation(std::int64_t run, std::int64_t seq) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = select_evaluations(run, seq);
  if (found.empty()) return std::nullopt;
  return std::move(found.front());
}

std::vector<StoredEvaluation> ResultStore::select_evaluations(std::optional<std::int64_t> run,
                                                              std::optional<std::int64_t> seq) const {
  std::string where;
  if (run) where += " AND e.run_id = ?1";
  if (seq) where += " AND e.seq = ?2";
  if (schema_version_ == 2) where += std::string(" AND ") + kSchema2Evaluation;
  const std::string metric_where = schema_version_ == 2 ? "WHERE " + std::string(kSchema2Metric) + where + " " : (where.empty() ? "" : "WHERE" + where.substr(4) + " ");
  if (!where.empty()) where = "WHERE" + where.substr(4) + " ";
  // Before schema 3, minimised objectives were stored negated.
  std::unordered_map<std::int64_t, bool> negated;
  if (schema_version_ < 3)
    for (const auto& r : select_runs("", std::nullopt)) negated[r.id] = !r.maximize;
  // Evaluations and metrics are read in one snapshot so that a concurrent writer cannot add
  // metrics for evaluations this read did not see.
  exec("BEGIN");
  try {
    Statement s(db_,
                "SELECT e.id, e.run_id, e.seq, c.space, c.arch, c.fingerprint, e.ok, e.error, e.fitness, e.cost, "
                "e.seconds, e.elapsed, e.device, e.created_at, " + std::string(schema_version_ >= 2 ? "e.stage" : "'query'") +
                    (schema_version_ >= 4 ? ", e.parent_seq" : ", NULL") +
                    (schema_version_ >= 5 ? ", e.status" : ", " + status_from_error_sql("e.")) +
                " FROM evaluations e JOIN candidates c ON c.id = "
                "e.candidate_id " + where + "ORDER BY e.run_id, e.seq",
                path_);
    if (run) s.bind(1, *run);
    if (seq) s.bind(2, *seq);
    std::vector<StoredEvaluation> result;
    {
      Statement count(db_, "SELECT count(*) FROM evaluations e " + where, path_);
      if (run) count.bind(1, *run);
      if (seq) count.bind(2, *seq);
      if (count.step()) result.reserve(static_cast<std::size_t>(count.integer(0)));
    }
    std::unordered_map<std::int64_t, std::size_t> index;
    index.reserve(result.capacity());
    while (s.step()) {
      StoredEvaluation& e = result.emplace_back();
      index[s.integer(0)] = result.size() - 1;
      e.run = s.integer(1);
      e.seq = s.integer(2);
      e.space = s.text(3);
      e.arch = s.text(4);
      e.fingerprint = s.text(5);
      e.result.ok = s.integer(6) != 0;
      e.result.error = s.text(7);
      e.fitness = s.optional_real(8);
      e.result.cost = s.real(9);
      e.result.seconds = s.real(10);
      e.elapsed = s.real(11);
      e.result.device = s.text(12);
      e.created_at = s.text(13);
      const std::string stage = s.text(14);
      try {
        e.stage = parse_stage(stage);
      } catch (const Error& error) {
        throw Error(path_ + ": evaluation " + std::to_string(e.run) + ":" + std::to_string(e.seq) + " has an " + error.what());
      }
      if (e.fitness && negated[e.run]) e.fitness = -*e.fitness;
      if (!s.is_null(15)) e.parent = s.integer(15);
      e.result.out_of_memory = s.text(16) == "oom";
    }
    Statement m(db_,
                "SELECT m.evaluation_id, m.name, m.value FROM metrics m JOIN evaluations e ON e.id = m.evaluation_id " +
                    metric_where,
                path_);
    if (run) m.bind(1, *run);
    if (seq) m.bind(2, *seq);
    // Rows come in primary-key order (evaluation, name): each name goes at the end of its map.
    std::int64_t last_id = -1;
    StoredEvaluation* last = nullptr;
    while (m.step()) {
      const std::int64_t id = m.integer(0);
      if (id != last_id) {
        const auto it = index.find(id);
        last = it == index.end() ? nullptr : &result[it->second];
        last_id = id;
      }
      if (last) last->result.metrics.emplace_hint(last->result.metrics.end(), m.text(1), m.real(2));
    }
    exec("COMMIT");
    return result;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace nascent
