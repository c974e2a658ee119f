#include "datasets/tokenizer.hpp"

#include <algorithm>
#include <cctype>

#include "core/error.hpp"

namespace nascent {

TokenUnit token_unit(const std::string& name, const std::string& key) {
  if (name == "characters") return TokenUnit::Characters;
  if (name == "words") return TokenUnit::Words;
  throw Error("config: " + key + ": expected characters or words, got '" + name + "'");
}

std::vector<std::string> split_tokens(const std::string& text, TokenUnit unit) {
  std::vector<std::string> pieces;
  if (unit == TokenUnit::Characters) {
    for (char c : text) pieces.emplace_back(1, c);
    return pieces;
  }
  std::string word;
  for (char c : text) {
    const bool word_char = std::isalnum(static_cast<unsigned char>(c)) || c == '\'' || c == '-';
    if (word_char) {
      word += c;
      continue;
    }
    if (!word.empty()) pieces.push_back(std::move(word)), word.clear();
    if (c != ' ') pieces.emplace_back(1, c);
  }
  if (!word.empty()) pieces.push_back(word);
  return pieces;
}

void Tokenizer::count(const std::string& text) {
  for (const auto& piece : split_tokens(text, unit_)) ++counts_[piece];
}

void Tokenizer::build(std::int64_t word_limit) {
  std::vector<std::pair<std::string, std::int64_t>> ranked(counts_.begin(), counts_.end());
  // Stable over the map's byte order, so equal counts stay in byte order.
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (unit_ == TokenUnit::Words && static_cast<std::int64_t>(ranked.size()) > word_limit) ranked.resize(word_limit);
  strings_.clear();
  ids_.clear();
  for (std::size_t i = 0; i < ranked.size(); ++i) {
    ids_[ranked[i].first] = static_cast<std::int64_t>(i) + first_vocabulary_id();
    strings_.push_back(ranked[i].first);
  }
  counts_.clear();
}

std::vector<std::int64_t> Tokenizer::encode(const std::string& text) const {
  std::vector<std::int64_t> ids;
  for (const auto& piece : split_tokens(text, unit_)) {
    const auto found = ids_.find(piece);
    ids.push_back(found == ids_.end() ? 1 : found->second);
  }
  return ids;
}

std::int64_t Tokenizer::separator_id() const {
  return first_vocabulary_id() + static_cast<std::int64_t>(strings_.size());
}

std::int64_t Tokenizer::vocabulary_size() const {
  return first_vocabulary_id() + static_cast<std::int64_t>(strings_.size()) + (pair_separator_ ? 1 : 0);
}

void Tokenizer::describe(DataSplits& data) const {
  data.mask_id = mask_id();
  data.vocabulary_size = vocabulary_size();
  data.token_strings = strings_;
  data.token_characters.clear();
  if (unit_ == TokenUnit::Characters)
    for (const auto& piece : strings_) data.token_characters += piece;
  if (pair_separator_) data.token_strings.push_back("[SEP]");
}

}  // namespace nascent
