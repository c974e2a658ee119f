#pragma once
// OFA's accuracy predictor (spec A.4, the library's AccuracyPredictor): an MLP of three hidden
// Linear+ReLU layers of 400 units and a bias-free output, added to a frozen base accuracy (the mean
// of the training targets), fitted to measured sub-network accuracies on encoding B.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nascent {

class OfaAccuracyPredictor {
 public:
  struct Options {
    int hidden = 400, layers = 3;
    int epochs = 300;
    std::int64_t batch_size = 256;
    double lr = 1e-3, weight_decay = 1e-4;
  };
  OfaAccuracyPredictor(std::int64_t input_dim, Options options);
  ~OfaAccuracyPredictor();
  // Mean-squared error on `targets` (accuracy as a fraction); everything random comes from `seed`.
  void fit(const std::vector<std::vector<double>>& features, const std::vector<double>& targets, std::uint64_t seed);
  std::vector<double> predict(const std::vector<std::vector<double>>& features) const;
  double base_accuracy() const { return base_; }

 private:
  struct Model;
  std::unique_ptr<Model> model_;
  Options options_;
  std::int64_t input_dim_;
  double base_ = 0;
};

}  // namespace nascent
