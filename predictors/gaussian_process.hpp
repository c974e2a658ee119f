#pragma once
#include <vector>

#include "core/rng.hpp"

namespace nascent {

// Matern 5/2 kernel with unit amplitude: k(r) = (1 + sqrt5 r/l + 5 r^2 / (3 l^2)) exp(-sqrt5 r/l).
double matern52(double distance, double length_scale);

// A Gaussian-process regressor as RoBoT uses it (scikit-learn's GaussianProcessRegressor with
// kernel=Matern(nu=2.5), alpha=1e-6, normalize_y=True, n_restarts_optimizer=5): one isotropic
// length scale fitted by maximum marginal likelihood within [1e-5, 1e5], the targets standardised.
// Small on purpose: RoBoT fits at most a few hundred points, so a dense Cholesky is the right tool.
class GaussianProcess {
 public:
  struct Options {
    double noise = 1e-6;        // added to the kernel's diagonal
    double length_min = 1e-5, length_max = 1e5;
    double initial_length = 1.0;
    int restarts = 5;           // extra starts of the likelihood maximisation, log-uniform in the bounds
    bool normalize_y = true;
  };
  GaussianProcess() = default;
  explicit GaussianProcess(Options options) : options_(options) {}

  // Fits the length scale by maximum likelihood (NLopt, bounded), then conditions on the data.
  void fit(std::vector<std::vector<double>> x, std::vector<double> y, Rng& rng);
  // Conditions on the data with a given length scale.
  void fit_fixed(std::vector<std::vector<double>> x, std::vector<double> y, double length_scale);

  struct Prediction {
    double mean = 0, stddev = 0;
  };
  Prediction predict(const std::vector<double>& x) const;
  // Log marginal likelihood of the (standardised) targets under a length scale.
  double log_marginal_likelihood(double length_scale) const;

  double length_scale() const { return length_scale_; }
  std::size_t size() const { return x_.size(); }

 private:
  void set_data(std::vector<std::vector<double>> x, std::vector<double> y);
  // Cholesky factor and alpha for a length scale; false when the kernel matrix is not positive definite.
  bool factor(double length_scale, std::vector<double>& chol, std::vector<double>& alpha) const;

  Options options_;
  std::vector<std::vector<double>> x_;
  std::vector<double> y_;  // standardised
  double y_mean_ = 0, y_scale_ = 1;
  double length_scale_ = 1;
  std::vector<double> chol_, alpha_;  // n x n lower triangle (row-major), and K^-1 y
};

}  // namespace nascent
