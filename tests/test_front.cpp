// `nascent` is a front without LibTorch that answers the describing commands from the catalogue the
// engine wrote and hands everything else to the engine: users see one program either way.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/test_support.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kDescribingCommands = {
    "--help", "-h", "help", "help search", "search --help", "results --help", "help options", "spaces",
    "options space", "options space nb201", "options strategy darts", "options evaluator train --format markdown",
    "options all --format markdown", "options dataset --format=markdown", "help nosuchcommand",
    "options space nosuchspace", "options nokind"};

TEST(FrontTest, AnswersEveryDescribingCommandExactlyAsTheEngine) {
  for (const std::string& command : kDescribingCommands) {
    const CliOutput front = run_cli(command);
    const CliOutput direct = shell((fs::path(NASCENT_BINARY).parent_path() / "nascent-engine").string() + " " + command);
    EXPECT_EQ(front.status, direct.status) << command;
    EXPECT_EQ(front.out, direct.out) << command;
  }
}

TEST(FrontTest, HelpListsEveryCommandAndUsageNamesTheProgram) {
  for (const char* command : {"help", "--help"}) {
    const CliOutput help = run_cli(command);
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("Usage: nascent [OPTIONS]"), std::string::npos) << help.out;
    for (const char* listed : {"search", "results", "options", "train", "export"})
      EXPECT_NE(help.out.find(listed), std::string::npos) << listed;
  }
  EXPECT_NE(run_cli("help search").out.find("Usage: nascent search [OPTIONS] config"), std::string::npos);
  EXPECT_EQ(run_cli("help search").out, run_cli("search --help").out);
}

class FrontRoutingTest : public ScratchDirTest {
 protected:
  // The front and its catalogue beside a stand-in engine that reports how it was called.
  void SetUp() override {
    ScratchDirTest::SetUp();
    const fs::path build = fs::path(NASCENT_BINARY).parent_path();
    fs::create_directories(path("bin"));
    fs::copy_file(NASCENT_BINARY, path("bin/nascent"));
    fs::copy_file(build / "nascent-catalogue.json", path("bin/nascent-catalogue.json"));
    std::ofstream(path("bin/nascent-engine")) << "#!/bin/sh\necho \"engine pid $$: $*\"\nexit 7\n";
    fs::permissions(path("bin/nascent-engine"), fs::perms::owner_all);
  }
  CliOutput front(const std::string& arguments) { return shell(path("bin/nascent") + " " + arguments); }
};

TEST_F(FrontRoutingTest, DescribingCommandsAndResultsNeverStartTheEngine) {
  for (const std::string& command : std::vector<std::string>{"--version", "--help", "help train", "spaces", "options space nb201",
                                     "options all --format markdown", "results runs --db " + path("missing.db")}) {
    const CliOutput out = front(command);
    EXPECT_EQ(out.out.find("engine pid"), std::string::npos) << command << ": " << out.out;
  }
  EXPECT_NE(front("spaces").out.find("nb201"), std::string::npos);
  const CliOutput results = front("results runs --db " + path("missing.db"));
  EXPECT_EQ(results.status, 1);
  EXPECT_NE(results.out.find("nascent: "), std::string::npos) << results.out;
}

TEST_F(FrontRoutingTest, EverythingElseBecomesTheEngineWithTheSameArgumentsAndProcess) {
  const CliOutput search = front("search 'my config.yaml' --seed 3");
  EXPECT_EQ(search.status, 7);
  EXPECT_NE(search.out.find(": search my config.yaml --seed 3"), std::string::npos) << search.out;
  // Plugins may add components and commands' answers: only the engine can load them.
  EXPECT_NE(front("--plugin x.so spaces").out.find("engine pid"), std::string::npos);
  EXPECT_NE(front("options space nb201 --verbose").out.find("engine pid"), std::string::npos);
  // The same process: `exec`, not a child, so Ctrl-C and `kill PID` reach the engine.
  const CliOutput pid = shell("sh -c 'echo shell $$; exec " + path("bin/nascent") + " sample nb201'");
  const std::string shell_pid = pid.out.substr(6, pid.out.find('\n') - 6);
  EXPECT_NE(pid.out.find("engine pid " + shell_pid + ":"), std::string::npos) << pid.out;
}

TEST_F(FrontRoutingTest, ACatalogueFromAnotherVersionOrDamagedIsIgnored) {
  std::ofstream(path("bin/nascent-catalogue.json")) << R"({"version": "0.0.0-other", "commands": ["spaces"],
    "answers": {"spaces": "stale\n"}})";
  EXPECT_NE(front("spaces").out.find("engine pid"), std::string::npos);
  std::ofstream(path("bin/nascent-catalogue.json")) << "{not json";
  EXPECT_NE(front("spaces").out.find("engine pid"), std::string::npos);
}

TEST_F(FrontRoutingTest, AMissingEngineIsOneLine) {
  fs::remove(path("bin/nascent-engine"));
  const CliOutput out = front("search x.yaml");
  EXPECT_EQ(out.status, 1);
  EXPECT_NE(out.out.find("nascent: the engine (nascent-engine) is missing"), std::string::npos) << out.out;
  EXPECT_EQ(std::count(out.out.begin(), out.out.end(), '\n'), 1) << out.out;
}

}  // namespace
}  // namespace nascent
