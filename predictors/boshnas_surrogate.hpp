#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/rng.hpp"

namespace nascent {

// BOSHNAS's surrogate (Tuli et al., spec B6): a teacher network trained on the targets whose MC
// dropout spread is the epistemic uncertainty, a student network that learns that spread (so it
// is differentiable and cheap), and a natural-parameter network (NPN) that predicts a mean and an
// aleatoric variance. Targets are losses to minimise, in (0, 1) (the heads end in sigmoids).
// Everything random (initialisation, dropout, shuffles) comes from the seed and the Rng passed in.
class BoshnasSurrogate {
 public:
  struct Options {
    double teacher_lr = 2e-3;   // AdamW
    double student_lr = 2e-3;   // SGD
    double npn_lr = 1e-3;       // AdamW (the authors' 5e-5 leaves the NPN at its initialisation)
    int max_epochs = 200;       // per train() call
    double train_fraction = 0.8;
    int mc_samples = 10;        // teacher passes with dropout per student target
    bool aleatoric = true;      // predict() returns the NPN mean (else the teacher's)
  };
  struct Prediction {
    double mean = 0;
    double epistemic = 0;  // the student's ξ
    double aleatoric = 0;  // the NPN's variance σ
  };
  // GOBI (spec B7): gradient descent on the input under the UCB acquisition mean - 0.5 ξ.
  struct GobiOptions {
    int restarts = 10;
    int iterations = 200;
    bool second_order = true;  // AdaHessian; false: plain gradient steps (the authors use lr 10 then)
    double lr = 0.5;
    bool add_aleatoric = false;  // ξ + σ in the acquisition (BOSHNAS's active-learning phase)
  };
  struct GobiResult {
    std::size_t index;     // the nearest library member (mean absolute difference)
    double acquisition;    // at the optimised input
  };

  BoshnasSurrogate(int input_size, std::uint64_t seed, Options options);
  BoshnasSurrogate(int input_size, std::uint64_t seed) : BoshnasSurrogate(input_size, seed, Options()) {}
  ~BoshnasSurrogate();
  BoshnasSurrogate(BoshnasSurrogate&&) noexcept;
  BoshnasSurrogate& operator=(BoshnasSurrogate&&) noexcept;

  // Teacher, then student, then NPN, each with per-sample updates; every epoch reshuffles and
  // re-splits train/validation; a model stops once more than 10 epochs have run and none of the
  // last 7 improved its best validation loss. Weights are kept between calls (warm start).
  void train(const std::vector<std::vector<double>>& inputs, const std::vector<double>& targets, Rng& rng);
  Prediction predict(const std::vector<double>& input) const;
  std::vector<Prediction> predict(const std::vector<std::vector<double>>& inputs) const;
  // One result per restart, from starting points drawn (with replacement) from `library`; inputs are
  // clamped per dimension to the library's range.
  std::vector<GobiResult> gobi(const std::vector<std::vector<double>>& library, const GobiOptions& options, Rng& rng) const;
  // The acquisition GOBI minimises, at each input.
  std::vector<double> acquisition(const std::vector<std::vector<double>>& inputs, bool add_aleatoric) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nascent
