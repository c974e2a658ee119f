#pragma once
#include <algorithm>
#include <cctype>
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

// Whether an error message reports exhausted memory rather than a fault of the architecture:
// LibTorch's "CUDA out of memory", the CPU allocator's "not enough memory" or "can't allocate
// memory", std::bad_alloc. The
// store's schema-5 upgrade classifies older failures with the same fragments (kOutOfMemoryFragments).
inline constexpr const char* kOutOfMemoryFragments[] = {"out of memory", "not enough memory", "can't allocate memory", "cannot allocate memory",
                                                     "bad_alloc"};
inline bool reads_as_out_of_memory(std::string message) {
  std::transform(message.begin(), message.end(), message.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::any_of(std::begin(kOutOfMemoryFragments), std::end(kOutOfMemoryFragments),
                     [&](const char* fragment) { return message.find(fragment) != std::string::npos; });
}

}  // namespace nascent
