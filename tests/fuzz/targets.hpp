#pragma once
// Fuzz targets: each feeds one input to a reader of user text. A nascent::Error is the expected
// answer to bad input; any other exception, a crash or a sanitizer report is a finding. The same
// functions run under libFuzzer (tests/fuzz/fuzz_main.cpp, scripts/fuzz.sh) and, over the stored
// corpus, in the normal test suite (tests/test_fuzz_corpus.cpp).
#include <string>
#include <vector>

namespace nascent {

struct FuzzTarget {
  const char* name;
  void (*run)(const std::string& input);
};

// nb201, darts, einspace, flexibert, ofa, vit_resnas: the space's architecture-string parser
// (canonical); config: YAML read against every component's declared options; csv_table and
// json_table: the table evaluator's readers.
const std::vector<FuzzTarget>& fuzz_targets();

}  // namespace nascent
