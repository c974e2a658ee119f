// Training-free predictors on NAS-Bench-201: exactness, correlations, speed.
//   bench_proxies [key=value ...]   keys (defaults):
//     data=../shared/data  cells=1000  corr_cells=1000  train_cells=100  speed_cells=5
//     threads=2  out=nascent_proxies.csv  train_samples=2000  train_epochs=1
// 1. params and FLOPs of all 9,445 cells of zc_proxies_cifar10.csv against the table.
// 2. synflow (data-independent) for `cells` cells (a fixed random sample of the 9,445; C=16, N=5,
//    3x32x32, 10 classes): Spearman with the table's synflow column.
// 3. Every predictor on one batch of 64 Fashion-MNIST images (zero-padded to 32x32, grey channel
//    replicated) for the first `corr_cells` of those cells: Spearman with cifar10_test_200ep, next
//    to the table's own proxy on the same cells and the published value; then against the
//    Fashion-MNIST validation accuracy of the first `train_cells` cells trained briefly by the
//    training evaluator (NB201 C=8, N=1 at native 1x28x28). Scores are written to `out` (one
//    column per predictor) for bench_robot.
// 4. Milliseconds per architecture for each predictor alone and for all together (shared passes).
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>

#include "bench/bench_args.hpp"
#include "core/stats.hpp"
#include "datasets/dataset.hpp"
#include "evaluators/table_evaluator.hpp"
#include "evaluators/train_evaluator.hpp"
#include "predictors/predictor.hpp"
#include "search_spaces/nb201/nb201.hpp"

using namespace nascent;

namespace {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::size_t column(const std::string& name) const {
    auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) throw Error("no column " + name);
    return it - header.begin();
  }
};

Table read_csv(const std::string& path) {
  CsvFile file(path, path);
  Table table;
  table.header = file.header;
  for (std::vector<std::string> cells; file.reader.next(cells);) table.rows.push_back(cells);
  return table;
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Published Spearman figures from the spec (trainingfree.md, section D): Abdelfattah et al.'s
// |rho| against CIFAR-10 200-epoch test accuracy over all 15,625 cells, and NAS-Bench-Suite-Zero's
// against the suite's val_accuracy over the 9,445 cells.
const std::map<std::string, std::string> kPublished = {
    {"grad_norm", "0.594 / 0.550"}, {"snip", "0.596 / 0.552"}, {"grasp", "0.514 / 0.491"},
    {"fisher", "0.360 / 0.501"},    {"synflow", "0.737 / 0.732"}, {"jacob_cov", "0.731 / 0.818"},
    {"nwot", "- / 0.792"},          {"zen", "- / 0.101"},     {"epe_nas", "- / 0.787"},
    {"l2_norm", "- / 0.720"},       {"plain", "- / -0.367"},  {"params", "- / 0.747"},
    {"flops", "- / 0.714"},         {"hidden_cov", "- / -"},  {"lga", "- / -"}};

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_bench_args(argc, argv, "bench_proxies",
                                 {{"data", "../shared/data"}, {"cells", "1000"}, {"corr_cells", "1000"}, {"train_cells", "100"},
                                  {"speed_cells", "5"}, {"threads", "2"}, {"out", "nascent_proxies.csv"},
                                  {"train_samples", "2000"}, {"train_epochs", "1"}});
  if (!parsed) return 2;
  auto& args = *parsed;
  const std::string zc_path = args["data"] + "/nas-bench-201/zc_proxies_cifar10.csv";
  const std::string nb_path = args["data"] + "/nas-bench-201/nb201.csv";
  if (!std::filesystem::exists(zc_path) || !std::filesystem::exists(nb_path)) {
    std::fprintf(stderr, "bench_proxies: %s or %s not found (data=FOLDER)\n", zc_path.c_str(), nb_path.c_str());
    return 1;
  }
  const int threads = std::stoi(args["threads"]);
  at::set_num_threads(threads);
  const Table zc = read_csv(zc_path), nb = read_csv(nb_path);
  std::map<std::string, double> test_acc;
  for (const auto& row : nb.rows) test_acc[row[nb.column("arch")]] = std::stod(row[nb.column("cifar10_test_200ep")]);

  Nb201Space space(16, 5);
  const Task task{{3, 32, 32}, 10};

  // 1. Exactness.
  double worst_params = 0, worst_flops = 0;
  for (const auto& row : zc.rows) {
    const Description d = space.describe(row[zc.column("arch")], task);
    worst_params = std::max(worst_params, std::abs(d.params / 1e6 - std::stod(row[zc.column("params")])));
    worst_flops = std::max(worst_flops, std::abs(d.flops / 1e6 - std::stod(row[zc.column("flops")])));
  }
  std::printf("1. exactness over %zu cells: largest |params - table| %.3g M, |flops - table| %.3g MFLOPs\n",
              zc.rows.size(), worst_params, worst_flops);

  // A fixed random sample of the table's cells.
  Rng shuffle(2024);
  const std::vector<std::int64_t> order = shuffled_indices(static_cast<std::int64_t>(zc.rows.size()), shuffle);
  const std::size_t cells = std::min<std::size_t>(std::stoul(args["cells"]), order.size());
  const std::size_t corr_cells = std::min<std::size_t>(std::stoul(args["corr_cells"]), cells);
  const std::size_t train_cells = std::min<std::size_t>(std::stoul(args["train_cells"]), corr_cells);

  // 2. synflow against the table.
  {
    auto synflow = make_predictor("synflow");
    std::vector<double> ours, theirs;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t k = 0; k < cells; ++k) {
      const auto& row = zc.rows[order[k]];
      auto net = space.build(row[zc.column("arch")], task);
      auto generator = at::make_generator<at::CPUGeneratorImpl>(k);
      net->reset_parameters(generator);
      Rng rng(k);
      ScoreInput input(*net, torch::zeros({1, 3, 32, 32}), torch::zeros({1}, torch::kInt64), rng);
      ours.push_back(synflow->score(input));
      theirs.push_back(std::stod(row[zc.column("synflow")]));
    }
    std::printf("2. synflow on %zu cells (C=16, N=5, 3x32x32): Spearman with the table's synflow %.4f (%.1f ms per cell)\n",
                cells, spearman(ours, theirs), elapsed_ms(start) / cells);
  }

  // 3. Every predictor on a Fashion-MNIST batch.
  FashionMnistOptions data_options;
  data_options.pad = 32;
  data_options.channels = 3;
  data_options.train_subset = 64;
  data_options.val_subset = 1;
  data_options.test_subset = 1;
  const DataSplits batch = load_fashion_mnist(data_options);
  std::vector<std::string> names = predictor_names();
  std::vector<std::unique_ptr<Predictor>> predictors;
  std::vector<const Predictor*> list;
  for (const auto& name : names) {
    predictors.push_back(make_predictor(name));
    list.push_back(predictors.back().get());
  }
  std::map<std::string, std::vector<double>> scores, table_scores;
  std::map<std::string, double> total_ms;
  std::vector<double> test;
  std::vector<std::string> archs;
  std::ofstream out(args["out"]);
  out << "arch";
  for (const auto& name : names) out << "," << name;
  out << "\n";
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t k = 0; k < corr_cells; ++k) {
    const std::string arch = zc.rows[order[k]][zc.column("arch")];
    const PredictorScores result = score_architecture(space, arch, task, k, list, batch.train.images, batch.train.labels);
    out << arch;
    for (const auto& name : names) {
      scores[name].push_back(result.scores.at(name));
      total_ms[name] += result.milliseconds.at(name);
      out << "," << std::setprecision(12) << result.scores.at(name);
      const std::string column = name == "jacob_cov" ? "jacov" : name;
      table_scores[name].push_back(std::find(zc.header.begin(), zc.header.end(), column) == zc.header.end()
                                       ? NAN
                                       : std::stod(zc.rows[order[k]][zc.column(column)]));
    }
    out << "\n" << std::flush;
    test.push_back(test_acc.at(arch));
    archs.push_back(arch);
    if ((k + 1) % 10 == 0 || k + 1 == corr_cells) {
      const double seconds = elapsed_ms(start) / 1000;
      std::fprintf(stderr, "[%zu/%zu cells scored, %.0f s, ~%.0f s left]\n", k + 1, corr_cells, seconds,
                   seconds / (k + 1) * (corr_cells - k - 1));
    }
  }

  std::vector<double> fmnist;
  if (train_cells > 0) {
    FashionMnistOptions train_data;
    train_data.train_subset = std::stol(args["train_samples"]);
    train_data.val_subset = 2000;
    train_data.test_subset = 1;
    TrainEvaluator::Options train_options;
    train_options.training.epochs = std::stod(args["train_epochs"]);
    train_options.training.batch_size = 64;
    train_options.training.lr = 0.05;
    train_options.test = false;
    train_options.latency = false;
    TrainEvaluator trainer(load_fashion_mnist(train_data), train_options);
    Nb201Space small(8, 1);
    const auto train_start = std::chrono::steady_clock::now();
    for (std::size_t k = 0; k < train_cells; ++k) {
      const Evaluation e = trainer.evaluate(small, archs[k], k);
      fmnist.push_back(e.ok ? e.metrics.at("val_acc") : NAN);
      if ((k + 1) % 10 == 0) std::fprintf(stderr, "[%zu/%zu cells trained, %.0f s]\n", k + 1, train_cells, elapsed_ms(train_start) / 1000);
    }
  }

  std::printf("3. Spearman over %zu cells, proxies on one Fashion-MNIST batch of 64 (3x32x32, C=16, N=5)\n", corr_cells);
  std::printf("   %-11s %10s %12s %14s %12s %16s\n", "predictor", "vs C10 test", "table proxy", "published", "vs FMNIST", "non-finite");
  std::printf("   %-11s %10s %12s %14s %12s %16s\n", "", "(ours)", "vs C10 test", "(C10 test/val)", std::to_string(fmnist.size()).c_str(), "");
  for (const auto& name : names) {
    std::size_t bad = 0;
    for (double v : scores[name]) bad += !std::isfinite(v);
    std::vector<double> head(scores[name].begin(), scores[name].begin() + fmnist.size());
    std::printf("   %-11s %10.3f %12.3f %14s %12.3f %16zu\n", name.c_str(), spearman(scores[name], test),
                spearman(table_scores[name], test), kPublished.at(name).c_str(), spearman(head, fmnist), bad);
  }

  // 4. Speed: each predictor alone (its own passes), then all together (shared passes).
  const std::size_t speed_cells = std::min<std::size_t>(std::stoul(args["speed_cells"]), corr_cells);
  std::map<std::string, double> alone_ms;
  double together_ms = 0;
  for (std::size_t k = 0; k < speed_cells; ++k) {
    auto net = space.build(archs[k], task);
    auto generator = at::make_generator<at::CPUGeneratorImpl>(k);
    net->reset_parameters(generator);
    Rng rng(k);
    ScoreInput input(*net, batch.train.images, batch.train.labels, rng);
    input.flops = space.describe(archs[k], task).flops;
    for (const auto* p : list) alone_ms[p->name()] += score_predictors({p}, input).milliseconds.at(p->name());
    const auto all_start = std::chrono::steady_clock::now();
    score_predictors(list, input);
    together_ms += elapsed_ms(all_start);
  }
  if (speed_cells > 0) {
    std::printf("4. milliseconds per architecture (batch 64, %d threads, mean of %zu cells)\n", threads, speed_cells);
    for (const auto& name : names) std::printf("   %-11s %9.1f\n", name.c_str(), alone_ms[name] / speed_cells);
    std::printf("   %-11s %9.1f (all fifteen, passes shared)\n", "together", together_ms / speed_cells);
  }
  std::printf("scores written to %s\n", args["out"].c_str());
  return 0;
}
