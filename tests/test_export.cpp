// TorchScript export: every built-in space's networks leave as files that C++ and Python load
// with nascent's own logits; weights files round-trip and refuse other architectures.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <torch/script.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/export.hpp"
#include "core/network.hpp"
#include "core/registry.hpp"
#include "results/store.hpp"
#include "search_spaces/einspace/einspace.hpp"
#include "tests/test_support.hpp"

namespace nascent {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<SearchSpace> space_named(const std::string& name, const std::string& options = "{}") {
  return registries().spaces.create(name, Config::parse(options));
}

std::set<std::string> parameter_names(Network& net) {
  std::set<std::string> names;
  for (const auto& item : net.named_parameters()) names.insert(item.key());
  return names;
}

std::set<std::string> parameter_names(const torch::jit::Module& module) {
  std::set<std::string> names;
  for (const auto& item : module.named_parameters()) names.insert(item.name);
  return names;
}

torch::Tensor logits_of(Network& net, const torch::Tensor& input) {
  torch::NoGradGuard no_grad;
  net.eval();
  return net.forward(input);
}

double max_difference(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

std::string floats_json(const torch::Tensor& t) {
  const torch::Tensor flat = t.to(torch::kFloat64).contiguous().view(-1);
  std::string text = "[";
  char number[40];
  for (std::int64_t i = 0; i < flat.numel(); ++i) {
    std::snprintf(number, sizeof number, "%.17g", flat[i].item<double>());
    text += (i ? "," : "") + std::string(number);
  }
  return text + "]";
}

class ExportTest : public ScratchDirTest {
 protected:
  struct Exported {
    std::shared_ptr<Network> net;
    ExportInfo info;
    std::string path;
  };

  Exported export_arch(const SearchSpace& space, const std::string& arch, const Task& task, const std::string& file) {
    Exported out;
    out.net = space.build(arch, task);
    auto generator = at::make_generator<at::CPUGeneratorImpl>(3);
    out.net->reset_parameters(generator);
    out.info.space = space.name();
    out.info.arch = arch;
    out.info.input_shape = task.input_shape;
    out.info.num_classes = task.num_classes;
    out.info.token_input = task.vocabulary_size > 0;
    out.path = path(file);
    const ExportFigures figures =
        export_torchscript(*out.net, example_input(out.info, 2, task.vocabulary_size, 1), out.info, out.path);
    EXPECT_LE(figures.max_difference, 1e-5) << space.name() << " " << arch;
    EXPECT_GT(figures.bytes, 0u);
    EXPECT_TRUE(figures.other_batch_sizes) << space.name() << ": the module only takes the recorded batch size";
    return out;
  }

  // C++ round trip: the file, loaded by torch::jit::load, gives nascent's logits on another
  // input and batch size, under nascent's parameter names.
  void expect_cpp_round_trip(const SearchSpace& space, const std::string& arch, const Task& task) {
    const Exported exported = export_arch(space, arch, task, space.name() + ".pt");
    torch::jit::ExtraFilesMap extra{{kExportInfoFile, ""}};
    torch::jit::Module loaded = torch::jit::load(exported.path, torch::kCPU, extra);
    const torch::Tensor input = example_input(exported.info, 3, task.vocabulary_size, 7);
    torch::NoGradGuard no_grad;
    EXPECT_LE(max_difference(loaded.forward({input}).toTensor(), logits_of(*exported.net, input)), 1e-5) << space.name();
    EXPECT_EQ(parameter_names(loaded), parameter_names(*exported.net)) << space.name();
    EXPECT_EQ(nlohmann::json::parse(extra[kExportInfoFile]).at("arch"), arch);
  }

  // Python round trip with Debian's python3-torch (/usr/bin/python3: the first python3 on PATH
  // may be another interpreter without torch).
  void expect_python_round_trip(const SearchSpace& space, const std::string& arch, const Task& task,
                                const std::string& model = "") {
    Exported exported;
    if (model.empty()) {
      exported = export_arch(space, arch, task, "python-" + space.name() + ".pt");
    } else {
      exported.path = model;
      exported.net = space.build(arch, task);
      exported.info.input_shape = task.input_shape;
      exported.info.token_input = task.vocabulary_size > 0;
    }
    expect_python_matches(exported.path, *exported.net, exported.info, arch, task.vocabulary_size);
  }

  void expect_python_matches(const std::string& model, Network& net, const ExportInfo& info, const std::string& arch,
                             std::int64_t vocabulary) {
    const torch::Tensor input = example_input(info, 3, vocabulary, 11);
    const torch::Tensor logits = logits_of(net, input);
    std::string names;
    for (const std::string& name : parameter_names(net)) names += (names.empty() ? "\"" : ",\"") + name + "\"";
    std::string shape;
    for (auto d : input.sizes()) shape += (shape.empty() ? "" : ",") + std::to_string(d);
    std::string arch_json;
    for (char c : arch) arch_json += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
    const std::string expected = write("expected.json", "{\"shape\":[" + shape + "],\"tokens\":" +
                                                             (info.token_input ? "true" : "false") + ",\"input\":" +
                                                             floats_json(input) + ",\"logits\":" + floats_json(logits) +
                                                             ",\"parameters\":[" + names + "],\"arch\":\"" + arch_json + "\"}");
    const std::string command = "/usr/bin/python3 " + std::string(NASCENT_SOURCE_DIR) + "/tests/python/check_export.py " +
                                model + " " + expected + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string out;
    char buffer[4096];
    while (std::size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    const int status = pclose(pipe);
    EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0) << out;
  }
};

TEST_F(ExportTest, Nb201CellNetworksRoundTripInCpp) {
  auto space = space_named("nb201", "{channels: 8, cells_per_stage: 1}");
  Rng rng(1);
  for (int i = 0; i < 3; ++i) expect_cpp_round_trip(*space, space->sample(rng), Task{{3, 32, 32}, 10});
}

TEST_F(ExportTest, DartsCellNetworksRoundTripInCpp) {
  auto space = space_named("darts", "{channels: 8, layers: 5}");
  Rng rng(2);
  for (int i = 0; i < 2; ++i) expect_cpp_round_trip(*space, space->sample(rng), Task{{3, 32, 32}, 10});
}

TEST_F(ExportTest, EinspaceSampledDerivationsAndTheFourBaselinesRoundTripInCpp) {
  auto space = space_named("einspace");
  Rng rng(4);
  for (int i = 0; i < 4; ++i) expect_cpp_round_trip(*space, space->sample(rng), Task{{3, 32, 32}, 10});
  for (const auto& [name, arch] : einspace_seed_architectures()) {
    SCOPED_TRACE(name);
    expect_cpp_round_trip(*space, space->canonical(arch), Task{{3, 32, 32}, 10});
  }
}

TEST_F(ExportTest, FlexibertEncodersRoundTripInCpp) {
  auto space = space_named("flexibert");
  Rng rng(5);
  for (int i = 0; i < 3; ++i) expect_cpp_round_trip(*space, space->sample(rng), Task{{16}, 4, 200});
}

TEST_F(ExportTest, OnceForAllSubnetworksRoundTripInCpp) {
  auto space = space_named("ofa_mbv3", "{width_mult: 0.5, resolutions: [32]}");
  Rng rng(6);
  for (int i = 0; i < 2; ++i) expect_cpp_round_trip(*space, space->sample(rng), Task{{3, 32, 32}, 10});
}

TEST_F(ExportTest, VitResNasSubnetworksRoundTripInCpp) {
  auto space = space_named("vit_resnas", "{preset: tiny, width_divisor: 8, classes: 4}");
  Rng rng(7);
  for (int i = 0; i < 2; ++i) expect_cpp_round_trip(*space, space->sample(rng), Task{{3, 56, 56}, 4});
}

TEST_F(ExportTest, NasBenchNlpLanguageModelsRoundTripInCpp) {
  auto space = space_named("nasbench_nlp", "{embedding: 16, hidden: 24}");
  Rng rng(8);
  for (int i = 0; i < 2; ++i) expect_cpp_round_trip(*space, space->sample(rng), Task{{12}, 4, 100});
  expect_cpp_round_trip(*space, space->sample(rng), Task{{12}, 100, 100});  // the tied decoder
}

// A plugin's space exports with no export code of its own: whatever its forward computes is recorded.
TEST_F(ExportTest, APluginSpaceExportsLikeTheBuiltIns) {
  load_plugin(NASCENT_EXAMPLE_PLUGIN);
  auto space = space_named("chain");
  Rng rng(3);
  for (int i = 0; i < 2; ++i) expect_cpp_round_trip(*space, space->sample(rng), Task{{1, 16, 16}, 3});
}

TEST_F(ExportTest, PythonLoadsNb201EinspaceAndFlexibertWithTheSameLogits) {
  auto nb201 = space_named("nb201", "{channels: 8, cells_per_stage: 1}");
  auto einspace = space_named("einspace");
  auto flexibert = space_named("flexibert");
  Rng rng(8);
  expect_python_round_trip(*nb201, nb201->sample(rng), Task{{3, 32, 32}, 10});
  expect_python_round_trip(*einspace, einspace->sample(rng), Task{{3, 32, 32}, 10});
  expect_python_round_trip(*einspace, einspace->canonical(einspace_seed_architectures().at("resnet18")), Task{{3, 32, 32}, 10});
  expect_python_round_trip(*flexibert, flexibert->sample(rng), Task{{16}, 4, 200});
}

TEST_F(ExportTest, WeightsRoundTripAndRefuseAnotherArchitectureOrABadFile) {
  auto space = space_named("nb201", "{channels: 8, cells_per_stage: 1}");
  Rng rng(9);
  const std::string arch = space->sample(rng);
  std::string other = space->sample(rng);
  while (other == arch) other = space->sample(rng);
  const Task task{{3, 32, 32}, 10};
  auto trained = space->build(arch, task);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(1);
  trained->reset_parameters(generator);
  const std::string file = path("net.weights");
  save_weights(*trained, "nb201", arch, file);

  auto fresh = space->build(arch, task);
  load_weights(*fresh, "nb201", arch, file);
  const torch::Tensor input = torch::randn({2, 3, 32, 32});
  EXPECT_EQ(max_difference(logits_of(*fresh, input), logits_of(*trained, input)), 0.0);

  auto wrong = space->build(other, task);
  EXPECT_ERROR(load_weights(*wrong, "nb201", other, file), "weights of nb201 architecture");
  EXPECT_ERROR(load_weights(*fresh, "nb201", arch, path("missing.weights")), "no such weights file");
  EXPECT_ERROR(load_weights(*fresh, "nb201", arch, write("garbage.weights", "not an archive")), "not a nascent weights file");
  // A folder where the file should be: one line, and no .partial file left behind.
  fs::create_directories(path("folder.weights"));
  EXPECT_ERROR(save_weights(*trained, "nb201", arch, path("folder.weights")), "cannot write weights");
  EXPECT_FALSE(fs::exists(path("folder.weights.partial")));
  EXPECT_ERROR(load_weights(*fresh, "nb201", arch, path("folder.weights")), "is a folder, not a weights file");

  // One flipped bit inside a tensor's bytes: refused, and the network keeps the weights it had.
  std::string bytes = file_bytes(file);
  const torch::Tensor first = trained->named_parameters().begin()->value().detach().contiguous();
  const std::string tensor_bytes(static_cast<const char*>(first.data_ptr()), first.nbytes());
  const auto at = bytes.find(tensor_bytes);
  ASSERT_NE(at, std::string::npos);
  bytes[at + tensor_bytes.size() / 2] ^= 0x10;
  const std::string damaged = write("damaged.weights", bytes);
  auto untouched = space->build(arch, task);
  const torch::Tensor before = logits_of(*untouched, input);
  EXPECT_ERROR(load_weights(*untouched, "nb201", arch, damaged), "damaged weights file (checksum mismatch)");
  EXPECT_EQ(max_difference(logits_of(*untouched, input), before), 0.0);
}

TEST_F(ExportTest, CliExportsAnArchitectureAndRefusesABadOne) {
  const CliOutput ok = run_cli("export nb201 '|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|nor_conv_1x1~1|skip_connect~2|' "
                               "--option channels=8 --option cells_per_stage=1 --out " + path("cli.pt"));
  EXPECT_EQ(ok.status, 0) << ok.out;
  EXPECT_NE(ok.out.find("any batch size"), std::string::npos) << ok.out;
  EXPECT_TRUE(fs::exists(path("cli.pt")));
  const CliOutput bad = run_cli("export nb201 '|conv_9x9~0|' --out " + path("bad.pt"));
  EXPECT_NE(bad.status, 0);
  EXPECT_EQ(bad.out.find('\n'), bad.out.size() - 1) << bad.out;
  EXPECT_FALSE(fs::exists(path("bad.pt")));
}

// The quickstart's search, shortened: its best candidate trains with `nascent train`, exports with
// its trained weights from the database, and Python reloads it with nascent's logits.
TEST_F(ExportTest, QuickstartsBestTrainsExportsAndReloadsInPython) {
  const std::string db = path("quickstart.db");
  const std::string shorter =
      " --set budget.evaluations=3 --set evaluator.epochs=1 --set evaluator.dataset.train_subset=256"
      " --set evaluator.dataset.val_subset=128 --set evaluator.dataset.test_subset=128 --set parallel.workers=1"
      " --set evaluator.latency=false";
  const CliOutput search = run_cli("search " + std::string(NASCENT_SOURCE_DIR) + "/examples/quickstart.yaml --quiet --db " + db + shorter);
  ASSERT_EQ(search.status, 0) << search.out;
  std::int64_t best_seq = -1;
  double best = -1;
  std::string best_arch;
  {
    ResultStore store(db, ResultStore::Mode::ReadOnly);
    for (const auto& e : store.evaluations(1))
      if (e.fitness && *e.fitness > best) best = *e.fitness, best_seq = e.seq, best_arch = e.arch;
  }
  ASSERT_GE(best_seq, 0);
  const CliOutput train = run_cli("train --quiet --db " + db + " --eval 1:" + std::to_string(best_seq) +
                                  " --set final_training.epochs=1 --set final_training.test=false");
  ASSERT_EQ(train.status, 0) << train.out;
  ASSERT_TRUE(fs::exists(db + ".models/run-2.weights")) << train.out;
  const CliOutput exported = run_cli("export --db " + db + " --eval 2:0 --out " + path("best.pt"));
  ASSERT_EQ(exported.status, 0) << exported.out;

  auto space = space_named("nb201", "{channels: 8, cells_per_stage: 1}");
  auto net = space->build(best_arch, Task{{1, 28, 28}, 10});
  load_weights(*net, "nb201", best_arch, db + ".models/run-2.weights");
  ExportInfo info;
  info.input_shape = {1, 28, 28};
  expect_python_matches(path("best.pt"), *net, info, best_arch, 0);
}

}  // namespace
}  // namespace nascent
