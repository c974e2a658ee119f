#!/usr/bin/env bash
# ViT-ResNAS's windowed evolution against random sampling into the same MACs window at the same
# number of sub-network measurements (issue #22): examples/vit-resnas-search.yaml as it is (50
# random sub-networks, then 5 iterations of 30 children: 200 scored on the supernet), and the same
# config with 200 random sub-networks and no iteration. Both runs of a seed share the supernet
# trained for that seed (saved in the output folder), so they differ only in the search. Prints per
# run: sub-networks scored, the best sub-val (fitness_images) after 50 and after all of them, and the
# answer's validation and test accuracy (the best of the `remeasure` re-measured on the full sets).
# Usage: bench/vit_resnas_vs_random.sh [build folder] [output folder] [seeds, e.g. "0 1 2"] [parallel runs]
# (parallel runs 0: only print the table of the runs already in the output folder)
# One LibTorch thread per run; about 15 minutes per seed on one core (5 of them training).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
out="${2:-$here/build/vit-resnas-vs-random}"
seeds="${3:-0 1 2}"
jobs="${4:-2}"
mkdir -p "$out"
config="$here/examples/vit-resnas-search.yaml"
export build out config
seed_runs() {  # seed: evolution first (it trains the supernet), then random sampling
  local common=(--quiet --set "seed=$1" --set parallel.threads_per_worker=1 --set "strategy.checkpoint=$out/supernet-$1.pt")
  rm -f "$out/evolution-$1.db"* "$out/random-$1.db"*
  "$build/nascent" search "$config" --db "$out/evolution-$1.db" "${common[@]}" > /dev/null
  "$build/nascent" search "$config" --db "$out/random-$1.db" "${common[@]}" \
    --set strategy.evolution.initial_population=200 --set strategy.evolution.iterations=1 > /dev/null
}
export -f seed_runs
if [ "$jobs" -gt 0 ]; then
  for seed in $seeds; do echo "$seed"; done | xargs -P "$jobs" -L 1 bash -c 'seed_runs "$0"'
fi
printf "%-9s %-4s %-6s %-12s %-12s %-10s %s\n" search seed scored best_at_50 best_sub_val answer_val answer_test
for seed in $seeds; do
  for label in evolution random; do
    db="$out/$label-$seed.db"
    [ -f "$db" ] || continue
    sqlite3 -separator ' ' "$db" "
      SELECT '$label', $seed,
        (SELECT count(*) FROM evaluations WHERE stage = 'search'),
        (SELECT printf('%.2f', max(fitness)) FROM evaluations WHERE stage = 'search' AND seq < 50),
        (SELECT printf('%.2f', max(fitness)) FROM evaluations WHERE stage = 'search'),
        (SELECT printf('%.2f %.2f', v.value, t.value) FROM evaluations e
           JOIN metrics v ON v.evaluation_id = e.id AND v.name = 'val_acc'
           JOIN metrics t ON t.evaluation_id = e.id AND t.name = 'test_acc'
           WHERE e.stage = 'final' ORDER BY v.value DESC, e.seq LIMIT 1);" |
      awk '{printf "%-9s %-4s %-6s %-12s %-12s %-10s %s\n", $1, $2, $3, $4, $5, $6, $7}'
  done
done
