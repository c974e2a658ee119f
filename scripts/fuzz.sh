#!/usr/bin/env bash
# Fuzzes every reader of user text with libFuzzer (Debian's clang): each space's architecture
# parser, the config reader with declared options, the CSV and JSON table readers.
#   scripts/fuzz.sh [SECONDS_PER_TARGET=600] [MAX_RUNS_PER_TARGET=1000000] [TARGET...]
# Builds nascent (build/) if needed, then the targets in build-fuzz/. Each target starts from its
# corpus in tests/fuzz/corpus/TARGET (new inputs go to build-fuzz/corpus/TARGET) and stops after
# SECONDS or MAX_RUNS executions. Prints executions and findings per target; crash inputs are kept
# in build-fuzz/findings/TARGET. Exit status 1 when any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
runs=${2:-1000000}
shift $(( $# < 2 ? $# : 2 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(nb201 darts einspace flexibert ofa vit_resnas config csv_table json_table)
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is missing (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }

bash scripts/build.sh --target nascent_lib nascent_core >/dev/null
cmake -S tests/fuzz -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DNASCENT_BUILD_DIR="$PWD/build" >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null

# LibTorch's own allocations at exit are not ours to report.
export ASAN_OPTIONS=detect_leaks=0:detect_odr_violation=0:allocator_may_return_null=1
status=0
printf '%-12s %12s %10s %s\n' target executions seconds findings
for target in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$target findings=build-fuzz/findings/$target
  mkdir -p "$corpus" "$findings"
  log=build-fuzz/$target.log
  start=$SECONDS
  if build-fuzz/fuzz_$target "$corpus" tests/fuzz/corpus/$target -max_total_time="$seconds" -runs="$runs" \
       -max_len=4096 -timeout=10 -rss_limit_mb=4096 -artifact_prefix="$findings/" -print_final_stats=1 >"$log" 2>&1; then
    found=0
  else
    found=$(ls "$findings" | wc -l)
    [ "$found" -gt 0 ] || found="error (see $log)"
    status=1
  fi
  executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  printf '%-12s %12s %10s %s\n' "$target" "$executions" $((SECONDS - start)) "$found"
done
exit $status
