// Training throughput of NAS-Bench-201 networks on Fashion-MNIST with the training evaluator.
//   bench_training [steps=30] [device=cpu]
// Prints samples per second at 1 and 2 LibTorch threads for the benchmark's own network (C=16,
// N=5, 3x32x32 input: Fashion-MNIST resized and replicated) and for the quickstart's (C=8, N=1,
// native 1x28x28), both with the best NAS-Bench-201 cell.
#include <ATen/Parallel.h>

#include <cstdio>
#include <cstdlib>

#include "evaluators/train_evaluator.hpp"
#include "search_spaces/nb201/nb201.hpp"

using namespace nascent;

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 30;
  const std::string device = argc > 2 ? argv[2] : "cpu";
  const std::string cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|";
  struct Setup {
    const char* label;
    int channels, cells;
    std::int64_t resize, input_channels;
  };
  for (const Setup setup : {Setup{"NB201 C=16 N=5, 3x32x32", 16, 5, 32, 3}, Setup{"NB201 C=8 N=1, 1x28x28", 8, 1, 0, 1}}) {
    FashionMnistOptions data;
    data.resize = setup.resize;
    data.channels = setup.input_channels;
    data.val_subset = 256;
    data.test_subset = 1;
    TrainEvaluator::Options options;
    options.training.steps = steps;
    options.training.batch_size = 64;
    options.latency = false;
    options.device = device;
    TrainEvaluator evaluator(load_fashion_mnist(data), options);
    Nb201Space space(setup.channels, setup.cells);
    for (int threads : {1, 2}) {
      at::set_num_threads(threads);
      evaluator.evaluate(space, cell, 0);  // warm-up: allocator and kernels
      const Evaluation e = evaluator.evaluate(space, cell, 1);
      if (!e.ok) {
        std::fprintf(stderr, "bench_training: %s\n", e.error.c_str());
        return 1;
      }
      const double seconds = e.metrics.at("train_seconds");
      std::printf("%-26s %s threads %d: %d steps x 64 in %.2f s = %.0f training samples/s\n", setup.label, device.c_str(), threads, steps,
                  seconds, steps * 64 / seconds);
    }
  }
  return 0;
}
