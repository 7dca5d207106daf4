# Bad input is refused before anything runs: exit 2, a message with file:line:column, nothing written.
source "$(dirname "$0")/lib.sh"

check() {  # NAME EXPECTED_TEXT YAML
  printf '%s' "$3" >"$1.yaml"
  run_bm 2 run "$1.yaml" --out "out-$1"
  assert_contains err.txt "$2"
  [ ! -e "out-$1" ] || fail "$1: the results folder was created for a bad config"
  [ ! -e results ] || fail "$1: results/ was created for a bad config"
}

check unknown_key "unknown_key.yaml:3:1: config: unknown key 'matrx'" $'name: t\ncommand: [x]\nmatrx: {a: [1]}\n'
check wrong_type "wrong_type.yaml:3:16: repeat.runs: expected a whole number" $'name: t\ncommand: [x]\nrepeat: {runs: ten}\n'
check empty_axis "empty_axis.yaml:3:13: matrix.a: the axis has no values" $'name: t\ncommand: [x]\nmatrix: {a: []}\n'
check duplicate_axis "duplicate_axis.yaml:5:3: matrix: 'a' appears twice" $'name: t\ncommand: [x, "{a}"]\nmatrix:\n  a: [1]\n  a: [2]\n'
check placeholder "placeholder.yaml:2:14: unknown placeholder {nope}" $'name: t\ncommand: [x, "{nope}"]\nmatrix: {a: [1]}\n'
check syntax "syntax.yaml:3:1: not valid YAML" $'name: t\ncommand: [x\n'
check missing_field "missing_field.yaml:2:14: {e.bin}: the value 'q' of axis 'e' has no field 'bin'" $'name: t\ncommand: [x, "{e.bin}"]\nmatrix: {e: [{name: p, bin: ./p}, q]}\n'

run_bm 2 run does-not-exist.yaml
assert_contains err.txt "does-not-exist.yaml: cannot read the config: No such file or directory"

printf 'name: t\ncommand: [x, "{a}"]\nmatrix: {a: [1]}\n' >good.yaml
run_bm 2 run good.yaml --filter 'b=1'
assert_contains err.txt "--filter: there is no axis 'b'"
run_bm 2 run good.yaml --timeout soon
assert_contains err.txt "--timeout: expected a positive duration"
run_bm 2 run good.yaml --jobs 64
assert_contains err.txt "--oversubscribe"
run_bm 2 run good.yaml --cores 4000
assert_contains err.txt "CPU 4000 is not available"
run_bm 2 run good.yaml --bogus-flag
run_bm 2 run good.yaml --executor pbs
assert_contains err.txt "--executor"
run_bm 2 run good.yaml --executor slurm --jobs 2
assert_contains err.txt "is for the local executor"
[ ! -e results ] || fail "a refused run created results/"
echo "config_errors_test: ok"
