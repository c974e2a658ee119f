#include "datasets/dataset.hpp"

#include <filesystem>

#include "core/error.hpp"
#include "core/registry.hpp"
#include "datasets/formats.hpp"

namespace nascent {

namespace {

using Loaded = std::shared_ptr<const DataSplits>;

OptionTable subset_options(OptionTable table) {
  return table.integer("train_subset", 0, "keep the first N training samples of the split order (0: all)")
      .integer("val_subset", 0, "keep the first N validation samples (0: all)")
      .integer("test_subset", 0, "keep the first N test samples (0: all)");
}

// A file named by a loader option: relative to the dataset's `path` folder (itself relative to the
// config's folder); absolute paths are kept.
std::string data_file(const std::string& folder, const std::string& file) {
  if (file.empty() || std::filesystem::path(file).is_absolute()) return file;
  return (std::filesystem::path(folder) / file).lexically_normal().string();
}

std::int64_t integer(const Options& options, const char* name) { return options.get<long long>(name); }

void read_subsets(const Options& options, std::int64_t& train, std::int64_t& val, std::int64_t& test) {
  train = integer(options, "train_subset");
  val = integer(options, "val_subset");
  test = integer(options, "test_subset");
}

Loaded with_image_options(DataSplits splits, const Options& options) {
  apply_image_options(splits, options);
  return std::make_shared<const DataSplits>(std::move(splits));
}

void register_format_datasets(Registries& registries) {
  for (const int classes : {10, 100}) {
    const bool ten = classes == 10;
    OptionTable table = subset_options(
        OptionTable()
            .text("path", ten ? "cifar-10-batches-bin" : "cifar-100-binary",
                  ten ? "folder of data_batch_1.bin .. data_batch_5.bin and test_batch.bin (CIFAR-10 binary version)"
                      : "folder of train.bin and test.bin (CIFAR-100 binary version)")
            .integer("val_size", CifarOptions().val_size, "training images held out for validation (a fixed shuffle)")
            .at_least(0));
    if (!ten) table.text("labels", "fine", "fine (100 classes) or coarse (20 superclasses)").one_of({"fine", "coarse"});
    registries.datasets.add(
        ten ? "cifar10" : "cifar100",
        ten ? "CIFAR-10 from its binary batches (32 x 32 RGB, 10 classes), fixed validation split"
            : "CIFAR-100 from its binary files (32 x 32 RGB, 100 fine or 20 coarse classes), fixed validation split",
        image_options(std::move(table)), [ten](const Options& options, const std::string& config_dir) -> Loaded {
          CifarOptions o;
          o.classes = ten ? 10 : 100;
          o.folder = resolve_path(options.get<std::string>("path"), config_dir);
          if (!ten) o.labels = options.get<std::string>("labels");
          o.val_size = integer(options, "val_size");
          read_subsets(options, o.train_subset, o.val_subset, o.test_subset);
          return with_image_options(load_cifar(o), options);
        });
  }

  const ImageFolderOptions folder;
  registries.datasets.add(
      "image_folder",
      "JPEG/PNG images in root/<class>/ folders (ImageNet's layout; optional train/, val/, test/), decoded once into memory",
      image_options(subset_options(
          OptionTable()
              .text("path", "", "the root folder").required()
              .integer("size", folder.size, "images are centre-cropped to size x size").at_least(1)
              .integer("resize", folder.resize, "the shorter side is resized to this before cropping (0: size)").at_least(0)
              .integer("channels", folder.channels, "3 (RGB; grey replicated) or 1 (grey)")
              .number("val_fraction", folder.val_fraction, "share of training images held out when there is no val/ folder")
              .at_least(0).at_most(0.99))),
      [](const Options& options, const std::string& config_dir) -> Loaded {
        ImageFolderOptions o;
        o.folder = resolve_path(options.get<std::string>("path"), config_dir);
        o.size = integer(options, "size");
        o.resize = integer(options, "resize");
        o.channels = integer(options, "channels");
        o.val_fraction = options.get<double>("val_fraction");
        read_subsets(options, o.train_subset, o.val_subset, o.test_subset);
        return with_image_options(load_image_folder(o), options);
      });

  const NumpyOptions numpy;
  OptionTable numpy_table = OptionTable().text("path", "", "folder the file options are relative to (default: the config's)");
  for (const char* split : {"train", "val", "test"}) {
    const std::string s = split;
    numpy_table.optional(s, OptionType::Text, "an .npz holding this split's inputs and labels arrays")
        .optional(s + "_inputs", OptionType::Text, "or: this split's inputs as an .npy file")
        .optional(s + "_labels", OptionType::Text, "and its labels as an .npy file");
  }
  numpy_table.text("inputs", numpy.inputs_key, "the inputs array's name inside the .npz files")
      .text("labels", numpy.labels_key, "the labels array's name inside the .npz files")
      .flag("scale", numpy.scale, "divide uint8 inputs by 255")
      .flag("channels_last", numpy.channels_last, "inputs are N x H x W x C images (made N x C x H x W)")
      .integer("classes", numpy.classes, "number of classes (0: the largest label + 1)").at_least(0)
      .number("val_fraction", numpy.val_fraction, "share of training samples held out when there is no val data")
      .at_least(0).at_most(0.99);
  registries.datasets.add(
      "numpy", "NumPy .npz/.npy inputs and labels: images (N x C x H x W or N x H x W), features, or token ids (text)",
      image_options(subset_options(std::move(numpy_table))),
      [](const Options& options, const std::string& config_dir) -> Loaded {
        NumpyOptions o;
        const std::string root = options.get<std::string>("path").empty() ? config_dir
                                                                           : resolve_path(options.get<std::string>("path"), config_dir);
        const auto file = [&](const std::string& key) { return data_file(root, options.maybe<std::string>(key).value_or("")); };
        for (auto [files, split] : {std::pair<NumpySplitFiles*, std::string>{&o.train, "train"}, {&o.val, "val"}, {&o.test, "test"}}) {
          files->archive = file(split);
          files->inputs = file(split + "_inputs");
          files->labels = file(split + "_labels");
        }
        o.inputs_key = options.get<std::string>("inputs");
        o.labels_key = options.get<std::string>("labels");
        o.scale = options.get<bool>("scale");
        o.channels_last = options.get<bool>("channels_last");
        o.classes = integer(options, "classes");
        o.val_fraction = options.get<double>("val_fraction");
        read_subsets(options, o.train_subset, o.val_subset, o.test_subset);
        DataSplits splits = load_numpy(o);
        // Only images are normalised and augmented; asking that of other inputs is an error.
        if (splits.train.images.dim() == 4 && splits.train.images.is_floating_point()) return with_image_options(std::move(splits), options);
        if (options.get<std::string>("normalize") != "none" && options.given("normalize"))
          options.fail("normalize", "needs image inputs (N x C x H x W or N x H x W floats), found " +
                                        std::to_string(splits.train.images.dim() - 1) + "-dimensional samples");
        if (options.given("augment")) options.fail("augment", "needs image inputs (N x C x H x W or N x H x W floats)");
        return std::make_shared<const DataSplits>(std::move(splits));
      });

  const TextOptions text;
  registries.datasets.add(
      "text", "text classification from TSV/CSV files with a header row (GLUE's layout), tokenised like wordnet",
      subset_options(
          OptionTable()
              .text("path", "", "folder the files are relative to (default: the config's)")
              .text("train", "train.tsv", "training file")
              .text("val", "dev.tsv", "validation file (GLUE's dev.tsv; empty: carved from training by val_fraction)")
              .text("test", "", "test file, with labels (empty: no test split)")
              .text("sentence", text.sentence_column, "the text column")
              .text("sentence2", "", "a second text column, for sentence pairs (joined by a separator token)")
              .text("label", text.label_column, "the label column (whole numbers, or strings as classes in byte order)")
              .text("delimiter", "auto", "tab, comma, or auto (comma for a .csv training file, else tab)")
              .one_of({"auto", "tab", "comma"})
              .optional("quoted", OptionType::Flag, "read \"...\" quoting (default: true for comma, false for tab as GLUE)")
              .flag("lowercase", text.lowercase, "lower-case the text")
              .text("tokens", text.tokens, "the tokenizer").one_of({"characters", "words"})
              .integer("vocabulary", text.vocabulary, "words kept (tokens: words)").at_least(1)
              .integer("max_length", text.max_length, "tokens per example (cut or padded)").at_least(1)
              .number("val_fraction", text.val_fraction, "share of training rows held out when val is empty")
              .at_least(0).at_most(0.99)),
      [](const Options& options, const std::string& config_dir) -> Loaded {
        TextOptions o;
        const std::string root = options.get<std::string>("path").empty() ? config_dir
                                                                           : resolve_path(options.get<std::string>("path"), config_dir);
        o.train = data_file(root, options.get<std::string>("train"));
        o.val = data_file(root, options.get<std::string>("val"));
        o.test = data_file(root, options.get<std::string>("test"));
        o.sentence_column = options.get<std::string>("sentence");
        o.sentence2_column = options.get<std::string>("sentence2");
        o.label_column = options.get<std::string>("label");
        const std::string delimiter = options.get<std::string>("delimiter");
        const bool csv = delimiter == "comma" || (delimiter == "auto" && o.train.size() >= 4 &&
                                                  o.train.compare(o.train.size() - 4, 4, ".csv") == 0);
        o.delimiter = csv ? ',' : '\t';
        o.quoted = options.maybe<bool>("quoted").value_or(csv);
        o.lowercase = options.get<bool>("lowercase");
        o.tokens = options.get<std::string>("tokens");
        o.vocabulary = integer(options, "vocabulary");
        o.max_length = integer(options, "max_length");
        o.val_fraction = options.get<double>("val_fraction");
        read_subsets(options, o.train_subset, o.val_subset, o.test_subset);
        return std::make_shared<const DataSplits>(load_text(o));
      });
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

  register_format_datasets(registries);
}

DataSplits load_dataset(const Config& config, const std::string& config_dir) {
  return *registries().datasets.create(config.get<std::string>("name", "fashion-mnist"), config, config_dir);
}

}  // namespace nascent
