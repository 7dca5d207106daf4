# A task's environment is explicit and recorded: inherited by default plus the config's env,
# minimal with `env: clean`; secrets never written; the inherited rest never makes a task stale.
source "$(dirname "$0")/lib.sh"

cat >env.yaml <<'YAML'
name: envtest
command: ["sh", "-c", "echo MY_VAR=$MY_VAR MODE=$MODE SLOT=$BENCHMATRIX_SLOT PHASE=$BENCHMATRIX_PHASE PATH_SET=${{PATH:+yes}}"]
matrix:
  algo: [a, {name: b, env: {MODE: "special-{algo}"}}]
env: {MODE: "plain-{algo}", DB_PASSWORD: hunter2}
YAML
export MY_VAR=inherited API_TOKEN=supersecret BENCHMATRIX_SLOT=leaked
run_bm 0 run env.yaml --out out
assert_contains out/tasks/a/stdout.log "MY_VAR=inherited MODE=plain-a SLOT=0 PHASE=run PATH_SET=yes"
assert_contains out/tasks/b/stdout.log "MODE=special-b"
run_env=$(echo out/runs/*/environment.json)
assert_contains "$run_env" '"MY_VAR": "inherited"'
assert_contains "$run_env" '"API_TOKEN": "<redacted>"'
assert_contains out/tasks/a/task.json '"run": "'"$(basename "$(dirname "$run_env")")"'"'
assert_contains out/tasks/a/task.json '"DB_PASSWORD": "<redacted>"'
if grep -rq -e supersecret -e hunter2 out --exclude=stdout.log; then
  grep -rl -e supersecret -e hunter2 out >&2
  fail "a secret value was written to the results"
fi

# A new shell (SHLVL, OLDPWD) changes nothing; another value of an inherited variable is shown
# by list but never makes the task run again.
SHLVL=7 OLDPWD=/elsewhere run_bm 0 list env.yaml --out out
assert_contains out.txt "2 tasks (2 done)"
assert_not_contains out.txt "environment differs"
MY_VAR=changed run_bm 0 list env.yaml --out out
assert_contains out.txt "(environment differs: MY_VAR)"
MY_VAR=changed run_bm 0 run env.yaml --out out
assert_contains out.txt "2 tasks already done"

# What the config sets is part of the spec: changing it makes the tasks stale.
sed -i 's/plain-{algo}/other-{algo}/' env.yaml
run_bm 0 list env.yaml --out out
assert_contains out.txt "1 done, 1 stale"   # b overrides MODE, so only a changed

# env: clean keeps a minimal environment.
cat >clean.yaml <<'YAML'
name: clean
command: ["sh", "-c", "echo MY_VAR=${{MY_VAR:-unset}} PATH_SET=${{PATH:+yes}}"]
env: clean
YAML
run_bm 0 run clean.yaml --out clean-out
assert_contains clean-out/tasks/task/stdout.log "MY_VAR=unset PATH_SET=yes"
printf 'name: c\ncommand: [x]\nenv_inherit: [1BAD]\n' >bad.yaml
run_bm 2 run bad.yaml
assert_contains err.txt "bad.yaml:3:15: env_inherit: '1BAD' is not a valid environment variable name"
echo "environment_test: ok"
