# Shared helpers for the end-to-end tests: each test runs the real benchmatrix binary on real
# processes in a fresh temporary directory, and fails with a message that says what differed.
set -euo pipefail

: "${BENCHMATRIX:?set by CTest}"
: "${SORTBENCH:?set by CTest}"
: "${SOURCE_DIR:?set by CTest}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bm-e2e.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# run_bm EXPECTED_EXIT ARGS...: runs benchmatrix, keeps stdout in out.txt and stderr in err.txt.
run_bm() {
  local expected=$1
  shift
  local code=0
  "$BENCHMATRIX" "$@" >out.txt 2>err.txt || code=$?
  if [ "$code" != "$expected" ]; then
    echo "--- stdout" >&2; cat out.txt >&2; echo "--- stderr" >&2; cat err.txt >&2
    fail "benchmatrix $* exited $code, expected $expected"
  fi
}

assert_contains() {  # FILE TEXT
  grep -qF -- "$2" "$1" || { echo "--- $1" >&2; cat "$1" >&2; fail "$1 does not contain: $2"; }
}

assert_not_contains() {  # FILE TEXT
  if grep -qF -- "$2" "$1"; then echo "--- $1" >&2; cat "$1" >&2; fail "$1 contains: $2"; fi
}

assert_eq() {  # ACTUAL EXPECTED WHAT
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# count_events OUT EVENT: how many journal lines have this event.
count_events() {
  grep -c "\"event\":\"$2\"" "$1/journal.jsonl" || true
}
