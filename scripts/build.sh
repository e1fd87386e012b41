#!/usr/bin/env bash
# Installs what is missing (Debian packages) and builds Ambit into build/.
#   BUILD_DIR=build  BUILD_TYPE=RelWithDebInfo|Release|Debug  AMBIT_SANITIZE=address|undefined|thread
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

BUILD_DIR="${BUILD_DIR:-build}"
BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"
JOBS="${JOBS:-$(nproc)}"

cmake -S . -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
  -DAMBIT_SANITIZE="${AMBIT_SANITIZE:-}" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
