#include "predictors/gaussian_process.hpp"

#include <nlopt.hpp>

#include <cmath>
#include <limits>

#include "core/error.hpp"

namespace nascent {

double matern52(double distance, double length_scale) {
  const double r = std::sqrt(5.0) * distance / length_scale;
  return (1 + r + r * r / 3) * std::exp(-r);
}

namespace {

double distance(const std::vector<double>& a, const std::vector<double>& b) {
  double total = 0;
  for (std::size_t i = 0; i < a.size(); ++i) total += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(total);
}

}  // namespace

void GaussianProcess::set_data(std::vector<std::vector<double>> x, std::vector<double> y) {
  if (x.empty() || x.size() != y.size()) throw Error("gaussian process: need as many targets as inputs, at least one");
  for (const auto& row : x)
    if (row.size() != x.front().size()) throw Error("gaussian process: inputs differ in dimension");
  x_ = std::move(x);
  y_mean_ = 0;
  y_scale_ = 1;
  if (options_.normalize_y) {
    for (double v : y) y_mean_ += v;
    y_mean_ /= static_cast<double>(y.size());
    double var = 0;
    for (double v : y) var += (v - y_mean_) * (v - y_mean_);
    y_scale_ = std::sqrt(var / static_cast<double>(y.size()));
    if (y_scale_ == 0) y_scale_ = 1;  // scikit-learn keeps constant targets unscaled too
  }
  y_.clear();
  for (double v : y) y_.push_back((v - y_mean_) / y_scale_);
}

bool GaussianProcess::factor(double length_scale, std::vector<double>& chol, std::vector<double>& alpha) const {
  const std::size_t n = x_.size();
  chol.assign(n * n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j <= i; ++j) {
      double sum = matern52(distance(x_[i], x_[j]), length_scale) + (i == j ? options_.noise : 0);
      for (std::size_t k = 0; k < j; ++k) sum -= chol[i * n + k] * chol[j * n + k];
      if (i == j) {
        if (!(sum > 0)) return false;
        chol[i * n + i] = std::sqrt(sum);
      } else {
        chol[i * n + j] = sum / chol[j * n + j];
      }
    }
  }
  // alpha = L^-T L^-1 y
  std::vector<double> z(n);
  for (std::size_t i = 0; i < n; ++i) {
    double sum = y_[i];
    for (std::size_t k = 0; k < i; ++k) sum -= chol[i * n + k] * z[k];
    z[i] = sum / chol[i * n + i];
  }
  alpha.assign(n, 0);
  for (std::size_t i = n; i-- > 0;) {
    double sum = z[i];
    for (std::size_t k = i + 1; k < n; ++k) sum -= chol[k * n + i] * alpha[k];
    alpha[i] = sum / chol[i * n + i];
  }
  return true;
}

double GaussianProcess::log_marginal_likelihood(double length_scale) const {
  std::vector<double> chol, alpha;
  if (!factor(length_scale, chol, alpha)) return -std::numeric_limits<double>::infinity();
  const std::size_t n = x_.size();
  double value = -0.5 * static_cast<double>(n) * std::log(2 * M_PI);
  for (std::size_t i = 0; i < n; ++i) value += -0.5 * y_[i] * alpha[i] - std::log(chol[i * n + i]);
  return value;
}

void GaussianProcess::fit_fixed(std::vector<std::vector<double>> x, std::vector<double> y, double length_scale) {
  set_data(std::move(x), std::move(y));
  length_scale_ = length_scale;
  if (!factor(length_scale_, chol_, alpha_))
    throw Error("gaussian process: the kernel matrix is not positive definite (duplicate inputs without noise?)");
}

void GaussianProcess::fit(std::vector<std::vector<double>> x, std::vector<double> y, Rng& rng) {
  set_data(std::move(x), std::move(y));
  // The likelihood is maximised over log(length scale), as scikit-learn does.
  const double lo = std::log(options_.length_min), hi = std::log(options_.length_max);
  nlopt::opt optimiser(nlopt::LN_SBPLX, 1);
  optimiser.set_lower_bounds(std::vector<double>{lo});
  optimiser.set_upper_bounds(std::vector<double>{hi});
  optimiser.set_xtol_rel(1e-6);
  optimiser.set_maxeval(200);
  auto objective = [](const std::vector<double>& theta, std::vector<double>&, void* data) {
    const double value = static_cast<const GaussianProcess*>(data)->log_marginal_likelihood(std::exp(theta[0]));
    return std::isfinite(value) ? value : -1e300;
  };
  optimiser.set_max_objective(objective, this);
  double best_theta = std::log(options_.initial_length);
  double best_value = log_marginal_likelihood(options_.initial_length);
  for (int start = 0; start <= options_.restarts; ++start) {
    std::vector<double> theta{start == 0 ? std::log(options_.initial_length) : lo + (hi - lo) * uniform_real(rng)};
    double value = 0;
    try {
      optimiser.optimize(theta, value);
    } catch (const std::exception&) {
      continue;  // NLopt's roundoff-limited and similar stops: keep the best point so far
    }
    if (value > best_value) {
      best_value = value;
      best_theta = theta[0];
    }
  }
  length_scale_ = std::exp(best_theta);
  if (!factor(length_scale_, chol_, alpha_))
    throw Error("gaussian process: the kernel matrix is not positive definite (duplicate inputs without noise?)");
}

GaussianProcess::Prediction GaussianProcess::predict(const std::vector<double>& x) const {
  const std::size_t n = x_.size();
  if (n == 0) return {0, 1};
  std::vector<double> k(n);
  for (std::size_t i = 0; i < n; ++i) k[i] = matern52(distance(x, x_[i]), length_scale_);
  double mean = 0;
  for (std::size_t i = 0; i < n; ++i) mean += k[i] * alpha_[i];
  std::vector<double> v(n);  // L^-1 k
  for (std::size_t i = 0; i < n; ++i) {
    double sum = k[i];
    for (std::size_t j = 0; j < i; ++j) sum -= chol_[i * n + j] * v[j];
    v[i] = sum / chol_[i * n + i];
  }
  double variance = 1.0;
  for (double value : v) variance -= value * value;
  return {mean * y_scale_ + y_mean_, std::sqrt(std::max(0.0, variance)) * y_scale_};
}

}  // namespace nascent
