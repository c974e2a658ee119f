#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "core/error.hpp"
#include "datasets/formats.hpp"
#include "datasets/tokenizer.hpp"

namespace nascent {

DelimitedRows parse_delimited(const std::string& text, char delimiter, bool quoted, const std::string& name) {
  DelimitedRows result;
  std::size_t at = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  std::size_t line = 1;
  const std::size_t end = text.size();
  const auto at_line_end = [&](std::size_t i) { return i >= end || text[i] == '\n' || (text[i] == '\r' && i + 1 < end && text[i + 1] == '\n'); };
  while (at < end) {
    if (at_line_end(at)) {  // an empty line
      at += text[at] == '\r' ? 2 : 1;
      ++line;
      continue;
    }
    std::vector<std::string> row;
    const std::size_t first_line = line;
    while (true) {
      std::string field;
      if (quoted && at < end && text[at] == '"') {
        const std::size_t opened = line;
        ++at;
        while (true) {
          if (at >= end) throw Error(name + ":" + std::to_string(opened) + ": unterminated quote");
          if (text[at] == '"') {
            if (at + 1 < end && text[at + 1] == '"') {
              field += '"';
              at += 2;
              continue;
            }
            ++at;
            break;
          }
          if (text[at] == '\n') ++line;
          field += text[at++];
        }
        if (!at_line_end(at) && text[at] != delimiter)
          throw Error(name + ":" + std::to_string(line) + ": text after a closing quote (a quote inside a field is written \"\")");
      } else {
        while (!at_line_end(at) && text[at] != delimiter) field += text[at++];
      }
      row.push_back(std::move(field));
      if (at < end && text[at] == delimiter) {
        ++at;
        continue;
      }
      break;
    }
    if (at < end) {
      at += text[at] == '\r' ? 2 : 1;
      ++line;
    }
    result.rows.push_back(std::move(row));
    result.lines.push_back(first_line);
  }
  return result;
}

namespace {

const std::string kPrefix = "text: ";

struct Example {
  std::string first, second, label;
};

struct TextFile {
  std::string path;
  std::vector<Example> examples;
  std::vector<std::size_t> lines;
};

TextFile read_text_file(const std::string& path, const TextOptions& options) {
  const DelimitedRows parsed = parse_delimited(read_file_bytes(path, kPrefix), options.delimiter, options.quoted, kPrefix + path);
  if (parsed.rows.empty()) throw Error(kPrefix + path + ": empty file (expected a header row naming the columns)");
  const std::vector<std::string>& header = parsed.rows[0];
  std::set<std::string> named;
  for (const std::string& name : header)
    if (!named.insert(name).second) throw Error(kPrefix + path + ": the header names column '" + name + "' twice");
  const auto column = [&](const std::string& name) -> std::size_t {
    const auto found = std::find(header.begin(), header.end(), name);
    if (found != header.end()) return static_cast<std::size_t>(found - header.begin());
    std::string names;
    for (const auto& h : header) names += (names.empty() ? "" : ", ") + h;
    const char* hint = header.size() == 1 ? "; is dataset.delimiter right?" : "";
    throw Error(kPrefix + path + ": no column '" + name + "' (columns: " + names + ")" + hint);
  };
  const std::size_t first = column(options.sentence_column);
  const std::size_t second = options.sentence2_column.empty() ? 0 : column(options.sentence2_column);
  const std::size_t label = column(options.label_column);
  TextFile file;
  file.path = path;
  for (std::size_t r = 1; r < parsed.rows.size(); ++r) {
    const std::vector<std::string>& row = parsed.rows[r];
    const std::string where = kPrefix + path + ":" + std::to_string(parsed.lines[r]) + ": ";
    if (row.size() != header.size())
      throw Error(where + "expected " + std::to_string(header.size()) + " fields (as the header), found " + std::to_string(row.size()));
    Example example{row[first], options.sentence2_column.empty() ? std::string() : row[second], row[label]};
    if (example.label.empty()) throw Error(where + "empty label");
    if (options.lowercase) {
      for (char& c : example.first) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      for (char& c : example.second) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    file.examples.push_back(std::move(example));
    file.lines.push_back(parsed.lines[r]);
  }
  if (file.examples.empty()) throw Error(kPrefix + path + ": no rows after the header");
  return file;
}

bool whole_number(const std::string& text) {
  return !text.empty() && text.size() < 10 && std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

DataSplits load_text(const TextOptions& options) {
  const TokenUnit unit = token_unit(options.tokens, "dataset.tokens");
  if (options.max_length < 1) throw Error("config: dataset.max_length must be at least 1");
  if (options.vocabulary < 1) throw Error("config: dataset.vocabulary must be at least 1");
  if (!(options.val_fraction >= 0 && options.val_fraction < 1)) throw Error("config: dataset.val_fraction must be in [0, 1)");
  if (options.train_subset < 0 || options.val_subset < 0 || options.test_subset < 0)
    throw Error("config: dataset.train_subset, val_subset and test_subset must not be negative (0 means all)");
  const bool pairs = !options.sentence2_column.empty();
  const TextFile train = read_text_file(options.train, options);
  std::vector<TextFile> others;
  if (!options.val.empty()) others.push_back(read_text_file(options.val, options));
  if (!options.test.empty()) others.push_back(read_text_file(options.test, options));
  const TextFile* val = options.val.empty() ? nullptr : &others[0];
  const TextFile* test = options.test.empty() ? nullptr : &others.back();

  // Labels: numbers when every file's labels are, else classes named by the strings.
  std::vector<const TextFile*> files{&train};
  for (const TextFile& f : others) files.push_back(&f);
  bool numeric = true;
  std::set<std::string> names;
  for (const TextFile* f : files)
    for (const Example& e : f->examples) {
      numeric = numeric && whole_number(e.label);
      names.insert(e.label);
    }
  std::map<std::string, std::int64_t> class_of;
  std::int64_t classes = 0;
  if (numeric) {
    for (const std::string& name : names) classes = std::max<std::int64_t>(classes, std::stoll(name) + 1);
    // Numbers are class indices: sparse ones would give the network a head of mostly empty classes
    // (a label 1000000 alone makes a million outputs).
    const auto distinct = static_cast<std::int64_t>(names.size());
    if (classes > 2 * distinct + 10)
      throw Error("text: " + options.train + ": the labels are whole numbers up to " + std::to_string(classes - 1) + " but only " +
                  std::to_string(distinct) + " distinct ones; numeric labels are class indices from 0, so renumber them (or write them as names)");
  } else {
    for (const std::string& name : names) class_of[name] = classes++;
  }

  const auto n = static_cast<std::int64_t>(train.examples.size());
  const std::int64_t val_count = val ? 0 : static_cast<std::int64_t>(options.val_fraction * static_cast<double>(n));
  if (val_count >= n) throw Error("config: dataset.val_fraction leaves no training rows of the " + std::to_string(n));
  const FixedSplit split = fixed_split(n, val_count);

  // The vocabulary comes from the rows that train, never from validation or test text.
  Tokenizer tokenizer(unit, pairs);
  for (std::int64_t i : split.train) {
    tokenizer.count(train.examples[i].first);
    if (pairs) tokenizer.count(train.examples[i].second);
  }
  tokenizer.build(options.vocabulary);

  const auto make = [&](const TextFile& file, std::vector<std::int64_t> order, std::int64_t subset) {
    if (subset > 0 && subset < static_cast<std::int64_t>(order.size())) order.resize(subset);
    const auto rows = static_cast<std::int64_t>(order.size());
    ImageSet set{torch::zeros({rows, options.max_length}, torch::kInt64), torch::empty({rows}, torch::kInt64)};
    auto tokens = set.images.accessor<std::int64_t, 2>();
    auto labels = set.labels.accessor<std::int64_t, 1>();
    for (std::int64_t row = 0; row < rows; ++row) {
      const Example& example = file.examples[order[row]];
      std::vector<std::int64_t> ids = tokenizer.encode(example.first);
      if (pairs) {
        std::vector<std::int64_t> second = tokenizer.encode(example.second);
        // BERT's pair truncation: the longer side gives up its last token until both fit.
        const auto budget = static_cast<std::size_t>(options.max_length - 1);
        while (ids.size() + second.size() > budget) (ids.size() >= second.size() ? ids : second).pop_back();
        ids.push_back(tokenizer.separator_id());
        ids.insert(ids.end(), second.begin(), second.end());
      }
      const auto length = std::min<std::int64_t>(options.max_length, static_cast<std::int64_t>(ids.size()));
      for (std::int64_t t = 0; t < length; ++t) tokens[row][t] = ids[t];
      labels[row] = numeric ? std::stoll(example.label) : class_of.at(example.label);
    }
    return set;
  };
  const auto file_order = [](const TextFile& file) {
    std::vector<std::int64_t> order(file.examples.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
    return order;
  };

  DataSplits data;
  tokenizer.describe(data);
  data.name = "text";
  data.input_shape = {options.max_length};
  data.num_classes = classes;
  if (!numeric) data.class_names.assign(names.begin(), names.end());
  data.train = make(train, split.train, options.train_subset);
  data.val = val ? make(*val, file_order(*val), options.val_subset) : make(train, split.val, options.val_subset);
  data.test = test ? make(*test, file_order(*test), options.test_subset) : make(train, {}, 0);
  return data;
}

}  // namespace nascent
