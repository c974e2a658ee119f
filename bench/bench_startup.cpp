// Start-up time per command: how long `nascent ARGS` takes from exec to exit for commands that do
// (almost) nothing else, median of N runs. The commands that need no tensors are answered by the
// front without LibTorch (cli/main.cpp); the others pay for loading it.
//   bench_startup [runs=15]
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/synthetic_results.hpp"
#include "results/store.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace {

// Milliseconds from spawn to exit, output discarded.
double run_once(const std::string& binary, const std::vector<std::string>& args) {
  std::vector<char*> argv{const_cast<char*>(binary.c_str())};
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ) != 0) {
    std::perror("posix_spawn");
    std::exit(1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  posix_spawn_file_actions_destroy(&actions);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 15;
  if (runs <= 0) {
    std::fprintf(stderr, "usage: bench_startup [runs > 0]\n");
    return 2;
  }
  const std::string nascent = (fs::read_symlink("/proc/self/exe").parent_path() / "nascent").string();
  // A small finished run for the results commands.
  const std::string db = (fs::temp_directory_path() / ("nascent-bench-startup-" + std::to_string(getpid()) + ".db")).string();
  {
    nascent::ResultStore store(db, nascent::ResultStore::Mode::ReadWrite);
    const auto run = store.begin_run("bench: true\n", 0, "nb201", "random", "table");
    for (int i = 0; i < 20; ++i) store.add_evaluation(nascent::synthetic_evaluation(run, i, 20));
    store.finish_run(run, "finished");
  }
  const std::vector<std::vector<std::string>> commands = {
      {"--version"},
      {"--help"},
      {"help", "search"},
      {"spaces"},
      {"options", "strategy", "evolution"},
      {"options", "all", "--format", "markdown"},
      {"results", "runs", "--db", db},
      {"results", "top", "--db", db, "-k", "5"},
      {"sample", "nb201"},
      {"describe", "nb201", "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|skip_connect~2|"},
  };
  std::printf("%-40s %10s %10s\n", "command", "median ms", "min ms");
  for (const auto& args : commands) {
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) times.push_back(run_once(nascent, args));
    std::sort(times.begin(), times.end());
    std::string shown = "nascent";
    for (const auto& arg : args) shown += " " + (arg == db ? std::string("DB") : arg.substr(0, 12));
    std::printf("%-40s %10.1f %10.1f\n", shown.substr(0, 40).c_str(), times[times.size() / 2], times.front());
  }
  fs::remove(db);
  return 0;
}
