// `cmake --install` gives a usable package: a program built against it with find_package(nascent)
// registers its own space and runs a search from code; the installed binary runs.
#include <gtest/gtest.h>

#include <filesystem>

#include "results/store.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;

using InstallTest = ScratchDirTest;

TEST_F(InstallTest, AProgramBuiltAgainstTheInstalledPackageRunsASearch) {
  const std::string build_dir = fs::path(NASCENT_BINARY).parent_path().string();
  const std::string prefix = path("prefix");
  const CliOutput install = shell("cmake --install " + build_dir + " --prefix " + prefix);
  ASSERT_EQ(install.status, 0) << install.out;
  for (const char* file : {"bin/nascent", "lib/libnascent.so", "lib/libnascent_core.so",
                           "libexec/nascent/nascent-engine", "libexec/nascent/nascent-catalogue.json",
                           "include/nascent/core/registry.hpp",
                           "include/nascent/runner/search.hpp", "lib/cmake/nascent/nascentConfig.cmake",
                           "lib/cmake/nascent/nascentTargets.cmake"})
    EXPECT_TRUE(fs::exists(prefix + "/" + file)) << file;
  const CliOutput version = shell(prefix + "/bin/nascent --version");
  EXPECT_EQ(version.status, 0) << version.out;
  // The installed front finds its catalogue and its engine under libexec.
  const CliOutput spaces = shell(prefix + "/bin/nascent spaces");
  EXPECT_EQ(spaces.status, 0) << spaces.out;
  EXPECT_NE(spaces.out.find("nb201"), std::string::npos) << spaces.out;
  const CliOutput sample = shell(prefix + "/bin/nascent sample nb201 --seed 1");
  EXPECT_EQ(sample.status, 0) << sample.out;
  EXPECT_EQ(sample.out, run_cli("sample nb201 --seed 1").out);

  const std::string embed = path("embed");
  const CliOutput configure = shell("cmake -S " + std::string(NASCENT_SOURCE_DIR) + "/examples/embed -B " + embed +
                                    " -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=" + prefix);
  ASSERT_EQ(configure.status, 0) << configure.out;
  const CliOutput build = shell("cmake --build " + embed);
  ASSERT_EQ(build.status, 0) << build.out;
  const CliOutput run = shell(embed + "/embed_search " + path("embed.db"));
  ASSERT_EQ(run.status, 0) << run.out;
  EXPECT_NE(run.out.find("finished: 6 evaluations"), std::string::npos) << run.out;
  ResultStore store(path("embed.db"), ResultStore::Mode::ReadOnly);
  EXPECT_EQ(store.latest_run()->space, "activations");
  EXPECT_EQ(store.evaluations().size(), 6u);
}

}  // namespace
}  // namespace nascent
