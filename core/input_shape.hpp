#pragma once
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace nascent {

// `--input 3x32x32` -> {3, 32, 32}; anything else is a one-line Error that starts with `what`.
inline std::vector<std::int64_t> parse_input_shape(const std::string& text, const std::string& what = "--input") {
  const std::string message = what + ": expected dimensions like 3x32x32, got '" + text + "'";
  std::vector<std::int64_t> shape;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, 'x');) {
    try {
      std::size_t used = 0;
      shape.push_back(std::stoll(part, &used));
      if (used != part.size() || shape.back() < 1) throw std::invalid_argument(part);
    } catch (const std::exception&) {
      throw Error(message);
    }
  }
  if (shape.empty() || text.back() == 'x') throw Error(message);
  return shape;
}

// {3, 32, 32} -> "3x32x32", the form parse_input_shape reads.
inline std::string format_shape(const std::vector<std::int64_t>& shape) {
  std::string text;
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? "x" : "") + std::to_string(shape[i]);
  return text;
}

}  // namespace nascent
