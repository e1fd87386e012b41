#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs every test.
# Privileged tests (eBPF, netns, cgroups) need root; with CI=true they may not skip.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/build.sh

BUILD_DIR="${BUILD_DIR:-build}"
# --no-tests=error: a run that executes no test is a failure, not a pass.
ctest --test-dir "$BUILD_DIR" -j "$(nproc)" --output-on-failure --no-tests=error "$@"
