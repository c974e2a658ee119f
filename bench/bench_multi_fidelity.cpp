// Multi-fidelity search against a fixed training budget, on real data.
//   bench_multi_fidelity [examples/fmnist-asha.yaml] [seeds=3] [evolution_candidates=20] [first_seed=0]
//                        [methods=asha,hyperband] [retrain=0]
// For each seed: regularised evolution (population 10, tournament 3) trains evolution_candidates
// candidates for the config's full strategy.max_epochs each; then ASHA and Hyperband (its brackets
// repeated), as the config describes them, may spend at most half of those epochs. Printed per method and seed: the best
// val_acc among candidates trained the full epochs (and its test_acc), epochs trained, evaluations,
// seconds; then the means, and for how many seeds each method reached evolution's best.
// retrain=K > 0 also trains each method's answer K more times from scratch (the search's recipe,
// other seeds) and reports their mean val_acc and test_acc on the whole 10,000-image test set: what
// the cell found is worth, free of the luck that made it the best of its run. Seconds then include
// the retraining.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <vector>

#include "core/stats.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"

using namespace nascent;

namespace {

struct Outcome {
  double val_acc = NAN, test_acc = NAN, epochs = 0, seconds = 0;
  std::int64_t evaluations = 0;
  double retrained_val = NAN, retrained_test = NAN;  // means over the final training's runs
};

// Epochs the search trained: each evaluation's `epochs` metric, less what its candidate had trained
// before (a promotion continues the earlier training); without the metric, `full` per evaluation.
double epochs_trained(const std::vector<StoredEvaluation>& evaluations, double full) {
  std::map<std::string, double> reached;
  double total = 0;
  for (const StoredEvaluation& e : evaluations) {
    if (e.stage == Stage::Final) continue;  // retraining the answer is not part of the search
    const auto it = e.result.metrics.find("epochs");
    const double to = it == e.result.metrics.end() ? full : it->second;
    total += it == e.result.metrics.end() ? full : std::max(0.0, to - reached[e.arch]);
    reached[e.arch] = std::max(reached[e.arch], to);
  }
  return total;
}

Outcome run(const Config& config, const std::string& config_dir, const std::string& db, double full_epochs) {
  SearchOptions options;
  options.config = config;
  options.config_dir = config_dir;
  options.db_path = db;
  options.quiet = true;
  const auto start = std::chrono::steady_clock::now();
  run_search(options);
  Outcome outcome;
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The search's own best, not its final training's: only a candidate trained the full epochs
  // counts as found (the config's objective is val_acc, to maximise).
  const std::vector<StoredEvaluation> evaluations = ResultStore(db, ResultStore::Mode::ReadOnly).evaluations();
  std::vector<double> retrained_val, retrained_test;
  for (const StoredEvaluation& e : evaluations) {
    const auto& metrics = e.result.metrics;
    if (e.stage == Stage::Final) {
      if (metrics.count("val_acc") && metrics.count("test_acc")) {
        retrained_val.push_back(metrics.at("val_acc"));
        retrained_test.push_back(metrics.at("test_acc"));
      }
      continue;
    }
    ++outcome.evaluations;
    if (e.stage != Stage::Query || !e.fitness) continue;
    const auto epochs = metrics.find("epochs");
    if (epochs != metrics.end() && epochs->second < full_epochs) continue;
    if (std::isnan(outcome.val_acc) || *e.fitness > outcome.val_acc) {
      outcome.val_acc = *e.fitness;
      const auto test = metrics.find("test_acc");
      outcome.test_acc = test == metrics.end() ? NAN : test->second;
    }
  }
  outcome.epochs = epochs_trained(evaluations, full_epochs);
  outcome.retrained_val = sample_mean(retrained_val);
  outcome.retrained_test = sample_mean(retrained_test);
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string file = argc > 1 ? argv[1] : "examples/fmnist-asha.yaml";
  const int seeds = argc > 2 ? std::atoi(argv[2]) : 3;
  const int candidates = argc > 3 ? std::atoi(argv[3]) : 20;
  const int first_seed = argc > 4 ? std::atoi(argv[4]) : 0;
  // Evolution always runs: it is what the others are measured against.
  std::vector<std::string> methods{"evolution"};
  std::stringstream list(argc > 5 ? argv[5] : "asha,hyperband");
  for (std::string method; std::getline(list, method, ',');) {
    if (method != "asha" && method != "hyperband") {
      std::fprintf(stderr, "bench_multi_fidelity: methods are asha and hyperband, not '%s'\n", method.c_str());
      return 1;
    }
    methods.push_back(method);
  }
  const int retrain = argc > 6 ? std::atoi(argv[6]) : 0;
  if (seeds < 1 || candidates < 1 || first_seed < 0 || retrain < 0) {
    std::fprintf(stderr, "bench_multi_fidelity: seeds and evolution_candidates must be at least 1, first_seed and retrain at least 0\n");
    return 1;
  }
  if (!std::filesystem::exists(file)) {
    std::fprintf(stderr, "bench_multi_fidelity: %s not found\n", file.c_str());
    return 1;
  }
  const Config base = Config::load_file(file);
  const std::string config_dir = std::filesystem::path(file).parent_path().string();
  const long long full = base.child("strategy").get<long long>("max_epochs");
  const double half = static_cast<double>(candidates) * static_cast<double>(full) / 2;
  const auto dir = std::filesystem::temp_directory_path() / ("nascent-bench-mf-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);

  const auto variant = [&](const std::string& method, std::uint64_t seed) {
    YAML::Node node = YAML::Clone(base.node());
    node["seed"] = seed;
    node.remove("budget");
    if (method == "evolution") {
      YAML::Node strategy;
      strategy["name"] = "evolution";
      strategy["population"] = 10;
      strategy["sample"] = 3;
      node["strategy"] = strategy;
      node["evaluator"]["epochs"] = full;
      node["budget"]["evaluations"] = candidates;
    } else {
      node["strategy"]["name"] = method;
      // Hyperband repeats its brackets, so that both multi-fidelity methods may use the whole half.
      if (method == "hyperband") node["strategy"]["passes"] = 0;
      node["budget"]["epochs"] = half;
    }
    // Final training only adds to a run (its own random stream): the search stays as it was.
    node.remove("final_training");
    for (int k = 0; k < retrain; ++k) {
      YAML::Node step;
      step["epochs"] = full;
      for (const char* key : {"batch_size", "eval_batch_size", "lr", "lr_min", "momentum", "nesterov", "weight_decay",
                              "optimizer"})
        if (node["evaluator"][key]) step[key] = YAML::Clone(node["evaluator"][key]);
      step["dataset"] = YAML::Clone(node["evaluator"]["dataset"]);
      step["dataset"]["test_subset"] = 0;
      node["final_training"].push_back(step);
    }
    return Config(node, file);
  };

  std::printf("%s: %d seeds; evolution trains %d candidates x %lld epochs = %.0f epochs, ASHA and Hyperband at most %.0f\n",
              file.c_str(), seeds, candidates, full, candidates * static_cast<double>(full), half);
  std::printf("%-10s %4s %8s %8s %7s %6s %8s%s\n", "method", "seed", "val_acc", "test_acc", "epochs", "evals", "seconds",
              retrain > 0 ? "  retrained val_acc test_acc (full test set)" : "");
  std::map<std::string, std::vector<Outcome>> all;
  for (int seed = first_seed; seed < first_seed + seeds; ++seed) {
    for (const std::string& method : methods) {
      const std::string db = (dir / (method + "-" + std::to_string(seed) + ".db")).string();
      const Outcome o = run(variant(method, static_cast<std::uint64_t>(seed)), config_dir, db, static_cast<double>(full));
      all[method].push_back(o);
      std::printf("%-10s %4d %8.2f %8.2f %7.0f %6lld %8.1f", method.c_str(), seed, o.val_acc, o.test_acc, o.epochs,
                  static_cast<long long>(o.evaluations), o.seconds);
      if (retrain > 0) std::printf("  %8.2f %8.2f", o.retrained_val, o.retrained_test);
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  std::printf("means over %d seeds:\n", seeds);
  for (const std::string& method : methods) {
    double val = 0, test = 0, epochs = 0, seconds = 0;
    int reached = 0;
    for (std::size_t i = 0; i < all[method].size(); ++i) {
      const Outcome& o = all[method][i];
      val += o.val_acc / seeds;
      test += o.test_acc / seeds;
      epochs += o.epochs / seeds;
      seconds += o.seconds / seeds;
      if (o.val_acc >= all["evolution"][i].val_acc) ++reached;
    }
    std::printf("  %-10s best val_acc %.2f  test_acc %.2f  epochs %.1f  seconds %.1f  reached evolution's best in %d of %d seeds\n",
                method.c_str(), val, test, epochs, seconds, reached, seeds);
    if (retrain > 0) {
      std::vector<double> retrained_val, retrained_test, val_gap, test_gap;
      for (std::size_t i = 0; i < all[method].size(); ++i) {
        const Outcome& o = all[method][i];
        retrained_val.push_back(o.retrained_val);
        retrained_test.push_back(o.retrained_test);
        val_gap.push_back(o.retrained_val - all["evolution"][i].retrained_val);
        test_gap.push_back(o.retrained_test - all["evolution"][i].retrained_test);
      }
      std::printf("  %-10s retrained %d times: val_acc %.2f  test_acc %.2f", method.c_str(), retrain,
                  sample_mean(retrained_val), sample_mean(retrained_test));
      if (method != "evolution") {
        std::printf("  (against evolution's: val %+.2f, test %+.2f", sample_mean(val_gap), sample_mean(test_gap));
        if (seeds > 1)
          std::printf(", standard errors %.2f and %.2f", standard_error_of_mean(val_gap), standard_error_of_mean(test_gap));
        std::printf(")");
      }
      std::printf("\n");
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}
