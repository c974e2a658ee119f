#!/usr/bin/env bash
# Scaling of one search over several processes (mpirun): evaluations per second of a search on the
# NB201 table, and training samples per second of a search that trains its candidates, in one
# process and under mpirun with 2 and 3 processes (1 and 2 evaluating; process 0 runs the search);
# then seconds per step of a data-parallel DARTS search (every process trains on its share of each
# batch) in one process and under mpirun with 2.
#   bench/bench_cluster.sh [build=build] [nb201.csv=../shared/data/nas-bench-201/nb201.csv]
set -euo pipefail
build="${1:-build}"
table="$(realpath "${2:-../shared/data/nas-bench-201/nb201.csv}")"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
mpirun="mpirun --oversubscribe --allow-run-as-root -n"

cat > "$dir/table.yaml" <<YAML
seed: 1
space: {name: nb201}
strategy: {name: evolution, population: 50, sample: 10}
evaluator: {name: table, key: arch, metric: cifar10_valid_12ep, path: $table}
budget: {evaluations: 3000}
parallel: {workers: 1, batch: 8}
YAML
steps=40; batch=64; evaluations=12
cat > "$dir/train.yaml" <<YAML
seed: 1
space: {name: nb201, channels: 8, cells_per_stage: 1}
strategy: {name: random}
evaluator:
  name: train
  dataset: {name: fashion-mnist, path: /usr/share/datasets/fashion-mnist, val_size: 500, train_subset: 2560, test_subset: 1}
  steps: $steps
  batch_size: $batch
  loader_threads: 0
  test: false
  latency: false
budget: {evaluations: $evaluations}
parallel: {workers: 1, threads_per_worker: 1, batch: 2}
YAML

timed() {  # seconds a command takes
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}
for processes in 1 2 3; do
  launch=()
  [ "$processes" -gt 1 ] && launch=($mpirun "$processes")
  evaluating=$(( processes > 1 ? processes - 1 : 1 ))
  rm -f "$dir"/*.db
  t=$(timed "${launch[@]}" "$build/nascent" search "$dir/table.yaml" --db "$dir/table.db" --quiet)
  printf "table search, %d process(es), %d evaluating: 3000 evaluations in %.2f s = %.0f evaluations/s\n" "$processes" "$evaluating" "$t" "$(awk -v t="$t" 'BEGIN { print 3000 / t }')"
  t=$(timed "${launch[@]}" "$build/nascent" search "$dir/train.yaml" --db "$dir/train.db" --quiet)
  printf "training search, %d process(es), %d evaluating: %d x %d steps x %d in %.2f s = %.0f training samples/s\n" "$processes" "$evaluating" \
    "$evaluations" "$steps" "$batch" "$t" "$(awk -v t="$t" -v n="$((evaluations * steps * batch))" 'BEGIN { print n / t }')"
done

darts_steps=20
darts_config() {  # $1: LibTorch threads per process
cat > "$dir/darts.yaml" <<YAML
seed: 1
space: {name: nb201}
strategy:
  name: darts
  epochs: 1
  steps_per_epoch: $darts_steps
  batch_size: 64
  supernet: {channels: 8, cells_per_stage: 1}
  dataset: {name: fashion-mnist, path: /usr/share/datasets/fashion-mnist, val_size: 256, train_subset: 2560, test_subset: 1}
parallel: {threads_per_worker: $1}
YAML
}
# One process with one thread, two processes with one thread each, and one process with two threads
# (the same cores as two processes, shared by LibTorch's own threads).
for setting in 1:1 2:1 1:2; do
  processes=${setting%:*}; threads=${setting#*:}
  darts_config "$threads"
  launch=()
  [ "$processes" -gt 1 ] && launch=($mpirun "$processes")
  rm -f "$dir"/*.db
  "${launch[@]}" "$build/nascent" search "$dir/darts.yaml" --db "$dir/darts.db" --quiet > /dev/null
  # The epoch's own time (its steps and the alpha split's scoring), without start-up and data loading.
  seconds=$("$build/nascent" results export --db "$dir/darts.db" --stage all --format csv | awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "seconds") c = i } NR == 2 { print $c }')
  printf "darts (order 1, batch 64, NB201 supernet C=8 N=1, Fashion-MNIST), %d process(es) x %d thread(s): %d steps in %.2f s = %.3f s/step\n" \
    "$processes" "$threads" "$darts_steps" "$seconds" "$(awk -v t="$seconds" -v n="$darts_steps" 'BEGIN { print t / n }')"
done
