#pragma once
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "evaluators/evaluator.hpp"
#include "evaluators/reported_metrics.hpp"

namespace nascent {

// Looks architectures up in a table of published results (a CSV such as NAS-Bench-201's), so a
// strategy can be benchmarked in seconds. The metric column becomes the search metric under its
// own name, `report` columns are recorded beside it and the `cost` column is what the budget is
// charged. Keys are matched exactly: the space's canonical string must be what the table holds.
//
// The whole table is read and checked once, in the constructor: a missing file or column, a
// malformed record, a cell of a used column that is not a finite number, or a duplicate key is an
// Error naming the file, line and column. An architecture not in the table is a failed
// Evaluation (ok=false), not an exception. Lookups only read, so evaluate() is thread-safe.
class TableEvaluator : public Evaluator, public ReportsMetrics {
 public:
  struct Options {
    std::string path;
    std::string key = "arch";
    std::string metric;
    std::vector<std::string> report;
    std::string cost;  // empty: every query costs 0
    std::string duplicates = "error";  // or "mean": repeated keys average their values
    // JSON tables (a file holding an array of records, e.g. BERT_benchmark.json): key, metric,
    // report and cost name members or JSON pointers ("/scores/glue"), and each record's key (any
    // JSON value) is turned into an architecture by this space's canonical().
    const SearchSpace* space = nullptr;
  };
  explicit TableEvaluator(Options options);

  std::string name() const override { return "table"; }
  Evaluation evaluate(const SearchSpace& space, const std::string& arch, std::uint64_t seed) override;
  std::size_t rows() const { return rows_.size(); }
  // The metric column and the report columns.
  std::vector<std::string> reported_metrics() const override;

 private:
  struct Row {
    std::map<std::string, double> metrics;
    double cost = 0;
    std::size_t line = 0;  // for the duplicate-key message
    std::size_t count = 1;
  };
  void add_row(const std::string& key, Row row, const std::string& where, const std::string& key_name);
  void load_json(const std::string& text);
  Options options_;
  std::unordered_map<std::string, Row> rows_;
};

// RFC 4180 records: fields separated by commas, records by LF or CRLF; a field in double quotes
// may hold commas, line breaks and doubled quotes (""). A quote inside an unquoted field is kept
// as a literal character. Blank lines are skipped. Errors (an unterminated quote, text after a
// closing quote) are Errors prefixed with `source` and the line.
class CsvReader {
 public:
  CsvReader(std::string text, std::string source);
  // The next record into `cells`; false at the end. line() is then the record's first line.
  bool next(std::vector<std::string>& cells);
  std::size_t line() const { return record_line_; }

 private:
  std::string text_, source_;
  std::size_t pos_ = 0, line_ = 1, record_line_ = 0;
};

// A CSV file read whole: its header, and a reader at the first data record. A file that cannot
// be read or has no header is an Error prefixed with `source`.
struct CsvFile {
  CsvFile(const std::string& path, std::string source);
  // The header's index of `name`; an Error naming the role and listing the columns when it is
  // absent, or when it appears twice.
  std::size_t column(const std::string& name, const char* role) const;

  std::string source;
  CsvReader reader;
  std::vector<std::string> header;

 private:
  std::string header_where_;
};

// Locale-independent and strict: the whole cell (bar surrounding blanks) must be a finite number.
std::optional<double> parse_csv_number(std::string_view text);

// Splits one CSV record; throws Error on malformed quoting.
std::vector<std::string> split_csv_line(const std::string& line);

}  // namespace nascent
