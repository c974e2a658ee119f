#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <map>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "datasets/dataset.hpp"
#include "datasets/tokenizer.hpp"

namespace nascent {

namespace {

// WordNet 3.0's lexicographer files, by the two-digit number data lines carry (lexnames(5WN)).
const std::array<const char*, 45> kLexicographerFiles{
    "adj.all",          "adj.pert",         "adv.all",           "noun.Tops",         "noun.act",
    "noun.animal",      "noun.artifact",    "noun.attribute",    "noun.body",         "noun.cognition",
    "noun.communication", "noun.event",     "noun.feeling",      "noun.food",         "noun.group",
    "noun.location",    "noun.motive",      "noun.object",       "noun.person",       "noun.phenomenon",
    "noun.plant",       "noun.possession",  "noun.process",      "noun.quantity",     "noun.relation",
    "noun.shape",       "noun.state",       "noun.substance",    "noun.time",         "verb.body",
    "verb.change",      "verb.cognition",   "verb.communication", "verb.competition", "verb.consumption",
    "verb.contact",     "verb.creation",    "verb.emotion",      "verb.motion",       "verb.perception",
    "verb.possession",  "verb.social",      "verb.stative",      "verb.weather",      "adj.ppl"};

struct Synset {
  int lexicographer_file = 0;
  int part_of_speech = 0;  // 0 noun, 1 verb, 2 adjective (a or s), 3 adverb
  std::string gloss;
};

// One data.* file: "offset lex_filenum ss_type w_cnt word lex_id ... | gloss"; lines starting with
// two spaces are the licence header.
void read_data_file(const std::string& path, std::vector<Synset>& out) {
  std::ifstream file(path);
  if (!file) throw Error("wordnet: " + path + ": cannot open (install Debian's wordnet-base, or set dataset.path)");
  std::string line;
  std::size_t number = 0, read = 0;
  while (std::getline(file, line)) {
    ++number;
    if (line.rfind("  ", 0) == 0 || line.empty()) continue;
    auto fail = [&](const std::string& what) -> Error {
      return Error("wordnet: " + path + ":" + std::to_string(number) + ": " + what);
    };
    const std::size_t bar = line.find(" | ");
    std::size_t first = line.find(' ');
    std::size_t second = first == std::string::npos ? first : line.find(' ', first + 1);
    std::size_t third = second == std::string::npos ? second : line.find(' ', second + 1);
    if (bar == std::string::npos || third == std::string::npos || third > bar)
      throw fail("expected 'offset lex_filenum ss_type ... | gloss'");
    Synset synset;
    const std::string lex = line.substr(first + 1, second - first - 1);
    if (lex.size() != 2 || !std::isdigit(static_cast<unsigned char>(lex[0])) || !std::isdigit(static_cast<unsigned char>(lex[1])) ||
        std::stoi(lex) >= static_cast<int>(kLexicographerFiles.size()))
      throw fail("bad lexicographer file number '" + lex + "'");
    synset.lexicographer_file = std::stoi(lex);
    const std::string type = line.substr(second + 1, third - second - 1);
    if (type == "n") synset.part_of_speech = 0;
    else if (type == "v") synset.part_of_speech = 1;
    else if (type == "a" || type == "s") synset.part_of_speech = 2;
    else if (type == "r") synset.part_of_speech = 3;
    else throw fail("bad synset type '" + type + "'");
    synset.gloss = line.substr(bar + 3);
    while (!synset.gloss.empty() && std::isspace(static_cast<unsigned char>(synset.gloss.back()))) synset.gloss.pop_back();
    for (char& c : synset.gloss) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.push_back(std::move(synset));
    ++read;
  }
  if (read == 0) throw Error("wordnet: " + path + ": no synsets in the file");
}

}  // namespace

DataSplits load_wordnet(const WordNetOptions& options) {
  if (options.task != "lexname" && options.task != "pos")
    throw Error("config: dataset.task: expected lexname or pos, got '" + options.task + "'");
  if (options.max_length < 1) throw Error("config: dataset.max_length: must be at least 1");
  token_unit(options.tokens, "dataset.tokens");  // checked before reading the files
  if (options.vocabulary < 1) throw Error("config: dataset.vocabulary: must be at least 1");
  if (!(options.val_fraction > 0 && options.test_fraction > 0 && options.val_fraction + options.test_fraction < 1))
    throw Error("config: dataset.val_fraction and dataset.test_fraction: must be positive and sum to less than 1");
  std::vector<Synset> synsets;
  for (const char* part : {"noun", "verb", "adj", "adv"}) read_data_file(options.folder + "/data." + part, synsets);

  // The split never depends on a run's seed: every run and candidate sees the same one.
  Rng rng(0);
  const auto n = static_cast<std::int64_t>(synsets.size());
  const std::vector<std::int64_t> order = shuffled_indices(n, rng);
  const auto test_size = static_cast<std::int64_t>(options.test_fraction * n);
  const auto val_size = static_cast<std::int64_t>(options.val_fraction * n);

  DataSplits data;
  const TokenUnit unit = token_unit(options.tokens, "dataset.tokens");
  Tokenizer tokenizer(unit);
  for (std::int64_t i = test_size + val_size; i < n; ++i) tokenizer.count(synsets[order[i]].gloss);
  tokenizer.build(options.vocabulary);
  tokenizer.describe(data);

  auto make = [&](std::int64_t begin, std::int64_t end, std::int64_t subset) {
    if (subset > 0) end = std::min(end, begin + subset);
    ImageSet set;
    set.images = torch::zeros({end - begin, options.max_length}, torch::kInt64);
    set.labels = torch::empty({end - begin}, torch::kInt64);
    auto tokens = set.images.accessor<std::int64_t, 2>();
    auto labels = set.labels.accessor<std::int64_t, 1>();
    for (std::int64_t row = 0; row < end - begin; ++row) {
      const Synset& synset = synsets[order[begin + row]];
      const std::vector<std::int64_t> ids = tokenizer.encode(synset.gloss);
      const auto length = std::min<std::int64_t>(options.max_length, static_cast<std::int64_t>(ids.size()));
      for (std::int64_t t = 0; t < length; ++t) tokens[row][t] = ids[t];
      labels[row] = options.task == "lexname" ? synset.lexicographer_file : synset.part_of_speech;
    }
    return set;
  };
  data.test = make(0, test_size, options.test_subset);
  data.val = make(test_size, test_size + val_size, options.val_subset);
  data.train = make(test_size + val_size, n, options.train_subset);
  data.input_shape = {options.max_length};
  if (options.task == "lexname") {
    data.class_names.assign(kLexicographerFiles.begin(), kLexicographerFiles.end());
  } else {
    data.class_names = {"noun", "verb", "adjective", "adverb"};
  }
  data.num_classes = static_cast<std::int64_t>(data.class_names.size());
  data.name = "wordnet-" + options.task;
  return data;
}

std::string decode_wordnet_tokens(const DataSplits& data, const torch::Tensor& tokens) {
  std::string text;
  const torch::Tensor flat = tokens.to(torch::kInt64).flatten().contiguous();
  const std::int64_t* ids = flat.data_ptr<std::int64_t>();
  const bool words = data.mask_id == 2;
  const std::int64_t first_id = words ? 3 : 2;
  for (std::int64_t i = 0; i < flat.numel(); ++i) {
    if (ids[i] == 0) continue;
    const auto index = static_cast<std::size_t>(ids[i] - first_id);
    const std::string piece = ids[i] < first_id || index >= data.token_strings.size() ? "?" : data.token_strings[index];
    if (words && !text.empty()) text += ' ';
    text += piece;
  }
  return text;
}

}  // namespace nascent
