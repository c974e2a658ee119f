#pragma once
// The rows every rendering of a declared option table shares (the aligned text of
// `nascent options`, its markdown): nested sections flattened to dotted names.
#include <string>
#include <vector>

#include "core/options.hpp"

namespace nascent {

struct OptionRow {
  std::string name, type, fallback, range, doc;  // fallback: "(required)", the default, or empty
};

std::vector<OptionRow> option_rows(const OptionTable& table);

// A markdown table of `table`'s options ("(no options)" when it has none).
std::string options_markdown(const OptionTable& table);

}  // namespace nascent
