#!/usr/bin/env bash
# Installs, only when missing, the Debian packages vkml needs to build, test and benchmark.
# Run as root (or with sudo available) on Debian 12.
#   --torch   also PyTorch (python3-torch) and OpenBLAS, for the tiny models' training code and
#             the PyTorch parity tests (scripts/run_tests.sh passes it)
#   --fuzz    also clang and its runtime libraries (libFuzzer, ASan, UBSan) for the fuzz/ targets
#             (scripts/fuzz.sh; scripts/run_tests.sh passes it). The GCC sanitizer runtimes of
#             the -DVKML_SANITIZE=ON build come with g++ (libasan8, libubsan1).
set -euo pipefail

packages=(cmake ninja-build g++ pkg-config libvulkan-dev glslc glslang-tools spirv-tools libglm-dev
          libgtest-dev libbenchmark-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools)

for arg in "$@"; do
  case "$arg" in
    # OpenBLAS speeds up Debian's torch on CPU about 15x over the reference BLAS.
    --torch) packages+=(python3-torch libopenblas0-serial) ;;
    # libclang-rt-14-dev holds libclang_rt.fuzzer/asan/ubsan; clang only recommends it and we
    # install without recommends.
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;
    *) echo "setup: unknown option $arg (expected --torch, --fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi
