#!/usr/bin/env bash
# README command 2: set up (with PyTorch for the parity tests), build with warnings as errors,
# and run the whole suite (validation layers on).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --torch
bash scripts/build.sh -DVKML_WERROR=ON
ctest --test-dir build --output-on-failure -j "$(nproc)"
