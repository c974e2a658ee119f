#!/usr/bin/env bash
# Builds nascent and runs the quickstart search: regularised evolution over NAS-Bench-201 cells,
# each candidate trained briefly on Fashion-MNIST. Results go to quickstart.db.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh --target nascent
./build/nascent search examples/quickstart.yaml --db quickstart.db "$@"
./build/nascent results top --db quickstart.db -k 5
