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
      : Error("cannot parse '" + excerpt(text, position) + "' at character " + std::to_string(position) + ": " + what),
        position_(position) {}
  std::size_t position() const { return position_; }

 private:
  // Long strings (grammar derivations run to kilobytes) are shown around the position only.
  static std::string excerpt(const std::string& text, std::size_t position) {
    constexpr std::size_t kContext = 60;
    if (text.size() <= 3 * kContext) return text;
    const std::size_t begin = position > kContext ? position - kContext : 0;
    return (begin > 0 ? "..." : "") + text.substr(begin, 2 * kContext) + (begin + 2 * kContext < text.size() ? "..." : "");
  }
  std::size_t position_;
};

}  // namespace nascent
