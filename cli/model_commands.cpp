#include "cli/model_commands.hpp"

#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/cli_run.hpp"
#include "cli/cli_support.hpp"
#include "core/error.hpp"
#include "core/export.hpp"
#include "core/registry.hpp"
#include "datasets/dataset.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"
#include "strategies/method.hpp"

namespace nascent {

namespace {

namespace fs = std::filesystem;

struct StoredCandidate {
  RunRecord run;
  StoredEvaluation evaluation;
};

StoredCandidate stored_candidate(const std::string& db, const std::string& reference) {
  if (!fs::exists(db)) throw Error(db + ": no such database");
  const auto [run_id, seq] = parse_eval(reference);
  ResultStore store(db, ResultStore::Mode::ReadOnly);
  const auto run = store.run(run_id);
  if (!run) throw Error(db + " has no run " + std::to_string(run_id));
  const auto evaluation = store.evaluation(run_id, seq);
  if (!evaluation) throw Error(db + " has no evaluation " + reference);
  return {*run, *evaluation};
}

void load_config_plugins(const Config& config, const std::string& config_dir, const std::vector<std::string>& plugins) {
  for (const auto& plugin : plugins) load_plugin(plugin);
  for (const auto& plugin : config.get<std::vector<std::string>>("plugins", {})) load_plugin(resolve_path(plugin, config_dir));
}

// Architecture strings hold YAML's own punctuation ({}, :, |), so they go in as plain text, not
// through --set's YAML parsing.
void set_train_arch(Config& config, const std::string& arch) {
  YAML::Node root = config.node();  // a handle onto the config's own tree
  YAML::Node steps = root["final_training"];
  if (steps.IsSequence()) {
    if (steps.size() == 0) throw Error("config: final_training: an empty list has no train step");
    steps[0]["arch"] = arch;
  } else {
    root["final_training"]["arch"] = arch;
  }
}


void print_export(const std::string& path, const ExportFigures& figures) {
  std::cout << "wrote " << path << ": " << figures.bytes << " bytes in " << figures.seconds
            << " s; reloaded logits within " << figures.max_difference << " of nascent's"
            << (figures.other_batch_sizes ? "; any batch size" : "; fixed to the recorded batch size") << "\n";
}

}  // namespace

void add_train_command(CLI::App& app, const std::vector<std::string>& plugins, int& exit_status) {
  struct Args {
    std::string config, arch, db = "nascent.db", eval, device;
    std::vector<std::string> overrides;
    std::uint64_t seed = 0;
    bool resume = false, quiet = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "train", "Train one architecture for final_training's epochs (checkpoint per epoch, curves, metrics, weights)");
  cmd->add_option("config", args->config, "YAML config (its space, final_training and dataset); default with --eval: the stored run's");
  cmd->add_option("--arch", args->arch, "Architecture string");
  cmd->add_option("--db", args->db, "Results database (SQLite)")->capture_default_str();
  cmd->add_option("--eval", args->eval, "Train a stored candidate instead: RUN:SEQ of --db, as `results top` lists them");
  auto* seed_opt = cmd->add_option("--seed", args->seed, "Run seed (overrides the config's seed)")->check(at_least(0));
  auto* device_opt = cmd->add_option("--device", args->device, "cpu, cuda or cuda:N");
  cmd->add_option("--set", args->overrides, "Override a config value: key.path=value (repeatable)");
  cmd->add_flag("--resume", args->resume, "Continue the database's latest training run from its last epoch");
  cmd->add_flag("--quiet,-q", args->quiet, "No progress on stderr");
  cmd->callback([args, &plugins, seed_opt, device_opt, &exit_status] {
    SearchOptions options;
    options.train_only = true;
    options.db_path = args->db;
    options.plugins = plugins;
    options.resume = args->resume;
    options.quiet = args->quiet;
    if (args->eval.empty() == args->arch.empty())
      throw Error("nascent train: give either --arch ARCH (with a config) or --eval RUN:SEQ (with --db)");
    if (!args->eval.empty()) {
      const StoredCandidate stored = stored_candidate(args->db, args->eval);
      options.config = args->config.empty() ? Config::parse(stored.run.config) : Config::load_file(args->config);
      set_train_arch(options.config, stored.evaluation.arch);
      if (!args->config.empty()) options.config_dir = fs::path(args->config).parent_path().string();
      if (!*seed_opt) options.seed = stored.run.seed;
    } else {
      if (args->config.empty()) throw Error("nascent train: --arch needs a config (its space, dataset and final_training)");
      options.config = Config::load_file(args->config);
      options.config_dir = fs::path(args->config).parent_path().string();
      set_train_arch(options.config, args->arch);
    }
    for (const auto& assignment : args->overrides) options.config.set(assignment);
    if (*seed_opt) options.seed = args->seed;
    if (*device_opt) options.device = args->device;
    stop_runs_on_interrupt();
    const SearchSummary summary = run_search(options);
    std::cout << "run " << summary.run << " " << (summary.final_metrics.empty() ? "interrupted" : summary.status)
              << ": trained " << summary.best_arch << " in " << summary.elapsed << " s, results in " << args->db << "\n";
    for (const auto& [name, value] : summary.final_metrics) std::cout << "  " << name << " " << value << "\n";
    for (const auto& weights : summary.weights) std::cout << "weights " << weights << "\n";
    if (summary.final_metrics.empty()) exit_status = 130;  // stopped by Ctrl-C; --resume continues
  });
}

void add_export_command(CLI::App& app, const std::vector<std::string>& plugins) {
  struct Args {
    std::string space, arch, weights, out, db, eval, input;
    std::int64_t classes = 10;
    std::int64_t vocabulary = -1;
    std::vector<std::string> space_options;
    int batch = 2;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("export", "Write an architecture as a TorchScript file (torch.jit.load in Python, torch::jit::load in C++)");
  cmd->add_option("space", args->space, "Search space name (or use --db and --eval)");
  cmd->add_option("arch", args->arch, "Architecture string");
  cmd->add_option("--weights", args->weights, "Trained weights (nascent train writes them); default: fresh initialisation, or the stored candidate's final-training weights");
  cmd->add_option("--out", args->out, "The TorchScript file to write")->required();
  cmd->add_option("--db", args->db, "Results database holding the candidate");
  cmd->add_option("--eval", args->eval, "The stored candidate, RUN:SEQ as `results top` lists them");
  cmd->add_option("--input", args->input, "Input shape of one sample, e.g. 3x32x32 (default: the space's)");
  cmd->add_option("--classes", args->classes, "Number of classes")->check(at_least(1))->capture_default_str();
  cmd->add_option("--vocabulary", args->vocabulary,
                  "Token inputs with ids below N (default: 30522 for spaces reading token sequences, else float images)");
  cmd->add_option("--option", args->space_options, "Space option key=value (repeatable)");
  cmd->add_option("--batch", args->batch, "Batch size of the recorded input")->check(at_least(1))->capture_default_str();
  cmd->callback([args, &plugins] {
    std::unique_ptr<SearchSpace> space;
    ExportInfo info;
    Task task;
    std::string weights = args->weights;
    if (!args->eval.empty()) {
      if (args->db.empty()) throw Error("nascent export: --eval needs --db");
      if (!args->space.empty()) throw Error("nascent export: give either SPACE ARCH or --db with --eval, not both");
      const StoredCandidate stored = stored_candidate(args->db, args->eval);
      const Config config = Config::parse(stored.run.config);
      load_config_plugins(config, ".", plugins);
      space = make_run_space(config, ".");
      info.arch = stored.evaluation.arch;
      const std::optional<Config> dataset = run_dataset_section(config);
      if (!dataset)
        throw Error("nascent export: run " + std::to_string(stored.run.id) +
                    "'s config names no dataset, so the input shape is unknown; use nascent export SPACE ARCH --input ...");
      const auto data = registries().datasets.create(dataset->get<std::string>("name", "fashion-mnist"), *dataset, ".");
      task = Task{data->input_shape, data->num_classes, data->vocabulary_size};
      info.mean = data->mean;
      info.std = data->std;
      info.class_names = data->class_names;
      // A final training's evaluation: its weights, where that step wrote them.
      const auto& metrics = stored.evaluation.result.metrics;
      if (weights.empty() && stored.evaluation.stage == Stage::Final && metrics.count("final_step")) {
        const std::size_t step = static_cast<std::size_t>(metrics.at("final_step")) - 1;
        const std::vector<Config> steps = final_training_sections(config);
        const std::string configured = step < steps.size() ? steps[step].get<std::string>("weights", "") : "";
        const std::string trained = configured.empty() ? weights_path_for(args->db, stored.run.id, step) : configured;
        if (!fs::exists(trained))
          throw Error("nascent export: " + trained + " (the weights of evaluation " + args->eval +
                      ") is missing; give --weights, or export untrained weights with SPACE ARCH");
        weights = trained;
      }
    } else {
      if (args->space.empty() || args->arch.empty())
        throw Error("nascent export: give SPACE ARCH, or --db DB --eval RUN:SEQ");
      for (const auto& plugin : plugins) load_plugin(plugin);
      SpaceForInput made = make_space_for_input(args->space, args->space_options, args->input);
      space = std::move(made.space);
      task.input_shape = made.input_shape;
      task.num_classes = args->classes;
      // A one-dimensional input is a token sequence in every built-in space (FlexiBERT).
      const std::int64_t vocabulary = args->vocabulary >= 0 ? args->vocabulary : task.input_shape.size() == 1 ? 30522 : 0;
      task.vocabulary_size = vocabulary;
      info.arch = space->canonical(args->arch);
    }
    info.space = space->name();
    info.input_shape = task.input_shape;
    info.num_classes = task.num_classes;
    info.token_input = task.vocabulary_size > 0;
    std::shared_ptr<Network> net = space->build(info.arch, task);
    auto generator = at::make_generator<at::CPUGeneratorImpl>(0);
    net->reset_parameters(generator);
    if (!weights.empty()) load_weights(*net, info.space, info.arch, weights);
    const torch::Tensor example = example_input(info, args->batch, task.vocabulary_size);
    print_export(args->out, export_torchscript(*net, example, info, args->out));
  });
}

}  // namespace nascent
