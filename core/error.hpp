#pragma once
#include <stdexcept>
#include <string>

namespace nascent {

// Every user-facing failure (bad config, malformed architecture, unreadable data or database)
// is reported as one of these; the CLI prints what() on one line and exits non-zero.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A malformed architecture string: the message says what is wrong and at which character.
class ParseError : public Error {
 public:
  ParseError(const std::string& text, std::size_t position, const std::string& what)
      : Error("cannot parse '" + text + "' at character " + std::to_string(position) + ": " + what),
        position_(position) {}
  std::size_t position() const { return position_; }

 private:
  std::size_t position_;
};

}  // namespace nascent
