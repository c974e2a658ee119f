#pragma once
// The tokenizer the text datasets share (WordNet glosses, TSV/CSV text classification), so that
// every text task numbers its tokens the same way and pre-training finds the mask where it
// expects it.
//
// Tokens: single bytes (characters), or words (runs of letters, digits, ' and -) and
// punctuation marks, spaces dropped (words). The vocabulary comes from the training split only:
// by decreasing frequency, ties in byte order; words keep the `word_limit` most frequent.
// Ids: 0 padding, 1 unknown, then for words 2 = the pre-training mask, then the vocabulary
// (characters from 2, words from 3). With a pair separator, it takes the id after the vocabulary,
// so the ids of the vocabulary (and DataSplits::token_characters' "byte behind id i + 2") are the
// same as without one.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "datasets/dataset.hpp"

namespace nascent {

enum class TokenUnit { Characters, Words };

// "characters" or "words"; anything else is a one-line config Error naming `key`.
TokenUnit token_unit(const std::string& name, const std::string& key);

std::vector<std::string> split_tokens(const std::string& text, TokenUnit unit);

class Tokenizer {
 public:
  explicit Tokenizer(TokenUnit unit, bool pair_separator = false) : unit_(unit), pair_separator_(pair_separator) {}

  // Training texts, all before build().
  void count(const std::string& text);
  void build(std::int64_t word_limit);

  // The token ids of `text`, all of them (callers cut to their length); unknown pieces are 1.
  std::vector<std::int64_t> encode(const std::string& text) const;

  std::int64_t first_vocabulary_id() const { return unit_ == TokenUnit::Words ? 3 : 2; }
  // A character vocabulary holds every training character, so the unknown id never occurs in
  // training text and can double as the mask.
  std::int64_t mask_id() const { return unit_ == TokenUnit::Words ? 2 : 1; }
  std::int64_t separator_id() const;  // only with a pair separator
  std::int64_t vocabulary_size() const;

  // Sets the splits' vocabulary_size, mask_id, token_strings (a separator shows as "[SEP]") and,
  // for characters, token_characters.
  void describe(DataSplits& data) const;

 private:
  TokenUnit unit_;
  bool pair_separator_;
  std::map<std::string, std::int64_t> counts_;
  std::vector<std::string> strings_;  // by id, from first_vocabulary_id()
  std::map<std::string, std::int64_t> ids_;
};

}  // namespace nascent
