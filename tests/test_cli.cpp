#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "search_spaces/nb201/nb201.hpp"

namespace {

namespace fs = std::filesystem;

struct Result {
  int status;
  std::string out;  // stdout and stderr together
};

Result run(const std::string& arguments) {
  const std::string command = std::string(NASCENT_BINARY) + " " + arguments + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  std::array<char, 4096> buffer;
  while (std::size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> result;
  std::stringstream stream(text);
  for (std::string line; std::getline(stream, line);) result.push_back(line);
  return result;
}

TEST(Cli, SpacesListsBuiltinsAndPlugins) {
  EXPECT_NE(run("spaces").out.find("nb201"), std::string::npos);
  const Result with_plugin = run(std::string("--plugin ") + NASCENT_EXAMPLE_PLUGIN + " spaces");
  EXPECT_EQ(with_plugin.status, 0) << with_plugin.out;
  EXPECT_NE(with_plugin.out.find("chain"), std::string::npos);
}

TEST(Cli, SamplePrintsValidReproducibleArchitectures) {
  const Result a = run("sample nb201 -n 5 --seed 4");
  ASSERT_EQ(a.status, 0) << a.out;
  const auto archs = lines(a.out);
  ASSERT_EQ(archs.size(), 5u);
  nascent::Nb201Space space;
  for (const auto& arch : archs) EXPECT_EQ(space.canonical(arch), arch);
  EXPECT_EQ(run("sample nb201 -n 5 --seed 4").out, a.out);
  EXPECT_NE(run("sample nb201 -n 5 --seed 5").out, a.out);
}

TEST(Cli, DescribeReportsPublishedFigures) {
  const Result r = run("describe nb201 '|avg_pool_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_1x1~2|'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("params       129306"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("flops        19248832"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nor_conv_1x1"), std::string::npos);
}

TEST(Cli, BadInputIsOneLineError) {
  for (const std::string& args :
       {std::string("describe nb201 '|nor_conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|'"),
        std::string("sample nope"), std::string("search /nonexistent.yaml"),
        std::string("describe nb201 '|none~0|' --input 3xfoo")}) {
    const Result r = run(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.out;
    EXPECT_EQ(lines(r.out).size(), 1u) << r.out;
    EXPECT_EQ(r.out.rfind("nascent: ", 0), 0u) << r.out;
  }
}

}  // namespace
