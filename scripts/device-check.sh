#!/usr/bin/env bash
# The GPU checks, as one prepared script for a machine with NVIDIA GPUs and a CUDA LibTorch (for
# example the one inside pip's torch). Builds nascent against that LibTorch in build-cuda/, runs the
# CUDA tests and a CUDA search, and prints the GPU figures: training samples/s and a search's
# evaluations. Sized for under 8 minutes.
#   scripts/device-check.sh [build folder, default build-cuda]
# Build settings: no MPI and no report assets (the GPU machine may lack Open MPI and npm); the
# Debian -dev packages nascent needs (yaml-cpp, oneTBB, SQLite, ...) must be installed or unpacked
# and named through CMAKE_PREFIX_PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-cuda}"
started=$(date +%s)
python3 - <<'PY'
import torch
assert torch.cuda.is_available(), "LibTorch sees no CUDA device"
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}")
PY
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${torch_prefix};${CMAKE_PREFIX_PATH:-}" \
  -DNASCENT_MPI=OFF -DNASCENT_REPORT=OFF -DNASCENT_UNITY_BUILD=ON > "$build.configure.log"
cmake --build "$build" -j"$(nproc)" --target nascent nascent_engine nascent_tests bench_training
echo "build: $(( $(date +%s) - started )) s"

# The CUDA tests (they skip without a device), then every evaluator test on this LibTorch.
"$build/nascent_tests" --gtest_filter='*Cuda*:EvaluatorTest.*:TrainInstallments.*'

# Figures: training throughput on the GPU against the CPU, then a short search on the GPU.
"$build/bench_training" 50 cuda
"$build/bench_training" 50 cpu
db=$(mktemp -d)/device-check.db
/usr/bin/time -f "quickstart search on cuda: %e s" "$build/nascent" search examples/quickstart.yaml --db "$db" --device cuda \
  --set budget.evaluations=8 --quiet
"$build/nascent" results top --db "$db" -k 3
echo "device check: $(( $(date +%s) - started )) s in all"
