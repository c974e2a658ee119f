#include "tests/fuzz/targets.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"
#include "evaluators/table_evaluator.hpp"

namespace nascent {

namespace {

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what.c_str());
  std::abort();
}

// Runs `body`; a nascent::Error is a clean rejection, anything else escaping is a finding.
template <typename Body>
void expect_clean(const char* target, Body body) {
  try {
    body();
  } catch (const Error&) {
  } catch (const std::exception& e) {
    finding(std::string(target) + ": " + typeid(e).name() + ": " + e.what());
  }
}

const SearchSpace& space(const std::string& name) {
  static std::map<std::string, std::unique_ptr<SearchSpace>> spaces;
  auto& made = spaces[name];
  if (!made) made = registries().spaces.create(name, Config());
  return *made;
}

// canonical() parses and prints; printing must give a string it reads back unchanged.
void parse_architecture(const char* name, const std::string& input) {
  expect_clean(name, [&] {
    const std::string canonical = space(name).canonical(input);
    std::string again;
    try {
      again = space(name).canonical(canonical);
    } catch (const Error& e) {
      finding(std::string(name) + ": the canonical form of an accepted string is rejected: " + e.what());
    }
    if (again != canonical) finding(std::string(name) + ": canonical() is not idempotent");
  });
}

void read_config(const std::string& input) {
  expect_clean("config", [&] {
    const Config config = Config::parse(input);
    Registries& all = registries();
    const auto read_all = [&config](const auto& registry, const char* key) {
      for (const auto* entry : registry.list()) {
        try {
          entry->options.read(config.child(key), std::string(key) + " " + entry->name);
        } catch (const Error&) {
        }
      }
    };
    read_all(all.spaces, "space");
    read_all(all.methods, "strategy");
    read_all(all.strategies, "strategy");
    read_all(all.evaluators, "evaluator");
    read_all(all.predictors, "predictor");
    read_all(all.datasets, "dataset");
    read_all(all.supernets, "supernet");
  });
}

// The table evaluator reads files: the input goes to one, rewritten for every execution.
std::string scratch_file(const char* suffix) {
  static const std::string dir = [] {
    char pattern[] = "/tmp/nascent-fuzz-XXXXXX";
    if (!mkdtemp(pattern)) finding("cannot make a scratch folder");
    return std::string(pattern);
  }();
  return dir + "/table" + suffix;
}

void read_table(const char* target, const char* suffix, const std::string& input, const SearchSpace* json_space) {
  const std::string path = scratch_file(suffix);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << input;
  }
  expect_clean(target, [&] {
    TableEvaluator::Options options;
    options.path = path;
    options.metric = "acc";
    options.report = {"test_acc"};
    options.cost = "seconds";
    options.space = json_space;
    const TableEvaluator table(options);
    (void)table.rows();
  });
}

}  // namespace

const std::vector<FuzzTarget>& fuzz_targets() {
  static const std::vector<FuzzTarget> targets = {
      {"nb201", [](const std::string& input) { parse_architecture("nb201", input); }},
      {"darts", [](const std::string& input) { parse_architecture("darts", input); }},
      {"einspace", [](const std::string& input) { parse_architecture("einspace", input); }},
      {"flexibert", [](const std::string& input) { parse_architecture("flexibert", input); }},
      {"ofa", [](const std::string& input) { parse_architecture("ofa_mbv3", input); }},
      {"vit_resnas", [](const std::string& input) { parse_architecture("vit_resnas", input); }},
      {"nasbench_nlp", [](const std::string& input) { parse_architecture("nasbench_nlp", input); }},
      {"config", read_config},
      {"csv_table", [](const std::string& input) { read_table("csv_table", ".csv", input, nullptr); }},
      {"json_table", [](const std::string& input) { read_table("json_table", ".json", input, &space("flexibert")); }},
  };
  return targets;
}

}  // namespace nascent
