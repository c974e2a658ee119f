// TorchScript export time and file size for each built-in space, at each space's default size
// (the sizes a user would ship), plus the largest logit difference after reloading the file.
// Usage: bench_export [samples=3] [seed=0] [threads=2] [out=/tmp]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "bench/bench_args.hpp"
#include "core/export.hpp"
#include "core/network.hpp"
#include "core/registry.hpp"
#include "search_spaces/einspace/einspace.hpp"

int main(int argc, char** argv) {
  using namespace nascent;
  try {
    const auto args = parse_bench_args(argc, argv, "bench_export", {{"samples", "3"}, {"seed", "0"}, {"threads", "2"}, {"out", "/tmp"}});
    if (!args) return 2;
    at::set_num_threads(std::stoi(args->at("threads")));
    const int samples = std::stoi(args->at("samples"));
    struct Case {
      std::string space, options;
      Task task;
    };
    // FlexiBERT with BERT's vocabulary, as the space builds by default; images at the spaces' own sizes.
    const std::vector<Case> cases{{"nb201", "{}", Task{{3, 32, 32}, 10}},
                                  {"darts", "{}", Task{{3, 32, 32}, 10}},
                                  {"einspace", "{}", Task{{3, 32, 32}, 10}},
                                  {"flexibert", "{}", Task{{64}, 2, 30522}},
                                  {"ofa_mbv3", "{}", Task{{3, 224, 224}, 1000}},
                                  {"vit_resnas", "{}", Task{{3, 224, 224}, 1000}}};
    std::printf("%-22s %10s %12s %10s %12s %s\n", "space", "seconds", "bytes", "params", "max |diff|", "any batch");
    const std::string file = (std::filesystem::path(args->at("out")) / "nascent-bench-export.pt").string();
    const auto run = [&](const SearchSpace& space, const std::string& label, const std::string& arch, const Task& task) {
      auto net = space.build(arch, task);
      auto generator = at::make_generator<at::CPUGeneratorImpl>(0);
      net->reset_parameters(generator);
      std::int64_t params = 0;
      for (const auto& p : net->parameters()) params += p.numel();
      ExportInfo info;
      info.space = space.name();
      info.arch = arch;
      info.input_shape = task.input_shape;
      info.num_classes = task.num_classes;
      info.token_input = task.vocabulary_size > 0;
      const ExportFigures figures = export_torchscript(*net, example_input(info, 2, task.vocabulary_size), info, file);
      std::printf("%-22s %10.3f %12ju %10lld %12.2e %s\n", label.c_str(), figures.seconds, figures.bytes,
                  static_cast<long long>(params), figures.max_difference, figures.other_batch_sizes ? "yes" : "no");
      std::fflush(stdout);
    };
    for (const Case& c : cases) {
      auto space = registries().spaces.create(c.space, Config::parse(c.options));
      Rng rng(std::stoull(args->at("seed")));
      for (int i = 0; i < samples; ++i) run(*space, c.space + " sample " + std::to_string(i), space->sample(rng), c.task);
      if (c.space == "einspace")
        for (const auto& [name, arch] : einspace_seed_architectures()) run(*space, "einspace " + name, space->canonical(arch), c.task);
    }
    std::filesystem::remove(file);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_export: %s\n", error.what());
    return 1;
  }
  return 0;
}
