// SQLite logging rate: evaluations (each with 10 metrics) stored one transaction at a time, as the
// search loop stores them.   bench_sqlite [evaluations=5000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "results/store.hpp"

using namespace nascent;

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 5000;
  const auto dir = std::filesystem::temp_directory_path() / ("nascent-bench-sqlite-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    ResultStore store((dir / "bench.db").string(), ResultStore::Mode::ReadWrite);
    const auto run = store.begin_run("bench: true\n", 0, "nb201", "random", "table");
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      StoredEvaluation e;
      e.run = run;
      e.seq = i;
      e.space = "nb201";
      e.arch = "arch-" + std::to_string(i % 2000);  // some candidates recur across evaluations
      e.fingerprint = std::to_string(i % 1500);
      for (int m = 0; m < 10; ++m) e.result.metrics["metric" + std::to_string(m)] = i * 0.5 + m;
      e.fitness = i;
      store.add_evaluation(e);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("sqlite logging: %d evaluations (10 metrics each, one transaction each, WAL) in %.3f s = %.0f evaluations/s\n",
                n, s, n / s);
    const auto read_start = std::chrono::steady_clock::now();
    const auto all = store.evaluations(run);
    const double r = std::chrono::duration<double>(std::chrono::steady_clock::now() - read_start).count();
    std::printf("sqlite reading back: %zu evaluations in %.3f s\n", all.size(), r);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
