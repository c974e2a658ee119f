#!/usr/bin/env bash
# First-order DARTS, second-order DARTS and RARTS on the NAS-Bench-201 supernet with Fashion-MNIST,
# 3 seeds each (bench/darts_nb201_compare.yaml), then one line per run: derived cell, its
# Fashion-MNIST test accuracy after the short from-scratch training, its NAS-Bench-201 CIFAR-10
# test accuracy, search seconds and the skip_connect shares of the final alphas.
# Usage: bench/darts_nb201_compare.sh [build folder] [output folder] [parallel runs] [methods]
# methods: any of darts1 darts2 rarts (default all three); existing results of the others are kept.
# Each run uses one LibTorch thread; 2 parallel runs take about 40 minutes on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
out="${2:-$here/build/darts-compare}"
jobs="${3:-2}"
methods="${4:-darts2 darts1 rarts}"
mkdir -p "$out"
config="$here/bench/darts_nb201_compare.yaml"
export build out config
run() {  # label seed: one search
  local set
  case "$1" in
    darts1) set="strategy.order=1" ;;
    darts2) set="strategy.order=2" ;;
    rarts) set="strategy.name=rarts" ;;
  esac
  rm -f "$out/$1-$2.db"*
  "$build/nascent" search "$config" --quiet --seed "$2" --db "$out/$1-$2.db" --set "$set" > /dev/null
}
export -f run
# The slow second-order runs first, so the parallel runs end together.
for label in $methods; do for seed in 0 1 2; do echo "$label $seed"; done; done |
  xargs -P "$jobs" -L 1 bash -c 'run "$0" "$1"'
printf "%-7s %-4s %-8s %-9s %-9s %-10s %-11s %s\n" method seed fmnist nb201_c10 search_s skip_share skip_weight cell
for label in darts1 darts2 rarts; do
  for seed in 0 1 2; do
    db="$out/$label-$seed.db"
    [ -f "$db" ] || continue
    sqlite3 -separator ' ' "$db" "
      SELECT '$label', $seed,
        (SELECT printf('%.2f', m.value) FROM metrics m JOIN evaluations e ON e.id = m.evaluation_id WHERE e.stage = 'final' AND m.name = 'test_acc'),
        (SELECT printf('%.2f', m.value) FROM metrics m JOIN evaluations e ON e.id = m.evaluation_id WHERE e.stage = 'final' AND m.name = 'cifar10_test_200ep'),
        (SELECT printf('%.0f', sum(seconds)) FROM evaluations WHERE stage = 'epoch'),
        (SELECT printf('%.2f', m.value) FROM metrics m JOIN evaluations e ON e.id = m.evaluation_id WHERE e.stage = 'epoch' AND m.name = 'skip_share' ORDER BY e.seq DESC LIMIT 1),
        (SELECT printf('%.3f', m.value) FROM metrics m JOIN evaluations e ON e.id = m.evaluation_id WHERE e.stage = 'epoch' AND m.name = 'skip_weight' ORDER BY e.seq DESC LIMIT 1),
        (SELECT c.arch FROM evaluations e JOIN candidates c ON c.id = e.candidate_id WHERE e.stage = 'final' LIMIT 1);" |
      awk '{printf "%-7s %-4s %-8s %-9s %-9s %-10s %-11s %s\n", $1, $2, $3, $4, $5, $6, $7, $8}'
  done
done
