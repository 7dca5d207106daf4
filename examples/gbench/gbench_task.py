#!/usr/bin/env python3
"""Runs one benchmark of a Google Benchmark binary and reports it per the benchmatrix task protocol.

    gbench_task.py BINARY NAME [REPETITIONS]

Runs BINARY --benchmark_filter='^NAME$' with REPETITIONS repetitions (default 3) in JSON and
appends {"metric": "real_time", "samples": [...], "unit": "s"} (and cpu_time likewise) to
$BENCHMATRIX_RESULT_FILE: one sample per repetition, each the mean time of one iteration in
seconds. benchmatrix treats the repetitions of one process as nested (the process is the unit of
its comparisons). Without $BENCHMATRIX_RESULT_FILE the lines go to stdout.
"""
import json
import os
import re
import subprocess
import sys

SCALE = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    binary, name = sys.argv[1], sys.argv[2]
    repetitions = int(sys.argv[3]) if len(sys.argv) == 4 else 3
    process = subprocess.run(
        [binary, "--benchmark_filter=^" + re.escape(name) + "$", "--benchmark_format=json",
         "--benchmark_repetitions=%d" % repetitions, "--benchmark_min_time=0.01"],
        stdout=subprocess.PIPE, check=False)
    if process.returncode != 0:
        sys.exit("%s exited %d" % (binary, process.returncode))
    report = json.loads(process.stdout)
    runs = [b for b in report.get("benchmarks", [])
            if b.get("run_type", "iteration") == "iteration" and b.get("run_name", b["name"]) == name]
    if not runs:
        sys.exit("%s has no benchmark named %s" % (binary, name))
    lines = []
    for metric in ("real_time", "cpu_time"):
        samples = [b[metric] * SCALE[b.get("time_unit", "ns")] for b in runs]
        lines.append(json.dumps({"metric": metric, "samples": samples, "unit": "s"}))
    target = os.environ.get("BENCHMATRIX_RESULT_FILE")
    with (open(target, "a") if target else sys.stdout) as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
