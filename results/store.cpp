#include "results/store.hpp"

#include <sqlite3.h>
#include <torch/version.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <unordered_map>

#include "core/error.hpp"

namespace nascent {

namespace {

constexpr int kApplicationId = 0x6E617363;  // "nasc"

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

// Prepared statement with RAII and typed binds; errors name the database file.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, const std::string& path) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  Statement& bind(int i, const std::string& v) { return check(sqlite3_bind_text(stmt_, i, v.c_str(), -1, SQLITE_TRANSIENT)); }
  Statement& bind(int i, double v) {
    // SQLite turns NaN into NULL by itself; infinities are stored as REAL and round-trip.
    return check(std::isnan(v) ? sqlite3_bind_null(stmt_, i) : sqlite3_bind_double(stmt_, i, v));
  }
  Statement& bind(int i, std::optional<double> v) { return v ? bind(i, *v) : check(sqlite3_bind_null(stmt_, i)); }
  void reset() { sqlite3_reset(stmt_); }
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("write");
    return false;
  }
  std::int64_t integer(int c) const { return sqlite3_column_int64(stmt_, c); }
  double real(int c) const {
    return sqlite3_column_type(stmt_, c) == SQLITE_NULL ? std::numeric_limits<double>::quiet_NaN()
                                                        : sqlite3_column_double(stmt_, c);
  }
  std::optional<double> optional_real(int c) const {
    if (sqlite3_column_type(stmt_, c) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_double(stmt_, c);
  }
  std::string text(int c) const {
    const unsigned char* t = sqlite3_column_text(stmt_, c);
    return t ? reinterpret_cast<const char*>(t) : "";
  }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK) fail("bind");
    return *this;
  }
  [[noreturn]] void fail(const char* what) const {
    const int code = sqlite3_errcode(db_);
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) throw Error(path_ + " is locked by another process");
    throw Error(path_ + ": database " + what + " failed: " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string path_;
};

const char* kSchema = R"sql(
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  config TEXT NOT NULL,
  seed INTEGER NOT NULL,
  space TEXT NOT NULL,
  strategy TEXT NOT NULL,
  evaluator TEXT NOT NULL,
  versions TEXT NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  status TEXT NOT NULL
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
  seq INTEGER NOT NULL,
  candidate_id INTEGER NOT NULL REFERENCES candidates (id),
  ok INTEGER NOT NULL,
  error TEXT NOT NULL,
  fitness REAL,
  cost REAL NOT NULL,
  seconds REAL NOT NULL,
  elapsed REAL NOT NULL,
  device TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (run_id, seq)
);
CREATE TABLE metrics (
  evaluation_id INTEGER NOT NULL REFERENCES evaluations (id),
  name TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (evaluation_id, name)
);
CREATE INDEX metrics_name ON metrics (name, value);
)sql";

int pragma_int(sqlite3* db, const char* pragma) {
  sqlite3_stmt* stmt = nullptr;
  int value = 0;
  if (sqlite3_prepare_v2(db, pragma, -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
    value = sqlite3_column_int(stmt, 0);
  sqlite3_finalize(stmt);
  return value;
}

// Everything that would make us refuse the file, checked on a read-only connection so that a
// refused file is never touched.
void inspect_read_only(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw Error(path + ": cannot open: " + message);
  }
  sqlite3_busy_timeout(db, 2000);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &stmt, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  const int tables = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : 0;
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW) {
    const int code = sqlite3_errcode(db);
    sqlite3_close(db);
    if (code == SQLITE_NOTADB) throw Error(path + " is not a database (not an SQLite file)");
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) throw Error(path + " is locked by another process");
    throw Error(path + ": cannot read: " + sqlite3_errstr(code));
  }
  const int application = pragma_int(db, "PRAGMA application_id");
  const int version = pragma_int(db, "PRAGMA user_version");
  sqlite3_close(db);
  if (application != kApplicationId && tables > 0)
    throw Error(path + " is not a nascent results database (it belongs to another program)");
  if (application == kApplicationId && version > ResultStore::kSchemaVersion)
    throw Error(path + " was written by a newer nascent (schema " + std::to_string(version) + ", this build reads up to " +
                std::to_string(ResultStore::kSchemaVersion) + ")");
}

}  // namespace

ResultStore::ResultStore(const std::string& path, Mode mode) : path_(path) {
  namespace fs = std::filesystem;
  if (fs::is_directory(path)) throw Error(path + " is a directory, not a results database");
  const bool exists = fs::exists(path);
  if (mode == Mode::ReadOnly && !exists) throw Error(path + ": no such database");
  if (exists) {
    std::ifstream probe(path);
    if (!probe) throw Error(path + ": cannot read the file");
    if (fs::file_size(path) > 0) inspect_read_only(path);
  }
  const int flags = mode == Mode::ReadOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(path + ": cannot open: " + message);
  }
  sqlite3_busy_timeout(db_, 2000);
  if (mode == Mode::ReadOnly) return;
  try {
    // Taking the write lock up front tells a locked database apart from one that is merely busy.
    exec("BEGIN IMMEDIATE");
    if (pragma_int(db_, "PRAGMA application_id") != kApplicationId) {
      exec(kSchema);
      exec("PRAGMA application_id = " + std::to_string(kApplicationId));
      exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    }
    exec("COMMIT");
    exec("PRAGMA journal_mode = WAL");
    exec("PRAGMA synchronous = NORMAL");
    exec("PRAGMA foreign_keys = ON");
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

ResultStore::~ResultStore() {
  if (db_) sqlite3_close(db_);
}

void ResultStore::exec(const std::string& sql) const {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    const int code = sqlite3_errcode(db_);
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) throw Error(path_ + " is locked by another process");
    if (code == SQLITE_READONLY) throw Error(path_ + " is read-only");
    throw Error(path_ + ": " + text);
  }
}

std::int64_t ResultStore::begin_run(const std::string& config, std::uint64_t seed, const std::string& space,
                                    const std::string& strategy, const std::string& evaluator) {
  const std::string versions = std::string("nascent ") + NASCENT_VERSION + "; libtorch " + TORCH_VERSION + "; sqlite " +
                               sqlite3_libversion();
  Statement insert(db_,
                   "INSERT INTO runs (config, seed, space, strategy, evaluator, versions, started_at, status) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, 'running')",
                   path_);
  // uint64 seeds are stored as their two's-complement bit pattern and converted back on read.
  insert.bind(1, config).bind(2, static_cast<std::int64_t>(seed)).bind(3, space).bind(4, strategy).bind(5, evaluator);
  insert.bind(6, versions).bind(7, now_utc());
  insert.step();
  return sqlite3_last_insert_rowid(db_);
}

void ResultStore::finish_run(std::int64_t run, const std::string& status) {
  Statement update(db_, "UPDATE runs SET status = ?, ended_at = ? WHERE id = ?", path_);
  update.bind(1, status).bind(2, now_utc()).bind(3, run);
  update.step();
}

void ResultStore::reopen_run(std::int64_t run) {
  Statement update(db_, "UPDATE runs SET status = 'running', ended_at = NULL WHERE id = ?", path_);
  update.bind(1, run);
  update.step();
}

void ResultStore::add_evaluation(const StoredEvaluation& e) {
  exec("BEGIN IMMEDIATE");
  try {
    {
      Statement candidate(db_, "INSERT OR IGNORE INTO candidates (space, arch, fingerprint) VALUES (?, ?, ?)", path_);
      candidate.bind(1, e.space).bind(2, e.arch).bind(3, e.fingerprint);
      candidate.step();
    }
    std::int64_t candidate_id = 0;
    {
      Statement find(db_, "SELECT id FROM candidates WHERE space = ? AND arch = ?", path_);
      find.bind(1, e.space).bind(2, e.arch);
      if (find.step()) candidate_id = find.integer(0);
    }
    Statement evaluation(db_,
                         "INSERT INTO evaluations (run_id, seq, candidate_id, ok, error, fitness, cost, seconds, "
                         "elapsed, device, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         path_);
    evaluation.bind(1, e.run).bind(2, e.seq).bind(3, candidate_id).bind(4, std::int64_t{e.result.ok ? 1 : 0});
    evaluation.bind(5, e.result.error).bind(6, e.fitness).bind(7, e.result.cost).bind(8, e.result.seconds);
    evaluation.bind(9, e.elapsed).bind(10, e.result.device).bind(11, now_utc());
    evaluation.step();
    const std::int64_t evaluation_id = sqlite3_last_insert_rowid(db_);
    Statement metric(db_, "INSERT INTO metrics (evaluation_id, name, value) VALUES (?, ?, ?)", path_);
    for (const auto& [name, value] : e.result.metrics) {
      metric.bind(1, evaluation_id).bind(2, name).bind(3, value);
      metric.step();
      metric.reset();
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
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
  return r;
}

const char* kRunColumns =
    "SELECT r.id, r.config, r.seed, r.space, r.strategy, r.evaluator, r.versions, r.started_at, r.ended_at, r.status, "
    "(SELECT count(*) FROM evaluations e WHERE e.run_id = r.id) FROM runs r ";

}  // namespace

std::vector<RunRecord> ResultStore::runs() const {
  Statement s(db_, std::string(kRunColumns) + "ORDER BY r.id", path_);
  std::vector<RunRecord> result;
  while (s.step()) result.push_back(read_run(s));
  return result;
}

std::optional<RunRecord> ResultStore::run(std::int64_t id) const {
  Statement s(db_, std::string(kRunColumns) + "WHERE r.id = ?", path_);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_run(s);
}

std::optional<RunRecord> ResultStore::latest_run() const {
  Statement s(db_, std::string(kRunColumns) + "ORDER BY r.id DESC LIMIT 1", path_);
  if (!s.step()) return std::nullopt;
  return read_run(s);
}

std::vector<StoredEvaluation> ResultStore::evaluations(std::optional<std::int64_t> run) const {
  std::string sql =
      "SELECT e.id, e.run_id, e.seq, c.space, c.arch, c.fingerprint, e.ok, e.error, e.fitness, e.cost, e.seconds, "
      "e.elapsed, e.device, e.created_at FROM evaluations e JOIN candidates c ON c.id = e.candidate_id ";
  if (run) sql += "WHERE e.run_id = ? ";
  sql += "ORDER BY e.run_id, e.seq";
  Statement s(db_, sql, path_);
  if (run) s.bind(1, *run);
  std::vector<StoredEvaluation> result;
  std::vector<std::int64_t> ids;
  while (s.step()) {
    StoredEvaluation e;
    ids.push_back(s.integer(0));
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
    result.push_back(std::move(e));
  }
  std::unordered_map<std::int64_t, std::size_t> index;
  for (std::size_t i = 0; i < ids.size(); ++i) index[ids[i]] = i;
  std::string metrics_sql =
      "SELECT m.evaluation_id, m.name, m.value FROM metrics m JOIN evaluations e ON e.id = m.evaluation_id ";
  if (run) metrics_sql += "WHERE e.run_id = ?";
  Statement m(db_, metrics_sql, path_);
  if (run) m.bind(1, *run);
  while (m.step()) {
    auto it = index.find(m.integer(0));
    if (it != index.end()) result[it->second].result.metrics[m.text(1)] = m.real(2);
  }
  return result;
}

}  // namespace nascent
