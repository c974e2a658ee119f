// libFuzzer entry: one executable per target, chosen by NASCENT_FUZZ_TARGET (scripts/fuzz.sh).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tests/fuzz/targets.hpp"

namespace {

const nascent::FuzzTarget& target() {
  static const nascent::FuzzTarget* chosen = [] {
    for (const auto& t : nascent::fuzz_targets())
      if (std::strcmp(t.name, NASCENT_FUZZ_TARGET) == 0) return &t;
    std::fprintf(stderr, "no fuzz target named %s\n", NASCENT_FUZZ_TARGET);
    std::abort();
  }();
  return *chosen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  target().run(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
