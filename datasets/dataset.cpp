#include "datasets/dataset.hpp"

#include "core/error.hpp"
#include "core/registry.hpp"

namespace nascent {

namespace {

using Loaded = std::shared_ptr<const DataSplits>;

OptionTable subset_options(OptionTable table) {
  return table.integer("train_subset", 0, "keep the first N training samples of the split order (0: all)")
      .integer("val_subset", 0, "keep the first N validation samples (0: all)")
      .integer("test_subset", 0, "keep the first N test samples (0: all)");
}

}  // namespace

void register_builtin_datasets(Registries& registries) {
  const FashionMnistOptions fashion;
  registries.datasets.add(
      "fashion-mnist", "Fashion-MNIST from Debian's dataset-fashion-mnist (IDX files), fixed validation split",
      subset_options(OptionTable()
                         .text("path", fashion.folder, "folder of the four IDX files (gzipped or plain)")
                         .integer("val_size", fashion.val_size, "training images held out for validation"))
          .integer("resize", fashion.resize, "bilinear resize to N x N (0: native 28 x 28)")
          .integer("pad", fashion.pad, "zero-pad to N x N, centred (excludes resize)")
          .integer("channels", fashion.channels, "1, or 3 (grey replicated)"),
      [](const Options& options, const std::string& config_dir) -> Loaded {
        FashionMnistOptions o;
        o.folder = resolve_path(options.get<std::string>("path"), config_dir);
        o.val_size = options.get<long long>("val_size");
        o.train_subset = options.get<long long>("train_subset");
        o.val_subset = options.get<long long>("val_subset");
        o.test_subset = options.get<long long>("test_subset");
        o.resize = options.get<long long>("resize");
        o.pad = options.get<long long>("pad");
        o.channels = options.get<long long>("channels");
        return std::make_shared<const DataSplits>(load_fashion_mnist(o));
      });

  const SyntheticOptions synthetic;
  registries.datasets.add(
      "synthetic", "learnable random class patterns plus noise, for fast tests (everything from its seed)",
      OptionTable()
          .integers("shape", std::vector<long long>(synthetic.shape.begin(), synthetic.shape.end()), "channels, height, width")
          .integer("classes", synthetic.classes, "number of classes")
          .integer("train", synthetic.train, "training samples")
          .integer("val", synthetic.val, "validation samples")
          .integer("test", synthetic.test, "test samples")
          .integer("seed", static_cast<long long>(synthetic.seed), "the data's seed").at_least(0)
          .number("noise", synthetic.noise, "noise standard deviation"),
      [](const Options& options, const std::string&) -> Loaded {
        SyntheticOptions o;
        o.shape.clear();
        for (int d : options.get<std::vector<int>>("shape")) o.shape.push_back(d);
        o.classes = options.get<long long>("classes");
        o.train = options.get<long long>("train");
        o.val = options.get<long long>("val");
        o.test = options.get<long long>("test");
        o.seed = options.get<unsigned long>("seed");
        o.noise = options.get<double>("noise");
        return std::make_shared<const DataSplits>(make_synthetic(o));
      });

  const WordNetOptions wordnet;
  registries.datasets.add(
      "wordnet", "WordNet 3.0 glosses from Debian's wordnet-base, classified by lexicographer file or part of speech",
      subset_options(OptionTable()
                         .text("path", wordnet.folder, "folder of data.noun, data.verb, data.adj, data.adv")
                         .text("task", wordnet.task, "the label").one_of({"lexname", "pos"})
                         .text("tokens", wordnet.tokens, "the tokenizer").one_of({"characters", "words"})
                         .integer("vocabulary", wordnet.vocabulary, "words kept (tokens: words)")
                         .integer("max_length", wordnet.max_length, "tokens per gloss (cut or padded)")
                         .number("val_fraction", wordnet.val_fraction, "share of synsets for validation")
                         .number("test_fraction", wordnet.test_fraction, "share of synsets for test")),
      [](const Options& options, const std::string& config_dir) -> Loaded {
        WordNetOptions o;
        o.folder = resolve_path(options.get<std::string>("path"), config_dir);
        o.task = options.get<std::string>("task");
        o.tokens = options.get<std::string>("tokens");
        o.vocabulary = options.get<long long>("vocabulary");
        o.max_length = options.get<long long>("max_length");
        o.val_fraction = options.get<double>("val_fraction");
        o.test_fraction = options.get<double>("test_fraction");
        o.train_subset = options.get<long long>("train_subset");
        o.val_subset = options.get<long long>("val_subset");
        o.test_subset = options.get<long long>("test_subset");
        return std::make_shared<const DataSplits>(load_wordnet(o));
      });
}

DataSplits load_dataset(const Config& config, const std::string& config_dir) {
  return *registries().datasets.create(config.get<std::string>("name", "fashion-mnist"), config, config_dir);
}

}  // namespace nascent
