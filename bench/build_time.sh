#!/usr/bin/env bash
# Build time of a nascent source tree on this machine, measured the same way every time:
#   cold   the `nascent` target, then everything else (tests, benches, plugins), with an empty
#          ccache (so nothing is reused) and -j2;
#   warm   the whole build again in a fresh build folder, every object in ccache.
# Usage: bench/build_time.sh [SOURCE_DIR]   (default: this checkout). Needs ninja and ccache.
set -euo pipefail
source_dir=$(cd "${1:-$(dirname "$0")/..}" && pwd)
work=$(mktemp -d /tmp/nascent-build-time.XXXXXX)
trap 'rm -rf "$work"' EXIT
export CCACHE_DIR="$work/ccache"
jobs=2

configure() { cmake -S "$source_dir" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null; }
seconds() { local start=$SECONDS; "$@" >/dev/null; echo $((SECONDS - start)); }

configure
cold_cli=$(seconds cmake --build "$work/build" -j$jobs --target nascent)
cold_rest=$(seconds cmake --build "$work/build" -j$jobs)
# The slowest steps of the cold build (seconds, output), from Ninja's log.
slowest=$(awk 'NR > 1 { printf "%6.1f  %s\n", ($2 - $1) / 1000, $4 }' "$work/build/.ninja_log" | sort -rn | head -12)
compile_seconds=$(awk 'NR > 1 { s += ($2 - $1) / 1000 } END { printf "%.0f", s }' "$work/build/.ninja_log")
rm -rf "$work/build"
configure
warm_all=$(seconds cmake --build "$work/build" -j$jobs)

echo "source        $source_dir ($(git -C "$source_dir" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "cold nascent  ${cold_cli} s"
echo "cold full     $((cold_cli + cold_rest)) s"
echo "warm full     ${warm_all} s (ccache)"
echo "cold steps    ${compile_seconds} s of compiling and linking in all; the slowest:"
echo "$slowest"
