#!/usr/bin/env bash
# Installs nascent's build and run dependencies from Debian 12 packages. Safe to run repeatedly:
# it only calls apt-get when something is missing.
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-openmp
  libboost-graph-dev libtbb-dev libyaml-cpp-dev libsqlite3-dev zlib1g-dev
  libgtest-dev libcli11-dev nlohmann-json3-dev libnlopt-cxx-dev
  libjpeg62-turbo-dev libpng-dev libzip-dev
  dataset-fashion-mnist wordnet-base sqlite3
  python3-torch  # the export tests load the TorchScript files in Python (/usr/bin/python3)
  libgraphviz-dev libcpp-httplib-dev  # the report's drawings (Graphviz) and `nascent serve`
  chromium  # the report's browser tests (headless)
  openmpi-bin libopenmpi-dev  # mpirun -n N nascent search (core/cluster.*)
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# The report's charting libraries are installed by `npm ci` at build time (results/web). A machine
# with its own Node.js (e.g. NodeSource's, which bundles npm) keeps it: Debian's npm would conflict.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
