// The FlexiBERT space against BERT_benchmark.json (issue 5, figures 1 and 2).
//   bench_flexibert [bench=../shared/data/bert-benchmark/BERT_benchmark.json] [splits=10] [batch=16]
// 1. Every entry converts to a FlexiBERT string, builds for the WordNet gloss task (character
//    tokens, 64 per gloss, 45 lexicographer classes), runs a forward pass on real glosses with
//    finite logits, and has its parameters counted (the module's count must equal the closed form).
//    Kendall tau of parameters with GLUE, at the WordNet vocabulary and at BERT's 30,522 WordPieces
//    (the benchmark's models embed the latter), next to the published 0.45.
// 2. The embedding: Spearman of pairwise embedding distances with the edit distances they stand for.
//    The surrogate: BOSHNAS's NPN and teacher trained on a random half (embedding -> GLUE target),
//    Spearman on the other half, over `splits` splits.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "bench/bench_args.hpp"
#include "core/network.hpp"
#include "core/stats.hpp"
#include "datasets/dataset.hpp"
#include "predictors/boshnas_surrogate.hpp"
#include "search_spaces/flexibert/flexibert.hpp"

using namespace nascent;

namespace {

void mean_sd(const char* what, const std::vector<double>& v) {
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= v.size();
  for (double x : v) s += (x - m) * (x - m);
  s = v.size() > 1 ? std::sqrt(s / (v.size() - 1)) : 0;
  double lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
  std::printf("  %-34s mean %.3f  sd %.3f  range [%.3f, %.3f] over %zu splits\n", what, m, s, lo, hi, v.size());
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = parse_bench_args(argc, argv, "bench_flexibert",
                                     {{"bench", "../shared/data/bert-benchmark/BERT_benchmark.json"}, {"splits", "10"}, {"batch", "16"}, {"npn_lr", "5e-5"}, {"skip_build", "0"}});
  if (!args) return 2;
  try {
    at::set_num_threads(1);
    FlexibertSpace space(FlexibertSpace::Options{});
    std::ifstream file(args->at("bench"));
    if (!file) throw std::runtime_error("cannot read " + args->at("bench"));
    const nlohmann::json entries = nlohmann::json::parse(file);

    WordNetOptions wordnet;
    wordnet.train_subset = 2000;
    wordnet.val_subset = 64;
    wordnet.test_subset = 64;
    const DataSplits data = load_wordnet(wordnet);
    const Task task{data.input_shape, data.num_classes, data.vocabulary_size};
    const torch::Tensor tokens = data.val.images.slice(0, 0, std::stoll(args->at("batch")));

    std::vector<std::string> archs;
    std::vector<double> glue, params_wordnet, params_bert;
    std::size_t converted = 0, built = 0, finite = 0, counted = 0;
    const auto start = std::chrono::steady_clock::now();
    for (const auto& entry : entries) {
      const std::string arch = space.canonical(entry.dump());
      ++converted;
      if (args->at("skip_build") == "1") {
        archs.push_back(arch);
        glue.push_back(entry.at("scores").at("glue").get<double>());
        params_wordnet.push_back(0);
        params_bert.push_back(space.describe(arch, Task{{512}, 2, 30522}).params);
        continue;
      }
      auto net = space.build(arch, task);
      auto generator = at::make_generator<at::CPUGeneratorImpl>(archs.size());
      net->reset_parameters(generator);
      net->eval();
      ++built;
      torch::NoGradGuard no_grad;
      torch::Tensor logits = net->forward(tokens);
      if (logits.size(0) == tokens.size(0) && logits.size(1) == task.num_classes && torch::isfinite(logits).all().item<bool>()) ++finite;
      std::int64_t module_params = 0;
      for (const auto& p : net->parameters()) module_params += p.numel();
      const double described = space.describe(arch, task).params;
      counted += static_cast<double>(module_params) == described;
      archs.push_back(arch);
      glue.push_back(entry.at("scores").at("glue").get<double>());
      params_wordnet.push_back(described);
      params_bert.push_back(space.describe(arch, Task{{512}, 2, 30522}).params);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("1. %zu entries: %zu convert, %zu build, %zu give finite %lldx%lld logits on WordNet glosses, %zu module counts = closed form (%.1f s)\n",
                entries.size(), converted, built, finite, static_cast<long long>(tokens.size(0)), static_cast<long long>(task.num_classes),
                counted, seconds);
    const auto [min_p, max_p] = std::minmax_element(params_bert.begin(), params_bert.end());
    std::printf("   parameters at BERT's vocabulary: %.2f M to %.2f M\n", *min_p / 1e6, *max_p / 1e6);
    std::printf("   Kendall tau(params, GLUE): %.3f with BERT's 30,522-token embedding, %.3f with the WordNet character vocabulary (%lld); published 0.45\n",
                kendall_tau(params_bert, glue), kendall_tau(params_wordnet, glue), static_cast<long long>(task.vocabulary_size));

    // Figure 2a: the embedding keeps the edit distances' order.
    std::vector<std::vector<double>> embedding;
    for (const auto& arch : archs) embedding.push_back(space.encode(arch));
    std::vector<double> edit, euclid;
    for (std::size_t i = 0; i < archs.size(); ++i)
      for (std::size_t j = i + 1; j < archs.size(); ++j) {
        if (archs[i] == archs[j]) continue;
        edit.push_back(space.edit_distance(archs[i], archs[j]));
        double d = 0;
        for (std::size_t k = 0; k < embedding[i].size(); ++k) d += (embedding[i][k] - embedding[j][k]) * (embedding[i][k] - embedding[j][k]);
        euclid.push_back(std::sqrt(d));
      }
    std::printf("2. embedding (%zu-d, landmark MDS): Spearman(edit distance, embedding distance) over %zu pairs = %.3f\n",
                embedding.front().size(), edit.size(), spearman(edit, euclid));

    // Figure 2b: surrogate trained on half, ranked on the other half.
    std::vector<std::vector<double>> standard = embedding;
    standardize_columns(standard);  // as BOSHNAS does over its library
    std::vector<double> npn_rho, teacher_rho;
    const int splits = std::stoi(args->at("splits"));
    for (int split = 0; split < splits; ++split) {
      Rng rng(1000 + split);
      const std::vector<std::int64_t> order = shuffled_indices(static_cast<std::int64_t>(archs.size()), rng);
      const std::size_t half = archs.size() / 2;
      std::vector<std::vector<double>> train_x, test_x;
      std::vector<double> train_y, test_glue;
      double norm = 0;
      for (std::size_t k = 0; k < half; ++k) norm = std::max(norm, 1 - glue[order[k]] / 100);
      for (std::size_t k = 0; k < order.size(); ++k) {
        const std::size_t i = order[k];
        if (k < half) {
          train_x.push_back(standard[i]);
          train_y.push_back((1 - glue[i] / 100) / norm);
        } else {
          test_x.push_back(standard[i]);
          test_glue.push_back(glue[i]);
        }
      }
      BoshnasSurrogate::Options with_npn;
      with_npn.npn_lr = std::stod(args->at("npn_lr"));
      BoshnasSurrogate surrogate(static_cast<int>(standard.front().size()), rng(), with_npn);
      surrogate.train(train_x, train_y, rng);
      BoshnasSurrogate::Options teacher_only = with_npn;
      teacher_only.aleatoric = false;
      std::vector<double> npn_pred, teacher_pred;
      for (const auto& p : surrogate.predict(test_x)) npn_pred.push_back(-p.mean);
      // The same trained networks, read through the teacher.
      BoshnasSurrogate teacher(static_cast<int>(standard.front().size()), rng(), teacher_only);
      Rng teacher_rng(2000 + split);
      teacher.train(train_x, train_y, teacher_rng);
      for (const auto& p : teacher.predict(test_x)) teacher_pred.push_back(-p.mean);
      npn_rho.push_back(spearman(npn_pred, test_glue));
      teacher_rho.push_back(spearman(teacher_pred, test_glue));
      std::fprintf(stderr, "split %d: NPN %.3f teacher %.3f\n", split, npn_rho.back(), teacher_rho.back());
    }
    std::printf("   surrogate trained on a random half (%zu models), Spearman with GLUE on the other half:\n", archs.size() / 2);
    mean_sd("NPN mean (BOSHNAS's prediction)", npn_rho);
    mean_sd("teacher (MC-dropout network)", teacher_rho);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_flexibert: %s\n", error.what());
    return 1;
  }
  return 0;
}
