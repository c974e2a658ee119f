// Search cost per step (and per epoch) of first-order DARTS, second-order DARTS and RARTS on the
// cell supernets, with Fashion-MNIST batches (native 1x28x28).
//   bench_darts [space=nb201] [channels=8] [cells=1] [steps=8] [batch=64] [threads=2]
// space nb201: NAS-Bench-201 supernet, `cells` cells per stage; space darts: the DARTS supernet
// with `cells` layers. RARTS (Xue et al.) claims about 40% of second-order DARTS's search cost.
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "bench/bench_args.hpp"
#include "strategies/differentiable.hpp"

using namespace nascent;

int main(int argc, char** argv) {
  const auto args = parse_bench_args(argc, argv, "bench_darts",
                                     {{"space", "nb201"}, {"channels", "8"}, {"cells", "1"}, {"steps", "8"}, {"batch", "64"}, {"threads", "2"}});
  if (!args) return 2;
  const std::string space = args->at("space");
  const int steps = std::atoi(args->at("steps").c_str());
  const std::int64_t batch = std::atoll(args->at("batch").c_str());
  at::set_num_threads(std::atoi(args->at("threads").c_str()));
  FashionMnistOptions data_options;
  data_options.train_subset = 4 * batch * (steps + 1);
  data_options.val_subset = 1;
  data_options.test_subset = 1;
  const DataSplits data = load_fashion_mnist(data_options);
  const Task task{data.input_shape, data.num_classes};
  const Config supernet = Config::parse("{channels: " + args->at("channels") + ", " +
                                        (space == "nb201" ? "cells_per_stage: " : "layers: ") + args->at("cells") + "}");
  std::printf("%s supernet (channels %s, %s %s), Fashion-MNIST 1x28x28, batch %lld, %d LibTorch threads\n", space.c_str(),
              args->at("channels").c_str(), space == "nb201" ? "cells per stage" : "layers", args->at("cells").c_str(),
              static_cast<long long>(batch), at::get_num_threads());
  struct Method {
    const char* label;
    std::string name;
    int order;
  };
  double second_order = 0;
  std::vector<std::pair<std::string, double>> results;
  for (const Method& method : {Method{"DARTS 2nd order", "darts", 2}, Method{"DARTS 1st order", "darts", 1}, Method{"RARTS", "rarts", 1}}) {
    DifferentiableOptions options;
    options.method = method.name;
    options.order = method.order;
    options.epochs = 1;
    options.batch_size = batch;
    options.steps_per_epoch = steps + 1;
    auto w = make_cell_supernet(space, supernet, task);
    auto y = method.name == "rarts" ? make_cell_supernet(space, supernet, task) : nullptr;
    DifferentiableSearch search(w, y, data.train, options, 0);
    // The first step warms up allocations; the epoch's closing evaluation is not timed.
    std::chrono::steady_clock::time_point first, last;
    search.run_epoch([&](std::int64_t step, std::int64_t, double) {
      last = std::chrono::steady_clock::now();
      if (step == 1) first = last;
    });
    const double per_step = std::chrono::duration<double>(last - first).count() / steps;
    if (method.order == 2) second_order = per_step;
    std::printf("%-16s %7.3f s/step  %6.1f s per 50,000-image epoch (25,000 weight + 25,000 alpha images)  %5.1f%% of 2nd-order DARTS\n",
                method.label, per_step, per_step * (25000.0 / batch), 100.0 * per_step / second_order);
  }
  return 0;
}
