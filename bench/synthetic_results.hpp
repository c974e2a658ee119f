#pragma once
// Evaluations as a search stores them, for the benchmarks of the results store.
#include <string>

#include "results/store.hpp"

namespace nascent {

// Evaluation `seq` of `run`: an NB201-like string (one of `distinct`, so candidates recur as they
// do in a search), 8 metrics, fitness val_acc.
inline StoredEvaluation synthetic_evaluation(std::int64_t run, std::int64_t seq, std::int64_t distinct) {
  static const char* names[] = {"val_acc", "test_acc", "train_acc", "loss", "params", "flops", "latency_ms", "train_seconds"};
  StoredEvaluation e;
  e.run = run;
  e.seq = seq;
  e.space = "nb201";
  e.arch = "|nor_conv_3x3~0|+|skip_connect~0|arch-" + std::to_string(seq % distinct) + "~1|";
  e.fingerprint = std::to_string(1000000007ULL * static_cast<unsigned long long>(seq % distinct));
  for (int m = 0; m < 8; ++m) e.result.metrics[names[m]] = (seq * 7919 % 10007) * 0.01 + m;
  e.result.cost = 12.0;
  e.result.seconds = 0.001;
  e.fitness = e.result.metrics["val_acc"];
  e.elapsed = seq * 0.001;
  return e;
}

}  // namespace nascent
