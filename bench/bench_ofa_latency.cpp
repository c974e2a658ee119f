// OFA latency lookup table against measured latency: builds the table for a space on this machine,
// then times `subnets` random sub-networks end to end (batch 1) and prints the Spearman rank
// correlation and the mean relative error of the table's predictions.
// Usage: bench_ofa_latency [width_mult=0.5] [resolutions=24,28,32] [channels=1] [classes=10]
//        [subnets=200] [repeats=20] [threads=1] [device=cpu] [seed=0]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <sstream>

#include "bench/bench_args.hpp"
#include "core/stats.hpp"
#include "evaluators/ofa_latency_table.hpp"
#include "supernets/ofa_mbv3.hpp"

int main(int argc, char** argv) {
  using namespace nascent;
  try {
    const auto args = parse_bench_args(argc, argv, "bench_ofa_latency",
                                       {{"width_mult", "0.5"}, {"resolutions", "24,28,32"}, {"channels", "1"}, {"classes", "10"},
                                        {"subnets", "200"}, {"repeats", "20"}, {"threads", "1"}, {"device", "cpu"}, {"seed", "0"}});
    if (!args) return 2;
    const auto get = [&](const std::string& key, const std::string&) { return args->at(key); };
    OfaSpec spec;
    spec.width_mult = std::stod(get("width_mult", "0.5"));
    spec.resolutions.clear();
    std::stringstream list(get("resolutions", "24,28,32"));
    for (std::string r; std::getline(list, r, ',');) spec.resolutions.push_back(std::stoll(r));
    const std::int64_t channels = std::stoll(get("channels", "1")), classes = std::stoll(get("classes", "10"));
    const int subnets = std::stoi(get("subnets", "200")), repeats = std::stoi(get("repeats", "20"));
    const std::string device = get("device", "cpu");
    at::set_num_threads(std::stoi(get("threads", "1")));
    const auto started = std::chrono::steady_clock::now();
    const OfaLatencyTable table = OfaLatencyTable::measure(spec, channels, classes, device, repeats);
    const double table_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    OfaSpace space(spec);
    Rng rng(std::stoull(get("seed", "0")));
    std::vector<double> predicted, measured;
    double relative = 0;
    for (int i = 0; i < subnets; ++i) {
      const OfaArch arch = spec.sample(rng);
      auto net = std::make_shared<OfaMbv3>(OfaNetShape::subnet(spec, arch), Task{{channels, arch.r, arch.r}, classes});
      net->to(torch::Device(device));
      measured.push_back(measure_latency_ms(*net, {channels, arch.r, arch.r}, device, repeats));
      predicted.push_back(table.predict(spec, arch));
      relative += std::abs(predicted.back() - measured.back()) / measured.back() / subnets;
    }
    double mean_measured = 0, mean_predicted = 0;
    for (double m : measured) mean_measured += m / subnets;
    for (double p : predicted) mean_predicted += p / subnets;
    std::printf("OFA latency table: width_mult %.2f, %zu entries built in %.1f s on %s (%d threads)\n", spec.width_mult, table.entries.size(),
                table_seconds, device.c_str(), at::get_num_threads());
    std::printf("%d random sub-networks, batch 1: measured mean %.3f ms, predicted mean %.3f ms; table Spearman %.3f, mean relative error %.1f%%\n",
                subnets, mean_measured, mean_predicted, spearman(predicted, measured), relative * 100);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_ofa_latency: %s\n", error.what());
    return 1;
  }
}
