#include "core/error.hpp"
#include "datasets/dataset.hpp"

namespace nascent {

OptionTable image_options(OptionTable table) {
  return table
      .text("normalize", "train", "per-channel normalisation: train (training split's statistics), given (mean, std), none")
      .one_of({"train", "given", "none"})
      .numbers("mean", {}, "per-channel means (normalize: given)")
      .numbers("std", {}, "per-channel standard deviations (normalize: given)")
      .section("augment", "training-batch augmentation",
               OptionTable()
                   .integer("crop_padding", 0, "zero-pad by N pixels, then crop back at a random offset (0: off)")
                   .at_least(0)
                   .flag("flip", false, "random horizontal flip")
                   .integer("cutout", 0, "zero a random N x N square (0: off)")
                   .at_least(0));
}

void apply_image_options(DataSplits& splits, const Options& options) {
  const Options augment = options.nested("augment");
  splits.augmentation.crop_padding = augment.get<long long>("crop_padding");
  splits.augmentation.flip = augment.get<bool>("flip");
  splits.augmentation.cutout = augment.get<long long>("cutout");

  const std::string mode = options.get<std::string>("normalize");
  // Values that would be ignored are a mistake in the config, not a preference.
  for (const char* key : {"mean", "std"})
    if (mode != "given" && options.given(key)) options.fail(key, "is used only with normalize: given (normalize is " + mode + ")");
  if (mode == "none") return;
  const torch::Tensor& train = splits.train.images;
  if (!train.defined() || train.dim() != 4 || !train.is_floating_point())
    throw Error("config: " + options.component() + ": normalize needs images (N x C x H x W floats)");
  const std::int64_t channels = train.size(1);
  std::vector<double> mean, std;
  if (mode == "given") {
    mean = options.get<std::vector<double>>("mean");
    std = options.get<std::vector<double>>("std");
    // Name the list that is wrong, so the message points at the line to fix.
    const auto check_length = [&](const char* key, const std::vector<double>& values) {
      if (static_cast<std::int64_t>(values.size()) != channels)
        options.fail(key, "normalize: given needs " + std::to_string(channels) + " values, one per channel (got " +
                              std::to_string(values.size()) + ")");
    };
    check_length("mean", mean);
    check_length("std", std);
    for (double s : std)
      if (!(s > 0)) options.fail("std", "standard deviations must be positive");
  } else {
    if (splits.train.size() == 0) throw Error("config: " + options.component() + ": normalize: train needs training images");
    // Double accumulation: float sums over millions of pixels lose digits.
    const torch::Tensor per_channel = train.transpose(0, 1).reshape({channels, -1}).to(torch::kFloat64);
    const torch::Tensor m = per_channel.mean(1), s = per_channel.std(1, /*unbiased=*/false);
    for (std::int64_t c = 0; c < channels; ++c) {
      mean.push_back(m[c].item<double>());
      // A constant channel would divide by zero; leave its scale alone.
      const double sc = s[c].item<double>();
      std.push_back(sc > 1e-12 ? sc : 1.0);
    }
  }
  const auto shape = std::vector<std::int64_t>{1, channels, 1, 1};
  const torch::Tensor m = torch::tensor(mean, torch::kFloat32).view(shape);
  const torch::Tensor s = torch::tensor(std, torch::kFloat32).view(shape);
  for (ImageSet* set : {&splits.train, &splits.val, &splits.test})
    if (set->images.defined() && set->size() > 0) set->images = ((set->images - m) / s).contiguous();
  splits.mean = mean;
  splits.std = std;
}

}  // namespace nascent
