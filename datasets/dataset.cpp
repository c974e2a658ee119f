#include "datasets/dataset.hpp"

#include "core/error.hpp"

namespace nascent {

DataSplits load_dataset(const Config& config, const std::string& config_dir) {
  const std::string name = config.get<std::string>("name", "fashion-mnist");
  if (name == "fashion-mnist") {
    config.check_keys({"name", "path", "val_size", "train_subset", "val_subset", "test_subset", "resize", "pad", "channels"});
    FashionMnistOptions options;
    options.folder = resolve_path(config.get<std::string>("path", options.folder), config_dir);
    options.val_size = config.get<long long>("val_size", options.val_size);
    options.train_subset = config.get<long long>("train_subset", options.train_subset);
    options.val_subset = config.get<long long>("val_subset", options.val_subset);
    options.test_subset = config.get<long long>("test_subset", options.test_subset);
    options.resize = config.get<long long>("resize", options.resize);
    options.pad = config.get<long long>("pad", options.pad);
    options.channels = config.get<long long>("channels", options.channels);
    return load_fashion_mnist(options);
  }
  if (name == "synthetic") {
    config.check_keys({"name", "shape", "classes", "train", "val", "test", "seed", "noise"});
    SyntheticOptions options;
    if (config.has("shape")) {
      options.shape.clear();
      for (int d : config.get<std::vector<int>>("shape")) options.shape.push_back(d);
    }
    options.classes = config.get<long long>("classes", options.classes);
    options.train = config.get<long long>("train", options.train);
    options.val = config.get<long long>("val", options.val);
    options.test = config.get<long long>("test", options.test);
    options.seed = config.get<unsigned long>("seed", options.seed);
    options.noise = config.get<double>("noise", options.noise);
    return make_synthetic(options);
  }
  if (name == "wordnet") {
    config.check_keys({"name", "path", "task", "tokens", "vocabulary", "max_length", "val_fraction", "test_fraction",
                       "train_subset", "val_subset", "test_subset"});
    WordNetOptions options;
    options.folder = resolve_path(config.get<std::string>("path", options.folder), config_dir);
    options.task = config.get<std::string>("task", options.task);
    options.tokens = config.get<std::string>("tokens", options.tokens);
    options.vocabulary = config.get<long long>("vocabulary", options.vocabulary);
    options.max_length = config.get<long long>("max_length", options.max_length);
    options.val_fraction = config.get<double>("val_fraction", options.val_fraction);
    options.test_fraction = config.get<double>("test_fraction", options.test_fraction);
    options.train_subset = config.get<long long>("train_subset", options.train_subset);
    options.val_subset = config.get<long long>("val_subset", options.val_subset);
    options.test_subset = config.get<long long>("test_subset", options.test_subset);
    return load_wordnet(options);
  }
  throw Error("config: " + config.full("name") + ": unknown dataset '" + name +
              "' (expected fashion-mnist, wordnet or synthetic)");
}

}  // namespace nascent
