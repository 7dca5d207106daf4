"""The Python front over the real binary: run(), load(), the schema check, Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import benchmatrix

BINARY = os.environ["BENCHMATRIX_BIN"]


def test_run_a_config_dict_and_resume(tmp_path):
    # A literal brace in a command is written {{ or }}; {v} is the axis value.
    script = "printf '{{\"score\": %s}}' {v} >\"$BENCHMATRIX_RESULT_DIR/metrics.json\"; test {v} != 3"
    config = {"name": "py", "command": ["sh", "-c", script], "matrix": {"v": [1, 2, 3]}, "repeat": {"runs": 2}}
    events = []
    results = benchmatrix.run(config, tmp_path / "out", progress=events.append)
    assert [task.axes["v"] for task in results.tasks] == ["1", "2", "3"]
    assert [task.status for task in results.tasks] == ["succeeded", "succeeded", "failed"]
    assert results.tasks[1].metrics["score"].median == 2
    assert results.tasks[1].samples["score"] == [2, 2]
    assert "run 1 of 2: exit code 1" in results.tasks[2].reason
    assert {event["event"] for event in events} >= {"plan", "start", "end", "summary"}
    # A second run resumes: the two done tasks are skipped, the failed one runs again.
    events.clear()
    benchmatrix.run(config, tmp_path / "out", progress=events.append)
    plan = next(event for event in events if event["event"] == "plan")
    assert plan["skipped"] == 2 and plan["to_run"] == 1


def test_load_reads_a_tree_the_cli_made(tmp_path):
    subprocess.run([BINARY, "exec", "-p", "n=1,2", "-r", "3", "--out", str(tmp_path / "cli"), "--", "true"],
                   check=True, capture_output=True)
    results = benchmatrix.load(tmp_path / "cli")
    assert results.axes == ["n"] and len(results.done()) == 2
    assert results.tasks[0].metrics["wall_time"].n == 3 and results.tasks[0].metrics["wall_time"].unit == "s"
    assert len(results.tasks[0].samples["wall_time"]) == 3
    with pytest.raises(benchmatrix.ResultsError):
        benchmatrix.load(tmp_path)


def test_plain_progress_lines(tmp_path, capsys):
    benchmatrix.run({"name": "plain", "command": ["true"], "matrix": {"i": [1, 2]}}, tmp_path / "o", progress="plain")
    out = capsys.readouterr().out
    assert "benchmatrix: 2 tasks to run" in out and "[2/2] succeeded i=2" in out


def test_a_refused_config_raises_with_the_binarys_message(tmp_path):
    with pytest.raises(benchmatrix.RunError) as error:
        benchmatrix.run({"name": "bad", "command": ["true"], "repeat": {"runs": 0}}, tmp_path / "bad", progress=False)
    assert error.value.exit_code == 2 and "repeat.runs" in str(error.value)


def test_a_binary_of_another_schema_is_refused_at_import(tmp_path):
    fake = tmp_path / "benchmatrix"
    fake.write_text('#!/bin/sh\necho \'{"version": "9", "results_schema": 99, "events_schema": 1}\'\n')
    fake.chmod(0o755)
    env = dict(os.environ, BENCHMATRIX_BIN=str(fake))
    done = subprocess.run([sys.executable, "-c", "import benchmatrix"], env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "results schema 99" in done.stderr, done.stderr
    # The CLI entry point runs the real binary.
    done = subprocess.run([sys.executable, "-m", "benchmatrix", "version", "--json"], capture_output=True, text=True)
    assert json.loads(done.stdout)["results_schema"] == 1


def test_keyboard_interrupt_stops_the_engine_cleanly_and_is_raised_again(tmp_path):
    marker = f"bm-py-interrupt-{os.getpid()}"
    config = {"name": "stop", "command": ["sh", "-c", f"exec sleep 60 # {marker}"], "matrix": {"i": [1, 2]},
              "task": {"kill_grace": "200ms"}}
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        benchmatrix.run(config, tmp_path / "stop", progress=False)
    timer.cancel()
    assert time.monotonic() - started < 30
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.strip()
    assert left == "", f"processes left behind: {left}"
    journal = (tmp_path / "stop" / "journal.jsonl").read_text()
    assert '"run-interrupted"' in journal or '"interrupted"' in journal
