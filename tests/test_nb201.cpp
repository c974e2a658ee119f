#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "core/network.hpp"
#include "core/registry.hpp"
#include "search_spaces/nb201/nb201.hpp"

namespace nascent {
namespace {

const std::string kExample = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_1x1~2|";

TEST(Nb201, PrintParseRoundTripsForEveryCell) {
  Nb201Space space;
  const auto all = space.enumerate();
  ASSERT_EQ(all.size(), 15625u);
  std::set<std::string> distinct(all.begin(), all.end());
  EXPECT_EQ(distinct.size(), 15625u);
  for (const auto& arch : all) ASSERT_EQ(space.canonical(arch), arch);
}

TEST(Nb201, MalformedStringsSayWhatAndWhere) {
  Nb201Space space;
  auto message = [&](const std::string& text) {
    try {
      space.canonical(text);
    } catch (const ParseError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("|avg_pool_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|conv_5x5~2|")
                .find("unknown operation 'conv_5x5'"),
            std::string::npos);
  EXPECT_NE(message("|avg_pool_3x3~0|+|skip_connect~0|none~1|").find("expected '+'"), std::string::npos);
  EXPECT_NE(message("|avg_pool_3x3~1|+|skip_connect~0|none~1|+|none~0|none~1|none~2|").find("must take input 0"),
            std::string::npos);
  EXPECT_NE(message(kExample + "x").find("trailing"), std::string::npos);
  EXPECT_NE(message("").find("at character 0"), std::string::npos);
}

TEST(Nb201, MutationChangesExactlyOneEdge) {
  Nb201Space space;
  Rng rng(7);
  for (int i = 0; i < 200; ++i) {
    const std::string parent = space.sample(rng);
    const std::string child = space.mutate(parent, rng);
    const auto a = Nb201Space::parse(parent), b = Nb201Space::parse(child);
    int changed = 0;
    for (int e = 0; e < Nb201Space::kEdges; ++e) changed += a[e] != b[e];
    EXPECT_EQ(changed, 1);
  }
}

TEST(Nb201, FingerprintFindsTheBenchmarks6466UniqueCells) {
  Nb201Space space;
  std::set<std::string> fingerprints;
  for (const auto& arch : space.enumerate()) fingerprints.insert(space.fingerprint(arch));
  EXPECT_EQ(fingerprints.size(), 6466u);
  // Node 1 is a copy of the input, so the convolution may read either of them.
  EXPECT_EQ(space.fingerprint("|skip_connect~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|"),
            space.fingerprint("|skip_connect~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|"));
  EXPECT_NE(space.fingerprint("|skip_connect~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|"),
            space.fingerprint("|skip_connect~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|skip_connect~2|"));
}

TEST(Nb201, ReproducesThePublishedExampleFigures) {
  Nb201Space space;
  const Description d = space.describe(kExample, Task{{3, 32, 32}, 10});
  EXPECT_DOUBLE_EQ(d.params, 129306);
  EXPECT_DOUBLE_EQ(d.flops, 19248832);
}

TEST(Nb201, BuiltNetworkHasTheDescribedParameterCountAndRuns) {
  Nb201Space space(8, 1);
  Rng rng(3);
  for (const Task& task : {Task{{3, 32, 32}, 10}, Task{{1, 28, 28}, 7}}) {
    for (int i = 0; i < 5; ++i) {
      const std::string arch = space.sample(rng);
      auto net = space.build(arch, task);
      std::int64_t count = 0;
      for (const auto& p : net->parameters()) count += p.numel();
      EXPECT_EQ(count, static_cast<std::int64_t>(space.describe(arch, task).params)) << arch;
      auto out = net->forward(torch::randn({2, task.input_shape[0], task.input_shape[1], task.input_shape[2]}));
      EXPECT_EQ(out.sizes(), (std::vector<std::int64_t>{2, task.num_classes}));
    }
  }
}

TEST(Nb201, SeededInitialisationIsReproducible) {
  Nb201Space space(8, 1);
  auto a = space.build(kExample, Task{});
  auto b = space.build(kExample, Task{});
  auto g1 = at::make_generator<at::CPUGeneratorImpl>(11);
  auto g2 = at::make_generator<at::CPUGeneratorImpl>(11);
  a->reset_parameters(g1);
  b->reset_parameters(g2);
  auto pa = a->parameters(), pb = b->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i]));
}

std::string shared_data(const std::string& relative) {
  return std::string(NASCENT_SOURCE_DIR) + "/../shared/data/" + relative;
}

// Every cell of NAS-Bench-Suite-Zero's table: params and FLOPs exact to the table's precision
// (1e-6 M); for every 50th cell the built module's parameters are counted too.
TEST(Nb201, ParamsAndFlopsMatchThePublishedTableForAllCells) {
  const std::string path = shared_data("nas-bench-201/zc_proxies_cifar10.csv");
  std::ifstream in(path);
  if (!in) GTEST_SKIP() << "no " << path;
  Nb201Space space;
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  {
    std::stringstream s(line);
    for (std::string cell; std::getline(s, cell, ',');) header.push_back(cell);
  }
  const auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  const std::size_t arch_col = column("arch"), params_col = column("params"), flops_col = column("flops");
  ASSERT_LT(flops_col, header.size());
  int rows = 0;
  double worst_flops = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream s(line);
    for (std::string cell; std::getline(s, cell, ',');) cells.push_back(cell);
    const Description d = space.describe(cells[arch_col], Task{{3, 32, 32}, 10});
    ASSERT_NEAR(d.params / 1e6, std::stod(cells[params_col]), 1e-6) << cells[arch_col];
    worst_flops = std::max(worst_flops, std::abs(d.flops / 1e6 - std::stod(cells[flops_col])));
    if (rows % 50 == 0) {
      std::int64_t built = 0;
      for (const auto& p : space.build(cells[arch_col], Task{{3, 32, 32}, 10})->parameters()) built += p.numel();
      ASSERT_EQ(static_cast<double>(built), d.params) << cells[arch_col];
    }
    ++rows;
  }
  EXPECT_EQ(rows, 9445);
  EXPECT_LE(worst_flops, 1e-6);
}

TEST(Nb201, JoinsTheRegistry) {
  auto space = registries().spaces.create("nb201", Config::parse("channels: 8\ncells_per_stage: 2"));
  EXPECT_EQ(space->name(), "nb201");
  EXPECT_THROW(registries().spaces.create("nb201", Config::parse("chanels: 8")), Error);
  EXPECT_THROW(registries().spaces.create("nope", Config()), Error);
}

}  // namespace
}  // namespace nascent
