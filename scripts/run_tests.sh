#!/usr/bin/env bash
# README command 2: set up, build with warnings as errors, run the whole suite (validation on).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh -DVKML_WERROR=ON
ctest --test-dir build --output-on-failure -j "$(nproc)"
