// Reading results at scale, as a user does it: `nascent results runs`, `top` and `export` on a
// database of N evaluations with 8 metrics each, while another process-like writer keeps adding
// evaluations to a second run (as a search would). Prints seconds and evaluations read per second.
//   bench_results_read [evaluations=200000]
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "results/store.hpp"

using namespace nascent;
namespace fs = std::filesystem;

namespace {

StoredEvaluation evaluation(std::int64_t run, std::int64_t seq) {
  static const char* names[] = {"val_acc", "test_acc", "train_acc", "loss", "params", "flops", "latency_ms", "train_seconds"};
  StoredEvaluation e;
  e.run = run;
  e.seq = seq;
  e.space = "nb201";
  e.arch = "|nor_conv_3x3~0|+|skip_connect~0|arch-" + std::to_string(seq % 15625) + "~1|";
  e.fingerprint = std::to_string(1000000007ULL * static_cast<unsigned long long>(seq % 15625));
  for (int m = 0; m < 8; ++m) e.result.metrics[names[m]] = (seq * 7919 % 10007) * 0.01 + m;
  e.result.cost = 12.0;
  e.result.seconds = 0.001;
  e.fitness = e.result.metrics["val_acc"];
  e.elapsed = seq * 0.001;
  return e;
}

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
  const std::string db = (dir / "bench.db").string();
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

  // A search writing meanwhile, one transaction per evaluation as the search loop stores them.
  std::atomic<bool> stop{false};
  std::atomic<long> written{0};
  std::thread writer([&] {
    ResultStore store(db, ResultStore::Mode::ReadWrite);
    for (long seq = 0; !stop; ++seq) {
      store.add_evaluation(evaluation(writer_run, seq));
      ++written;
    }
  });
  const std::string base = nascent.string() + " results ";
  const std::string quiet = " > /dev/null";
  const struct {
    const char* name;
    std::string command;
  } reads[] = {
      {"runs", base + "runs --db " + db + quiet},
      {"top (k 10)", base + "top --db " + db + " --run 1 --k 10" + quiet},
      {"export csv", base + "export --db " + db + " --run 1 --format csv" + quiet},
      {"export json", base + "export --db " + db + " --run 1 --format json" + quiet},
  };
  for (const auto& read : reads) {
    const double seconds = seconds_of(read.command);
    std::printf("results %-12s %7.3f s  %10.0f evaluations/s\n", read.name, seconds, n / seconds);
  }
  stop = true;
  writer.join();
  std::printf("writer stored %ld evaluations meanwhile\n", written.load());
  fs::remove_all(dir);
  return 0;
}
