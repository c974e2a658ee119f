#!/usr/bin/env bash
# Configures and builds nascent in ./build (Release). Extra arguments go to `cmake --build`.
set -euo pipefail
cd "$(dirname "$0")/.."
# Ninja when present: with precompiled headers, Makefiles rebuild every object whenever a source
# file is added, Ninja only what changed. An existing build folder keeps its generator.
generator=()
if [ ! -f build/CMakeCache.txt ] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${generator[@]}" >/dev/null
cmake --build build -j"$(nproc)" "$@"
