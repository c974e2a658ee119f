// einspace sampling at scale.
//   bench_einspace [key=value ...]   keys (defaults): n=10000  seed=0  input=1x28x28  threads=1
// Draws n derivations from the einspace grammar and, for each, checks that it round-trips
// through its string, builds as a LibTorch module and runs a forward pass (batch 1, eval mode).
// Prints the share that succeed, tree-size and parameter quantiles, the grammar's sampling rate
// alone and the rate of the whole sample-build-forward pipeline.
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include "bench/bench_args.hpp"
#include "core/input_shape.hpp"
#include "core/network.hpp"
#include "core/registry.hpp"
#include "search_spaces/einspace/einspace.hpp"
#include "search_spaces/grammar/grammar_space.hpp"

using namespace nascent;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(q * (values.size() - 1) + 0.5)];
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_bench_args(argc, argv, "bench_einspace", {{"n", "10000"}, {"seed", "0"}, {"input", "1x28x28"}, {"threads", "1"}});
  if (!parsed) return 2;
  auto& args = *parsed;
  try {
    const int n = std::stoi(args["n"]);
    const auto input = parse_input_shape(args["input"], "input");
    at::set_num_threads(std::stoi(args["threads"]));
    const std::unique_ptr<GrammarSpace> space =
        make_einspace(registries().spaces.at("einspace").options.read(Config::parse("{input: " + args["input"] + "}"), "space einspace"));
    const GrammarSpace& grammar_space = *space;

    // Sampling alone: the grammar engine's rate.
    Rng rng(std::stoull(args["seed"]));
    std::vector<std::string> samples;
    const auto sampling_start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) samples.push_back(space->sample(rng));
    const double sampling_seconds = seconds_since(sampling_start);

    // Round trip, build and forward for each.
    std::vector<double> nodes, depths, params, macs;
    int round_trips = 0, built = 0, ran = 0;
    std::map<std::string, int> failures;
    torch::NoGradGuard no_grad;
    std::vector<std::int64_t> batch_shape{1};
    batch_shape.insert(batch_shape.end(), input.begin(), input.end());
    const torch::Tensor x = torch::randn(batch_shape);
    const auto pipeline_start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      const std::string& arch = samples[i];
      try {
        if (space->canonical(arch) == arch) ++round_trips;
        const grammar::Node tree = grammar_space.parse(arch);
        const grammar::Measures m = grammar::measure(grammar_space.grammar(), tree, 10);
        nodes.push_back(m.nodes);
        depths.push_back(m.depth);
        params.push_back(m.params);
        macs.push_back(m.macs);
        auto net = space->build(arch, Task{input, 10});
        ++built;
        net->eval();
        const torch::Tensor logits = net->forward(x);
        if (logits.size(0) == 1 && logits.size(1) == 10 && torch::isfinite(logits).all().item<bool>()) ++ran;
        else ++failures["non-finite or wrong-shaped logits"];
      } catch (const std::exception& e) {
        std::string message = e.what();
        ++failures[message.substr(0, message.find('\n')).substr(0, 160)];
      }
      if ((i + 1) % 1000 == 0) std::fprintf(stderr, "[%d/%d] %d ran  %.0f s\n", i + 1, n, ran, seconds_since(pipeline_start));
    }
    const double pipeline_seconds = seconds_since(pipeline_start) + sampling_seconds;

    std::printf("einspace, %d samples at %s (seed %s)\n", n, args["input"].c_str(), args["seed"].c_str());
    std::printf("  round-trip through the string  %d / %d\n", round_trips, n);
    std::printf("  build a LibTorch module        %d / %d\n", built, n);
    std::printf("  forward pass, finite logits    %d / %d (%.2f%%)\n", ran, n, 100.0 * ran / n);
    std::printf("  tree size (nodes)  median %.0f  p95 %.0f  max %.0f\n", quantile(nodes, 0.5), quantile(nodes, 0.95),
                quantile(nodes, 1.0));
    std::printf("  tree depth         median %.0f  p95 %.0f  max %.0f\n", quantile(depths, 0.5), quantile(depths, 0.95),
                quantile(depths, 1.0));
    std::printf("  parameters         median %.0f  p95 %.0f  max %.0f\n", quantile(params, 0.5), quantile(params, 0.95),
                quantile(params, 1.0));
    std::printf("  MACs per sample    median %.0f  p95 %.0f  max %.0f\n", quantile(macs, 0.5), quantile(macs, 0.95),
                quantile(macs, 1.0));
    std::printf("  sampling alone     %.0f samples/s (%.2f s)\n", n / sampling_seconds, sampling_seconds);
    std::printf("  sample+check+build+forward  %.1f samples/s (%.1f s, %d thread(s))\n", n / pipeline_seconds, pipeline_seconds,
                at::get_num_threads());
    for (const auto& [message, count] : failures) std::printf("  failure x%d: %s\n", count, message.c_str());
    return ran == n ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_einspace: %s\n", e.what());
    return 2;
  }
}
