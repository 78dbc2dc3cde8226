#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang + ASan/UBSan) and runs each for SECONDS (default 60)
# on a scratch copy of its seed corpus. Exits non-zero when a target finds a crash, leak or
# timeout; the reproducer is left in $WORK/artifacts/TARGET/. Also replays fuzz/regressions/.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Env: BUILD_DIR (default build-fuzz), JOBS (default 2), FUZZ_WORK (default a temp dir).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_gguf fuzz_safetensors fuzz_json fuzz_tokenizer fuzz_tokenizer_gguf fuzz_tokenizer_json)
build="${BUILD_DIR:-$root/build-fuzz}"
work="${FUZZ_WORK:-$(mktemp -d -t vkml-fuzz.XXXXXX)}"

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DVKML_FUZZ=ON -DVKML_BUILD_TESTS=OFF \
  -DVKML_BUILD_BENCH=OFF -DVKML_BUILD_TOOLS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target "${targets[@]}"

corpus_of() {
  case "$1" in
    fuzz_gguf) echo gguf ;; fuzz_safetensors) echo safetensors ;; fuzz_json) echo json ;;
    fuzz_tokenizer) echo tokenizer ;; fuzz_tokenizer_gguf) echo tokenizer_gguf ;;
    fuzz_tokenizer_json) echo tokenizer_json ;;
  esac
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
for t in "${targets[@]}"; do
  c="$(corpus_of "$t")"
  # Regression inputs first: each must run clean.
  if [ -d "$root/fuzz/regressions/$c" ] && [ -n "$(ls -A "$root/fuzz/regressions/$c")" ]; then
    "$build/fuzz/$t" -runs=0 "$root/fuzz/regressions/$c"/* >"$work/$t.regress.log" 2>&1 ||
      { echo "FAIL $t: regression input crashes (see $work/$t.regress.log)"; status=1; continue; }
  fi
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
  cp -r "$root/fuzz/corpus/$c/." "$work/corpus/$t/"
  # -timeout=30: every input runs in milliseconds; a lower limit reported false timeouts on a
  # loaded machine (ASan's madvise stalled a starved process for 15 s on an input that runs in 20 ms).
  if "$build/fuzz/$t" "$work/corpus/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 \
      -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" >"$work/$t.log" 2>&1; then
    execs=$(grep -m1 'stat::number_of_executed_units' "$work/$t.log" | awk '{print $2}')
    rate=$(grep -m1 'stat::average_exec_per_sec' "$work/$t.log" | awk '{print $2}')
    echo "ok   $t: ${execs} executions in ${seconds}s (${rate} exec/s)"
  else
    echo "FAIL $t: see $work/$t.log; reproducer in $work/artifacts/$t/"
    grep -m5 -E 'ERROR|SUMMARY|runtime error|Abort' "$work/$t.log" || true
    status=1
  fi
done
echo "logs in $work"
exit $status
