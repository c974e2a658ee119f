// BOSHNAS against random search and regularised evolution over the 500 trained FlexiBERT models of
// BERT_benchmark.json.
//   mode=target (issue 5, figure 3): for each seed, how many distinct models a strategy queries
//     before it finds one in the top 1% by GLUE score (the 5 best of the 500 entries).
//   mode=curve (issue 22): the mean over seeds of the best GLUE among the first q distinct
//     queries, q = 1..budget, printed at 1, 5, 10, 20, ..., budget, and the mean at `at` queries.
//   mode=fit: the surrogate's Spearman with GLUE on unseen models after 10, 25, 50, 100 random ones.
//   bench_boshnas [mode=target] [bench=../shared/data/bert-benchmark/BERT_benchmark.json] [seeds=20]
//                 [first_seed=0] [budget=200] [at=50] [strategies=boshnas,random,evolution]
//                 [threads=2] [patience=0] [population=20] [sample=5] [npn_lr=<default>]
//                 [targets=standardised|relative] [acquisition_search=library|gobi] [aleatoric=1]
//                 [boshnas=KEY:VALUE,KEY:VALUE] (any other BOSHNAS option, e.g. boshnas=initial:5)
//                 [trace=1] (mode=curve: every distinct query on stdout, "query SEED STRATEGY Q GLUE ARCH")
// patience=0 keeps BOSHNAS querying until the budget (its default stops after 10 optimisation steps
// without a better score; with patience=10 a seed that stops first counts as not found, and in
// the curve its best stays where it stopped).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <torch/torch.h>

#include "bench/bench_args.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/stats.hpp"
#include "search_spaces/flexibert/flexibert.hpp"
#include "strategies/boshnas.hpp"
#include "strategies/random_search.hpp"
#include "strategies/regularized_evolution.hpp"

using namespace nascent;

namespace {

// Distinct queries until the first at or above `threshold`; 0 when none within the budget.
std::size_t queries_to_target(Strategy& strategy, const std::map<std::string, double>& score, double threshold,
                              std::size_t budget, Rng& rng) {
  std::set<std::string> seen;
  std::size_t idle = 0;
  while (seen.size() < budget && idle < 10000) {
    const std::vector<std::string> asked = strategy.ask(1, rng);
    if (asked.empty()) return 0;
    for (const auto& arch : asked) {
      const auto found = score.find(arch);
      const std::optional<double> fitness = found == score.end() ? std::nullopt : std::optional<double>(found->second);
      if (seen.insert(arch).second) {
        idle = 0;
        if (fitness && *fitness >= threshold) return seen.size();
      } else {
        ++idle;
      }
      strategy.tell(arch, fitness);
    }
  }
  return 0;
}

// The best fitness after each of the first `budget` distinct queries (carried forward when the
// strategy stops early). Each distinct query and its fitness go to `queries` when given.
std::vector<double> best_curve(Strategy& strategy, const std::map<std::string, double>& score, std::size_t budget, Rng& rng,
                               std::vector<std::pair<std::string, std::optional<double>>>* queries) {
  std::set<std::string> seen;
  std::vector<double> curve;
  double best = -INFINITY;
  std::size_t idle = 0;
  while (seen.size() < budget && idle < 10000) {
    const std::vector<std::string> asked = strategy.ask(1, rng);
    if (asked.empty()) break;
    for (const auto& arch : asked) {
      const auto found = score.find(arch);
      const std::optional<double> fitness = found == score.end() ? std::nullopt : std::optional<double>(found->second);
      if (seen.insert(arch).second) {
        idle = 0;
        if (fitness) best = std::max(best, *fitness);
        curve.push_back(best);
        if (queries) queries->emplace_back(arch, fitness);
      } else {
        ++idle;
      }
      strategy.tell(arch, fitness);
    }
  }
  while (curve.size() < budget) curve.push_back(curve.empty() ? NAN : curve.back());
  curve.resize(budget);
  return curve;
}

// mode=fit: Spearman between the surrogate's predicted loss (negated) and GLUE over the models
// it was not trained on, after `n` random training models, for the NPN mean and the teacher; and,
// as a yardstick for the embedding itself, an inverse-distance-weighted nearest-neighbour guess.
void fit_report(const FlexibertSpace& space, const std::map<std::string, double>& glue, const std::vector<std::size_t>& sizes,
                std::size_t seeds, Boshnas::Options::Targets targets, double npn_lr) {
  std::vector<std::string> library = space.enumerate();
  std::vector<std::vector<double>> inputs;
  std::vector<double> truth;
  for (const auto& arch : library) inputs.push_back(space.encode(arch)), truth.push_back(glue.at(space.canonical(arch)));
  standardize_columns(inputs);
  for (std::size_t n : sizes) {
    double npn_sum = 0, teacher_sum = 0, knn_sum = 0;
    for (std::size_t seed = 0; seed < seeds; ++seed) {
      Rng rng(seed);
      const std::vector<std::int64_t> order = shuffled_indices(static_cast<std::int64_t>(library.size()), rng);
      std::vector<std::vector<double>> x;
      std::vector<double> fitness;
      for (std::size_t k = 0; k < n; ++k) x.push_back(inputs[order[k]]), fitness.push_back(truth[order[k]]);
      double norm = 0;
      for (double f : fitness) norm = std::max(norm, 1 - f / 100);
      const std::vector<double> y = boshnas_targets(fitness, targets, 100, norm);
      BoshnasSurrogate::Options with_npn, with_teacher;
      with_npn.npn_lr = npn_lr;
      with_teacher.aleatoric = false;
      BoshnasSurrogate npn(static_cast<int>(x[0].size()), rng(), with_npn), teacher(static_cast<int>(x[0].size()), rng(), with_teacher);
      npn.train(x, y, rng);
      teacher.train(x, y, rng);
      std::vector<std::vector<double>> rest;
      std::vector<double> rest_truth, knn;
      for (std::size_t k = n; k < order.size(); ++k) {
        rest.push_back(inputs[order[k]]);
        rest_truth.push_back(truth[order[k]]);
        double weighted = 0, weights = 0;
        for (std::size_t j = 0; j < n; ++j) {
          double d = 0;
          for (std::size_t c = 0; c < x[j].size(); ++c) d += (x[j][c] - rest.back()[c]) * (x[j][c] - rest.back()[c]);
          const double w = 1 / (d + 1e-6);
          weighted += w * fitness[j], weights += w;
        }
        knn.push_back(weighted / weights);
      }
      std::vector<double> a, b;
      for (const auto& p : npn.predict(rest)) a.push_back(-p.mean);
      for (const auto& p : teacher.predict(rest)) b.push_back(-p.mean);
      npn_sum += spearman(a, rest_truth), teacher_sum += spearman(b, rest_truth), knn_sum += spearman(knn, rest_truth);
    }
    std::printf("n=%zu  Spearman with GLUE on the unseen models, mean of %zu seeds: NPN %.3f  teacher %.3f  distance-weighted neighbours %.3f\n",
                n, seeds, npn_sum / seeds, teacher_sum / seeds, knn_sum / seeds);
  }
}

void summarise(const char* name, const std::vector<std::size_t>& counts, double seconds) {
  std::vector<double> found;
  for (std::size_t c : counts)
    if (c > 0) found.push_back(static_cast<double>(c));
  double mean = 0, spread = 0;
  for (double c : found) mean += c;
  if (!found.empty()) mean /= found.size();
  for (double c : found) spread += (c - mean) * (c - mean);
  if (found.size() > 1) spread = std::sqrt(spread / (found.size() - 1));
  std::sort(found.begin(), found.end());
  const double median = found.empty() ? NAN : found[found.size() / 2];
  std::printf("%-10s found in %2zu/%zu seeds  queries mean %.1f (sd %.1f, median %.0f)  %.1f s per seed\n", name, found.size(),
              counts.size(), mean, spread, median, seconds / counts.size());
}

// "initial:5,diversity_probability:0" as YAML lines.
std::string more_boshnas_options(const std::string& pairs) {
  std::string yaml;
  std::size_t begin = 0;
  while (begin < pairs.size()) {
    std::size_t end = pairs.find(',', begin);
    if (end == std::string::npos) end = pairs.size();
    std::string pair = pairs.substr(begin, end - begin);
    if (const std::size_t colon = pair.find(':'); colon != std::string::npos) pair.replace(colon, 1, ": ");
    yaml += "\n" + pair;
    begin = end + 1;
  }
  return yaml;
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = parse_bench_args(argc, argv, "bench_boshnas",
                                     {{"mode", "target"},
                                      {"bench", "../shared/data/bert-benchmark/BERT_benchmark.json"},
                                      {"seeds", "20"},
                                      {"first_seed", "0"},
                                      {"budget", "200"},
                                      {"at", "50"},
                                      {"strategies", "boshnas,random,evolution"},
                                      {"threads", "2"},
                                      {"targets", "standardised"},
                                      {"acquisition_search", "library"},
                                      {"aleatoric", "1"},
                                      {"patience", "0"},
                                      {"population", "20"},
                                      {"sample", "5"},
                                      {"npn_lr", std::to_string(Boshnas::Options().surrogate.npn_lr)},
                                      {"boshnas", ""},
                                      {"trace", "0"}});
  if (!args) return 2;
  try {
    const std::string path = args->at("bench");
    FlexibertSpace::Options space_options;
    space_options.models = path;
    FlexibertSpace space(space_options);
    std::ifstream file(path);
    const nlohmann::json entries = nlohmann::json::parse(file);
    std::map<std::string, std::vector<double>> glue_lists;
    std::vector<double> all;
    for (const auto& entry : entries) {
      const double glue = entry.at("scores").at("glue").get<double>();
      glue_lists[space.canonical(entry.dump())].push_back(glue);
      all.push_back(glue);
    }
    std::map<std::string, double> glue;
    for (const auto& [arch, values] : glue_lists) {
      double sum = 0;
      for (double v : values) sum += v;
      glue[arch] = sum / values.size();
    }
    std::sort(all.rbegin(), all.rend());
    const std::size_t top = std::max<std::size_t>(1, all.size() / 100);
    const double threshold = all[top - 1];
    std::size_t qualifying = 0;
    for (const auto& [arch, value] : glue) qualifying += value >= threshold;
    const std::size_t seeds = std::stoul(args->at("seeds")), budget = std::stoul(args->at("budget"));
    std::printf("%zu entries, %zu distinct models (repeats averaged); top 1%% = GLUE >= %.3f: %zu distinct models\n",
                all.size(), glue.size(), threshold, qualifying);
    std::printf("budget %zu distinct queries, %zu seeds; BOSHNAS patience %s; evolution population %s, tournament %s\n", budget,
                seeds, args->at("patience").c_str(), args->at("population").c_str(), args->at("sample").c_str());

    // Seeds run in parallel (one LibTorch thread each, at most `threads` at once); every strategy
    // draws only from its own Rng.
    const tbb::global_control limit(tbb::global_control::max_allowed_parallelism, std::stoul(args->at("threads")));
    if (args->at("mode") == "fit") {
      const auto targets = args->at("targets") == "relative" ? Boshnas::Options::Targets::kRelative : Boshnas::Options::Targets::kStandardised;
      fit_report(space, glue, {10, 25, 50, 100}, seeds, targets, std::stod(args->at("npn_lr")));
      return 0;
    }
    const bool curve_mode = args->at("mode") == "curve";
    const bool trace = args->at("trace") == "1";
    if (!curve_mode && args->at("mode") != "target") throw Error("mode must be target or curve");
    const std::size_t first_seed = std::stoul(args->at("first_seed"));
    std::vector<std::string> names;
    std::stringstream list(args->at("strategies"));
    for (std::string name; std::getline(list, name, ',');)
      if (!name.empty()) names.push_back(name);
    for (const auto& name : names)
      if (name != "boshnas" && name != "random" && name != "evolution") throw Error("unknown strategy '" + name + "'");
    std::map<std::string, std::vector<std::size_t>> counts;
    std::map<std::string, std::vector<std::vector<double>>> curves;
    std::map<std::string, std::vector<double>> times;
    for (const auto& name : names) counts[name].assign(seeds, 0), curves[name].assign(seeds, {}), times[name].assign(seeds, 0);
    std::mutex print_mutex;
    tbb::parallel_for(std::size_t(0), seeds, [&](std::size_t k) {
      at::set_num_threads(1);
      const std::size_t seed = first_seed + k;
      std::string line = "seed " + std::to_string(seed) + ":";
      for (const auto& name : names) {
        const auto start = std::chrono::steady_clock::now();
        Rng rng(seed);
        std::unique_ptr<Strategy> strategy;
        if (name == "boshnas") {
          // Through the registry, so that the settings are read and checked as a config's are.
          strategy = make_strategy(Config::parse("name: boshnas\npatience: " + args->at("patience") + "\nnpn_lr: " + args->at("npn_lr") +
                                                 "\ntargets: " + args->at("targets") + "\nacquisition_search: " +
                                                 args->at("acquisition_search") + "\naleatoric: " +
                                                 (args->at("aleatoric") != "0" ? "true" : "false") + more_boshnas_options(args->at("boshnas"))),
                                   space);
        } else if (name == "random") {
          strategy = std::make_unique<RandomSearch>(space);
        } else {
          RegularizedEvolution::Options options;
          options.population = std::stoul(args->at("population"));
          options.sample = std::stoul(args->at("sample"));
          strategy = std::make_unique<RegularizedEvolution>(space, options);
        }
        char buffer[64];
        if (curve_mode) {
          std::vector<std::pair<std::string, std::optional<double>>> queries;
          curves.at(name)[k] = best_curve(*strategy, glue, budget, rng, trace ? &queries : nullptr);
          if (trace) {
            std::lock_guard<std::mutex> lock(print_mutex);
            for (std::size_t q = 0; q < queries.size(); ++q) {
              const auto& [arch, fitness] = queries[q];
              std::printf("query %zu %s %zu %s %s\n", seed, name.c_str(), q + 1, fitness ? std::to_string(*fitness).c_str() : "failed",
                          arch.c_str());
            }
          }
          const std::size_t at = std::min<std::size_t>(std::stoul(args->at("at")), budget);
          std::snprintf(buffer, sizeof buffer, " %s %.3f", name.c_str(), curves.at(name)[k][at - 1]);
        } else {
          counts.at(name)[k] = queries_to_target(*strategy, glue, threshold, budget, rng);
          std::snprintf(buffer, sizeof buffer, " %s %zu", name.c_str(), counts.at(name)[k]);
        }
        line += buffer;
        times.at(name)[k] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
      std::lock_guard<std::mutex> lock(print_mutex);
      std::fprintf(stderr, "%s\n", line.c_str());
    });
    std::map<std::string, double> seconds;
    for (const auto& name : names)
      for (double t : times[name]) seconds[name] += t;
    if (curve_mode) {
      const auto mean_at = [&](const std::string& name, std::size_t q, double* sd) {
        double sum = 0, square = 0;
        for (const auto& curve : curves.at(name)) sum += curve[q - 1], square += curve[q - 1] * curve[q - 1];
        const double mean = sum / seeds;
        if (sd) *sd = seeds > 1 ? std::sqrt(std::max(0.0, (square - seeds * mean * mean) / (seeds - 1))) : 0;
        return mean;
      };
      std::vector<std::size_t> marks{1, 5};
      for (std::size_t q = 10; q <= budget; q += 10) marks.push_back(q);
      if (marks.back() != budget && budget > 5) marks.push_back(budget);
      std::printf("mean best GLUE over seeds %zu..%zu after q distinct queries:\n| queries |", first_seed, first_seed + seeds - 1);
      for (const auto& name : names) std::printf(" %s |", name.c_str());
      std::printf("\n|---|");
      for (std::size_t i = 0; i < names.size(); ++i) std::printf("---|");
      std::printf("\n");
      for (std::size_t q : marks) {
        if (q > budget) continue;
        std::printf("| %zu |", q);
        for (const auto& name : names) std::printf(" %.3f |", mean_at(name, q, nullptr));
        std::printf("\n");
      }
      const std::size_t at = std::min<std::size_t>(std::stoul(args->at("at")), budget);
      for (const auto& name : names) {
        double sd = 0;
        const double mean = mean_at(name, at, &sd);
        std::printf("%-10s best GLUE at %zu queries: mean %.3f (sd %.3f)  %.1f s per seed\n", name.c_str(), at, mean, sd,
                    seconds[name] / seeds);
      }
    } else {
      std::printf("queries until a top-1%% model (0 = not found within the budget):\n");
      for (const auto& name : names) summarise(name.c_str(), counts[name], seconds[name]);
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_boshnas: %s\n", error.what());
    return 1;
  }
  return 0;
}
