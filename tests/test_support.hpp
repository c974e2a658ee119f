#pragma once
// Helpers shared by the test files: a private scratch folder per test, capturing a nascent::Error
// message, and running the nascent binary.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <thread>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "core/config.hpp"
#include "core/error.hpp"
#include "runner/search.hpp"

namespace nascent {

// A test fixture with a fresh, private temporary folder, removed afterwards. Named after the
// process and test so that CTest's parallel runs never share one.
class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("nascent-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes `content` byte for byte to `name` inside the scratch folder; returns its path.
  std::string write(const std::string& name, const std::string& content) {
    std::filesystem::create_directories((dir_ / name).parent_path());
    std::ofstream(path(name), std::ios::binary) << content;
    return path(name);
  }

  // A quiet search of `yaml` into `db` inside the scratch folder (relative paths: the folder).
  SearchOptions search_options(const std::string& yaml, const std::string& db = "run.db") const {
    SearchOptions o;
    o.config = Config::parse(yaml);
    o.config_dir = dir_.string();
    o.db_path = path(db);
    o.quiet = true;
    return o;
  }

  std::filesystem::path dir_;
};

// The whole of a file, byte for byte ("" when it cannot be read).
inline std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The message of the nascent::Error that `f` throws, or "accepted" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "accepted";
}

// Expects `statement` to throw a one-line nascent::Error containing `fragment`.
#define EXPECT_ERROR(statement, fragment)                                        \
  do {                                                                           \
    const std::string message_ = ::nascent::error_of([&] { statement; });        \
    EXPECT_NE(message_.find(fragment), std::string::npos) << message_;           \
    EXPECT_EQ(message_.find('\n'), std::string::npos) << message_;               \
  } while (0)

struct CliOutput {
  int status;
  std::string out;  // stdout and stderr together
};

// Runs a shell command line; stdout and stderr together.
inline CliOutput shell(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  std::string out;
  std::array<char, 4096> buffer;
  while (std::size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Runs the nascent binary built with the tests; `arguments` go through the shell.
inline CliOutput run_cli(const std::string& arguments) { return shell(std::string(NASCENT_BINARY) + " " + arguments); }

// The evaluations `db` holds, counted straight from SQLite: starting nascent to ask would take
// longer than an evaluation.
inline int stored_evaluations(const std::string& db) {
  sqlite3* handle = nullptr;
  int count = 0;
  if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(handle, "SELECT count(*) FROM evaluations", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
      count = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
  }
  sqlite3_close(handle);
  return count;
}

// Starts `nascent search ARGS` in the background (its output into `out`) and returns its pid once
// `db` holds `evaluations` evaluations (or after 20 s), so that a test can interrupt a run that is
// surely under way.
inline int start_search_after(const std::string& args, const std::string& db, const std::string& out, int evaluations) {
  const std::string command = std::string(NASCENT_BINARY) + " search " + args + " > " + out + " 2>&1 & echo $!";
  FILE* pipe = popen(command.c_str(), "r");
  int pid = 0;
  if (fscanf(pipe, "%d", &pid) != 1) pid = 0;
  pclose(pipe);
  for (int i = 0; i < 2000 && stored_evaluations(db) < evaluations; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return pid;
}

}  // namespace nascent
