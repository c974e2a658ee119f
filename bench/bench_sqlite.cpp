// SQLite logging rate: how many evaluations per second ResultStore::add_evaluation stores, one
// transaction each (as the search loop stores them), each with 8 metrics, into a fresh database.
//   bench_sqlite [evaluations=5000]
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bench/synthetic_results.hpp"
#include "results/store.hpp"

using namespace nascent;

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 5000;
  if (n <= 0) {
    std::fprintf(stderr, "usage: bench_sqlite [evaluations > 0]\n");
    return 2;
  }
  std::string pattern = (std::filesystem::temp_directory_path() / "nascent-bench-sqlite-XXXXXX").string();
  if (!mkdtemp(pattern.data())) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::filesystem::path dir = pattern;
  double store_seconds = 0, read_seconds = 0;
  std::size_t read_back = 0;
  try {
    ResultStore store((dir / "bench.db").string(), ResultStore::Mode::ReadWrite);
    const auto run = store.begin_run("bench: true\n", 0, "nb201", "random", "table");
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      // Some candidates recur, as they do in a search, so both candidate paths are exercised.
      const StoredEvaluation e = synthetic_evaluation(run, i, 4000);
      store.add_evaluation(e);
    }
    store_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto read_start = std::chrono::steady_clock::now();
    read_back = store.evaluations(run).size();
    read_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - read_start).count();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_sqlite: %s\n", error.what());
    std::filesystem::remove_all(dir);
    return 1;
  }
  const auto size = std::filesystem::file_size(dir / "bench.db");
  std::filesystem::remove_all(dir);
  std::printf("sqlite logging: %d evaluations in %.3f s = %.0f evaluations/s "
              "(8 metrics each, one transaction each, WAL, synchronous=NORMAL)\n",
              n, store_seconds, n / store_seconds);
  std::printf("sqlite reading back: %zu evaluations in %.3f s = %.0f evaluations/s; database %.1f MB\n", read_back,
              read_seconds, read_back / read_seconds, size / 1e6);
  return read_back == static_cast<std::size_t>(n) ? 0 : 1;
}
