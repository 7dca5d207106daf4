#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each on a copy of its seed corpus for a
# bounded time (FUZZ_SECONDS, default 60). Exits non-zero on any crash, leak or sanitizer report.
#   tests/fuzzing/run.sh [BUILD_DIR]
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$source_dir/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
CC=clang CXX=clang++ cmake -S "$source_dir" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBENCHMATRIX_FUZZ=ON -DBENCHMATRIX_TESTS=OFF >/dev/null
cmake --build "$build" --target fuzz_config fuzz_task_output
for target in config task_output; do
  corpus="$build/corpus-$target"
  rm -rf "$corpus"
  cp -r "$source_dir/tests/fuzzing/corpus/$target" "$corpus"   # new inputs never go to the source tree
  echo "fuzzing $target for ${seconds}s"
  "$build/tests/fuzzing/fuzz_$target" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$build/crash-$target-" 2>"$build/fuzz-$target.log" || {
    tail -n 40 "$build/fuzz-$target.log" >&2
    echo "fuzz_$target found a problem; the input is in $build/crash-$target-*" >&2
    exit 1
  }
  grep -E "stat::number_of_executed_units|Done" "$build/fuzz-$target.log" | tail -n 2
done
