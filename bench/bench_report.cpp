// `nascent report` on a real search of N evaluations: regularised evolution over every NB201 cell
// through a stand-in table (four metrics per cell), then the report written by the CLI as a user
// runs it. Prints the seconds (process start to file written, median of repeats) and the size.
//   bench_report [evaluations=1000] [repeats=5] [top=5]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_args.hpp"
#include "core/config.hpp"
#include "core/rng.hpp"
#include "runner/search.hpp"
#include "search_spaces/nb201/nb201.hpp"

using namespace nascent;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  const auto args = parse_bench_args(argc, argv, "bench_report", {{"evaluations", "1000"}, {"repeats", "5"}, {"top", "5"}});
  if (!args) return 2;
  const int evaluations = std::stoi(args->at("evaluations"));
  const int repeats = std::max(1, std::stoi(args->at("repeats")));
  const int top = std::stoi(args->at("top"));
  const fs::path dir = fs::temp_directory_path() / ("nascent-bench-report-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream table(dir / "table.csv");
    table << "arch,val_acc,test_acc,flops,params\n";
    Rng rng(7);
    for (const std::string& arch : Nb201Space().enumerate()) {
      const double quality = uniform_real(rng);
      table << arch << "," << 60 + 30 * quality << "," << 58 + 30 * quality + 2 * uniform_real(rng) << ","
            << 1e7 + 1e8 * uniform_real(rng) << "," << 1e5 + 1e6 * uniform_real(rng) << "\n";
    }
  }
  SearchOptions options;
  options.config = Config::parse("seed: 1\nspace: {name: nb201}\nstrategy: {name: evolution, population: 50, sample: 10}\n"
                                 "evaluator: {name: table, path: " + (dir / "table.csv").string() +
                                 ", key: arch, metric: val_acc, report: [test_acc, flops, params]}\n"
                                 "budget: {evaluations: " + std::to_string(evaluations) + "}\n");
  options.db_path = (dir / "run.db").string();
  options.quiet = true;
  run_search(options);

  const std::string nascent = (fs::read_symlink("/proc/self/exe").parent_path() / "nascent").string();
  const std::string out = (dir / "report.html").string();
  std::vector<double> seconds;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const std::string command = nascent + " report --db " + options.db_path + " --top " + std::to_string(top) + " --out " + out + " > /dev/null";
    if (std::system(command.c_str()) != 0) {
      std::fprintf(stderr, "bench_report: '%s' failed\n", command.c_str());
      return 1;
    }
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  std::printf("report of %d evaluations (%d top candidates drawn): %.3f s median of %d (min %.3f, max %.3f), %.2f MB\n", evaluations, top,
              seconds[seconds.size() / 2], repeats, seconds.front(), seconds.back(), fs::file_size(out) / 1e6);
  fs::remove_all(dir);
  return 0;
}
