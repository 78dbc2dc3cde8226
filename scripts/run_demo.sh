#!/usr/bin/env bash
# README command 1: set up, build, list the devices and run the demo on the default device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
./build/vkml devices
./build/vkml demo "$@"
