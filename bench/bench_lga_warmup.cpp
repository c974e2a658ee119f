// LGA "with a minimal amount of training" (Mok et al., CVPR 2022; issue 22 item 5): Spearman of
// label-gradient alignment with NAS-Bench-201's CIFAR-10 200-epoch test accuracy over the same
// fixed random cells as bench_proxies (its sample of zc_proxies_cifar10.csv), for each number of
// warm-up SGD steps, with BatchNorm on the batch's statistics (TE-NAS's form) and, for comparison,
// per-sample forward passes.
//   bench_lga_warmup [data=../shared/data] [cells=200] [channels=16] [cells_per_stage=5] [batch=64]
//                    [warmups=0,30,300] [lr=0.01] [per_sample=1] [batch_statistics=1] [threads=2]
// batch_statistics=0 measures only the per-sample column (it costs a small part of the other).
// The batch is bench_proxies' 64 Fashion-MNIST images, zero-padded to 32x32 with the grey channel
// replicated; warm-up steps train on that batch (the predictor sees one batch).
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "bench/bench_args.hpp"
#include "core/stats.hpp"
#include "datasets/dataset.hpp"
#include "evaluators/table_evaluator.hpp"
#include "predictors/predictor.hpp"
#include "search_spaces/nb201/nb201.hpp"

using namespace nascent;

int main(int argc, char** argv) {
  auto parsed = parse_bench_args(argc, argv, "bench_lga_warmup",
                                 {{"data", "../shared/data"}, {"cells", "200"}, {"channels", "16"}, {"cells_per_stage", "5"},
                                  {"batch", "64"}, {"warmups", "0,30,300"}, {"lr", "0.01"}, {"per_sample", "1"}, {"batch_statistics", "1"}, {"threads", "2"}});
  if (!parsed) return 2;
  auto& args = *parsed;
  try {
    const std::string zc_path = args["data"] + "/nas-bench-201/zc_proxies_cifar10.csv";
    const std::string nb_path = args["data"] + "/nas-bench-201/nb201.csv";
    at::set_num_threads(std::stoi(args["threads"]));
    std::vector<std::string> zc_archs;
    {
      CsvFile file(zc_path, zc_path);
      const auto column = std::find(file.header.begin(), file.header.end(), "arch") - file.header.begin();
      for (std::vector<std::string> cells; file.reader.next(cells);) zc_archs.push_back(cells.at(column));
    }
    std::map<std::string, double> test_acc;
    {
      CsvFile file(nb_path, nb_path);
      const auto arch = std::find(file.header.begin(), file.header.end(), "arch") - file.header.begin();
      const auto acc = std::find(file.header.begin(), file.header.end(), "cifar10_test_200ep") - file.header.begin();
      for (std::vector<std::string> cells; file.reader.next(cells);) test_acc[cells.at(arch)] = std::stod(cells.at(acc));
    }
    Rng shuffle(2024);  // bench_proxies' sample
    const std::vector<std::int64_t> order = shuffled_indices(static_cast<std::int64_t>(zc_archs.size()), shuffle);
    const std::size_t cells = std::min<std::size_t>(std::stoul(args["cells"]), order.size());

    FashionMnistOptions data_options;
    data_options.pad = 32;
    data_options.channels = 3;
    data_options.train_subset = std::stol(args["batch"]);
    data_options.val_subset = 1;
    data_options.test_subset = 1;
    const DataSplits batch = load_fashion_mnist(data_options);
    Nb201Space space(std::stoi(args["channels"]), std::stoi(args["cells_per_stage"]));
    const Task task{{3, 32, 32}, 10};

    struct Setting {
      std::string label;
      Config options;
    };
    std::vector<Setting> settings;
    std::stringstream list(args["warmups"]);
    for (std::string steps; std::getline(list, steps, ',');) {
      Config c = Config::parse("warmup_steps: " + steps + "\nwarmup_lr: " + args["lr"] + "\nbatch_statistics: true");
      if (args["batch_statistics"] == "1") settings.push_back({"batch statistics, " + steps + " warm-up steps", c});
      if (args["per_sample"] == "1")
        settings.push_back({"per-sample passes, " + steps + " warm-up steps",
                            Config::parse("warmup_steps: " + steps + "\nwarmup_lr: " + args["lr"] + "\nbatch_statistics: false")});
    }
    std::printf("LGA on %zu NAS-Bench-201 cells (C=%s, N=%s, batch %s, warm-up lr %s), Spearman with cifar10_test_200ep\n", cells,
                args["channels"].c_str(), args["cells_per_stage"].c_str(), args["batch"].c_str(), args["lr"].c_str());
    std::printf("| setting | Spearman | non-finite | seconds per cell |\n|---|---|---|---|\n");
    for (const auto& setting : settings) {
      auto predictor = make_predictor("lga", setting.options);
      std::vector<double> scores, accuracy;
      std::size_t bad = 0;
      const auto start = std::chrono::steady_clock::now();
      for (std::size_t k = 0; k < cells; ++k) {
        const std::string& arch = zc_archs[order[k]];
        const PredictorScores result = score_architecture(space, arch, task, k, {predictor.get()}, batch.train.images, batch.train.labels);
        const double value = result.scores.at("lga");
        if (!std::isfinite(value)) ++bad;
        scores.push_back(std::isfinite(value) ? value : -1e300);  // ranked last, as searches rank NaN
        accuracy.push_back(test_acc.at(arch));
        if ((k + 1) % 20 == 0)
          std::fprintf(stderr, "\r[%s: %zu/%zu cells, %.0f s]   ", setting.label.c_str(), k + 1, cells,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "\n");
      std::printf("| %s | %.3f | %zu | %.2f |\n", setting.label.c_str(), spearman(scores, accuracy), bad, seconds / cells);
      std::fflush(stdout);
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_lga_warmup: %s\n", error.what());
    return 1;
  }
}
