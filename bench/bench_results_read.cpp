// Reading results at scale, as a user does it: `nascent results runs`, `top` and `export` on a
// database of N evaluations with 8 metrics each, while another process-like writer keeps adding
// evaluations to a second run (as a search would). Prints seconds and evaluations read per second.
//   bench_results_read [evaluations=200000] [keep=FILE]   (keep: write the database there and keep it)
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench/synthetic_results.hpp"
#include "results/store.hpp"

using namespace nascent;
namespace fs = std::filesystem;

namespace {

// Every NB201 cell appears, as in a long search on the NB201 table.
StoredEvaluation evaluation(std::int64_t run, std::int64_t seq) { return synthetic_evaluation(run, seq, 15625); }

double seconds_of(const std::string& command) {
  const auto start = std::chrono::steady_clock::now();
  const int status = std::system(command.c_str());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (status != 0) {
    std::fprintf(stderr, "bench_results_read: '%s' failed\n", command.c_str());
    std::exit(1);
  }
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 200000;
  if (n <= 0) {
    std::fprintf(stderr, "usage: bench_results_read [evaluations > 0]\n");
    return 2;
  }
  const fs::path nascent = fs::read_symlink("/proc/self/exe").parent_path() / "nascent";
  std::string pattern = (fs::temp_directory_path() / "nascent-bench-read-XXXXXX").string();
  if (!mkdtemp(pattern.data())) {
    std::perror("mkdtemp");
    return 1;
  }
  const fs::path dir = pattern;
  const std::string db = argc > 2 ? std::string(argv[2]) : (dir / "bench.db").string();
  if (argc > 2) fs::remove(db);
  std::int64_t writer_run = 0;
  {
    ResultStore store(db, ResultStore::Mode::ReadWrite);
    const auto run = store.begin_run("bench: true\n", 0, "nb201", "random", "table");
    std::vector<StoredEvaluation> batch;
    for (long i = 0; i < n; ++i) {
      batch.push_back(evaluation(run, i));
      if (batch.size() == 5000 || i + 1 == n) store.add_evaluations(batch), batch.clear();
    }
    store.finish_run(run, "finished");
    writer_run = store.begin_run("bench: writer\n", 1, "nb201", "random", "table");
  }
  std::printf("database: %ld evaluations of one run, %.1f MB\n", n, fs::file_size(db) / 1e6);

  const std::string base = nascent.string() + " results ";
  const std::string quiet = " > /dev/null";
  const struct {
    const char* name;
    std::string command;
  } reads[] = {
      {"runs", base + "runs --db " + db + quiet},
      {"top (k 10)", base + "top --db " + db + " --run 1 -k 10" + quiet},
      {"export csv", base + "export --db " + db + " --run 1 --format csv" + quiet},
      {"export json", base + "export --db " + db + " --run 1 --format json" + quiet},
  };
  std::vector<double> idle;
  for (const auto& read : reads) idle.push_back(seconds_of(read.command));

  // Then with a writer storing evaluations as fast as it can, one transaction each (far more
  // than a search stores), on the other core of a 2-core machine.
  std::atomic<bool> stop{false};
  std::atomic<long> written{0};
  std::thread writer([&] {
    ResultStore store(db, ResultStore::Mode::ReadWrite);
    for (long seq = 0; !stop; ++seq) {
      store.add_evaluation(evaluation(writer_run, seq));
      ++written;
    }
  });
  std::printf("%-20s %18s %22s\n", "", "alone", "while a writer writes");
  for (std::size_t i = 0; i < std::size(reads); ++i) {
    const double seconds = seconds_of(reads[i].command);
    std::printf("results %-12s %6.3f s %9.0f/s %8.3f s %9.0f/s\n", reads[i].name, idle[i], n / idle[i], seconds, n / seconds);
  }
  stop = true;
  writer.join();
  std::printf("evaluations read per second; the writer stored %ld evaluations meanwhile\n", written.load());
  fs::remove_all(dir);
  return 0;
}
