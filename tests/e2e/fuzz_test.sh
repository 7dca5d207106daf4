# The libFuzzer targets for the config loader and the task-output parser, built with clang and
# sanitizers, run on their seed corpora for a bounded time (FUZZ_SECONDS each, 30 by default).
source "$(dirname "$0")/lib.sh"
if ! command -v clang++ >/dev/null; then
  echo "fuzz_test: skipped (no clang++; setup.sh installs it)"
  exit 77
fi
FUZZ_SECONDS=${FUZZ_SECONDS:-30} bash "$SOURCE_DIR/tests/fuzzing/run.sh" "$WORK/build-fuzz"
echo "fuzz_test: ok"
