// Replays the stored fuzz corpus (tests/fuzz/corpus/TARGET/*) through the fuzz targets: every
// reader of user text rejects bad input with a nascent::Error and nothing else, and reads back
// what it prints. scripts/fuzz.sh searches for new inputs; crashes it finds are added here.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/fuzz/targets.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;

TEST(FuzzCorpusTest, EveryTargetHasACorpusAndSurvivesIt) {
  const fs::path corpus = fs::path(NASCENT_SOURCE_DIR) / "tests" / "fuzz" / "corpus";
  for (const FuzzTarget& target : fuzz_targets()) {
    std::size_t inputs = 0;
    ASSERT_TRUE(fs::is_directory(corpus / target.name)) << target.name;
    for (const auto& file : fs::directory_iterator(corpus / target.name)) {
      std::ifstream in(file.path(), std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      SCOPED_TRACE(file.path().string());
      target.run(text.str());  // a finding aborts, naming the target and the input's effect
      ++inputs;
    }
    EXPECT_GE(inputs, 2u) << target.name;
  }
}

}  // namespace
}  // namespace nascent
