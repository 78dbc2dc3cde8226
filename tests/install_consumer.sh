#!/usr/bin/env bash
# Installs vkml from the build tree into a temporary prefix, then builds and runs samples/hello.cpp
# as an outside project would: find_package(vkml) + target_link_libraries(app vkml::vkml).
# usage: install_consumer.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1"
src="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > /dev/null
mkdir -p "$work/app"
cat > "$work/app/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.20)
project(consumer CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(vkml REQUIRED)
add_executable(app "$src/samples/hello.cpp")
target_link_libraries(app PRIVATE vkml::vkml)
CMAKE
cmake -S "$work/app" -B "$work/app/build" -DCMAKE_PREFIX_PATH="$work/prefix" > /dev/null
cmake --build "$work/app/build" > /dev/null
out="$("$work/app/build/app")"
echo "$out"
# silu(-2, -1, 0, 1, 2)
echo "$out" | grep -q -- "-0.2384 -0.2689 0.0000 0.7311 1.7616"
