# The run as a person sees it: on a terminal (tmux) a live block of what runs where, redrawn on
# resize, with "+N more" beyond the screen and the cursor restored on Ctrl-C; in a pipe plain
# lines, no escape codes, a heartbeat; colours on request; --quiet; the events stream.
source "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || fail "tmux is not installed (./setup.sh installs it)"

cat >slow.yaml <<'YAML'
name: slow
command: ["sh", "-c", "sleep {s}; if [ {k} = bad ]; then echo 'first line' >&2; echo 'why it failed' >&2; exit 2; fi"]
matrix:
  k: [a, b, c, d, e, bad]
  s: [0.15]
repeat: {runs: 2}
YAML

# A pipe: plain lines, no escape codes even with a TERM; a heartbeat while tasks run; the last
# lines of a failed task's stderr.
TERM=xterm BENCHMATRIX_HEARTBEAT_SECONDS=1 "$BENCHMATRIX" run slow.yaml --out plain >plain.txt 2>&1 && code=0 || code=$?
assert_eq "$code" 1 "exit code of a run with a failed task"
if grep -q $'\x1b' plain.txt; then fail "escape codes in piped output"; fi
assert_contains plain.txt "ok    k=a s=0.15"
assert_contains plain.txt "FAIL  k=bad s=0.15  run 1 of 2: exit code 2"
assert_contains plain.txt "    | first line"
assert_contains plain.txt "    | why it failed"
grep -Eq '^\.\.\. [0-9]+/6 done, 1 running, .* elapsed, (about [0-9ms]+|\?) left; oldest: k=' plain.txt ||
  { cat plain.txt >&2; fail "no heartbeat line while tasks ran"; }
BENCHMATRIX_HEARTBEAT_SECONDS=soon run_bm 2 run slow.yaml --out never
assert_contains err.txt "BENCHMATRIX_HEARTBEAT_SECONDS: expected a whole number of seconds"

# Colours: asked for, forced by FORCE_COLOR, refused by --color never and by NO_COLOR on a terminal.
run_bm 1 run slow.yaml --out color --force --color always --filter k=a,bad
grep -q $'\x1b\\[32mok' out.txt || fail "--color always: no green ok"
FORCE_COLOR=1 run_bm 1 run slow.yaml --out color --force --filter k=a,bad
grep -q $'\x1b\\[1;31mFAIL' out.txt || fail "FORCE_COLOR: no red FAIL"
FORCE_COLOR=1 run_bm 1 run slow.yaml --out color --force --color never --filter k=a,bad
if grep -q $'\x1b' out.txt; then fail "--color never printed escape codes"; fi

# --progress always: the live block even where there is no terminal (escape codes and all), and
# the cursor shown again at the end.
run_bm 1 run slow.yaml --out always --force --progress always --filter k=a,bad
grep -q $'\x1b\\[?25l' out.txt || fail "--progress always: the cursor was not hidden"
grep -q $'\x1b\\[?25h' out.txt || fail "--progress always: the cursor was not shown again"
assert_contains out.txt "FAIL  k=bad s=0.15"

# --quiet: the failure and the summary, not the successes.
run_bm 1 run slow.yaml --out quiet --quiet
assert_not_contains out.txt "ok    k=a"
assert_contains out.txt "FAIL  k=bad"
assert_contains out.txt "slow: 5 succeeded, 1 failed"

# Events: JSON lines from plan to summary, to a file or a descriptor.
run_bm 1 run slow.yaml --out events --events ev.jsonl
python3 - ev.jsonl <<'PY'
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
kinds = [e["event"] for e in events]
assert kinds[0] == "plan" and kinds[-1] == "summary", kinds
assert all(e["schema"] == 1 and "time" in e for e in events)
assert events[0]["to_run"] == 6 and events[0]["slots"] == ["0"], events[0]
assert kinds.count("start") == 6 and kinds.count("end") == 6, kinds
assert kinds.count("sample") == 11, kinds.count("sample")  # 5 tasks x 2 runs, and the failing run
start = next(e for e in events if e["event"] == "start")
assert start["cores"] == [1] and start["slot"] == "0" and start["axes"] == {"k": "a", "s": "0.15"}, start
bad = next(e for e in events if e["event"] == "end" and e["status"] == "failed")
assert bad["reason"] == "run 1 of 2: exit code 2" and bad["logs"]["stderr"].endswith("stderr.log"), bad
assert open(bad["logs"]["stderr"]).read().startswith("first line")
summary = events[-1]
assert summary["completed"] == 5 and summary["failed"] == 1, summary
PY
"$BENCHMATRIX" run slow.yaml --out events --force --events fd:3 3>fd.jsonl >/dev/null && code=0 || code=$?
assert_eq "$code" 1 "exit code with --events fd:3"
assert_eq "$(head -c 40 fd.jsonl | grep -c '"event":"plan"')" 1 "first event written to fd 3"
run_bm 2 run slow.yaml --out never --events fd:99
assert_contains err.txt "descriptor 99 is not open"
run_bm 2 run slow.yaml --out never --events /nonexistent/dir/ev.jsonl
assert_contains err.txt "--events: cannot open /nonexistent/dir/ev.jsonl for writing"
[ ! -e never ] || fail "a bad --events left a results folder"

# The terminal: tmux runs benchmatrix in a pane 8 rows high, with more slots than rows.
cat >live.yaml <<'YAML'
name: live
command: ["sleep", "{s}"]
matrix:
  k: [a, b, c, d, e, f, g, h]
  s: [1.5]
repeat: {runs: 8}
YAML
socket="bm-live-$$"
tmux_() { tmux -L "$socket" "$@"; }
trap 'tmux_ kill-server 2>/dev/null; rm -rf "$WORK"' EXIT
tmux_ new-session -d -x 100 -y 8 "cd '$WORK' && TERM=xterm '$BENCHMATRIX' run live.yaml --out live --jobs 8 --oversubscribe; echo EXIT=\$? > exit.txt; sleep 60"
screen() { tmux_ capture-pane -p -t 0 > screen.txt; }
for _ in $(seq 50); do screen; grep -q "running" screen.txt && break; sleep 0.2; done
sleep 0.5; screen
grep -Eq '^\[0/8\] 8 running, [0-9]+s elapsed' screen.txt || { cat screen.txt >&2; fail "no status line on the terminal"; }
assert_contains screen.txt "  slot 0  unpinned  k=a s=1.5  run "
assert_contains screen.txt "  +"
assert_eq "$(tmux_ display -p -t 0 '#{cursor_flag}')" 0 "cursor shown while the block is drawn"
# Resized taller, every slot fits and "+N more" goes.
tmux_ resize-window -t 0 -x 100 -y 24
sleep 0.5; screen
assert_eq "$(grep -c '^  slot ' screen.txt)" 8 "slot lines after the resize"
assert_not_contains screen.txt "  +"
# Narrower: the block's lines are cut, never wrapped (lines printed above it are the terminal's to wrap).
tmux_ resize-window -t 0 -x 40 -y 24
sleep 0.5; screen
assert_eq "$(grep -c '^  slot ' screen.txt)" 8 "slot lines at 40 columns"
python3 -c '
import sys
wide = [l for l in open("screen.txt", encoding="utf-8").read().splitlines() if l.startswith(("  slot ", "[")) and len(l) >= 40]
sys.exit(1 if wide else 0)' || { cat screen.txt >&2; fail "a line of the block is as wide as the terminal"; }
# Ctrl-C: the run stops, the block goes, the cursor is back.
tmux_ send-keys -t 0 C-c
for _ in $(seq 50); do [ -s exit.txt ] && break; sleep 0.2; done
assert_eq "$(cat exit.txt)" "EXIT=130" "exit code after Ctrl-C"
sleep 0.3; tmux_ capture-pane -p -J -t 0 > screen.txt  # wrapped lines joined
assert_eq "$(tmux_ display -p -t 0 '#{cursor_flag}')" 1 "cursor shown after Ctrl-C"
assert_not_contains screen.txt "  slot "
assert_contains screen.txt "live: 0 succeeded, 0 failed, 8 interrupted"
