#!/usr/bin/env python3
"""A stand-in for a model evaluation (seed 004's shape), so the GPU example runs anywhere with
nothing downloaded: it "evaluates" MODEL with an attention config on a benchmark subset by
scoring synthetic items with a CPU workload whose size depends on the model and on how sparse the
attention is, and reports accuracy (with its standard error) and throughput through
benchmatrix's task protocol ($BENCHMATRIX_RESULT_FILE).

It runs on the GPU benchmatrix gave it (CUDA_VISIBLE_DEVICES) when there is one, as a real
evaluation would, and says on stderr that it computes on the CPU either way: replace this script
with your own evaluation and keep the config.

--check: what resources.gpu_check runs once per GPU before the GPU gets work ("can a model load
here"): it fails when CUDA_VISIBLE_DEVICES names no GPU that nvidia-smi can see, on machines that
have nvidia-smi, and passes elsewhere.
"""
import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time

MODEL_SIZE = {"small-1b": 1, "medium-3b": 3}
KEEP = {"dense": 1.0, "streaming": 0.25, "topk": 0.4}


def check() -> int:
    gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    smi = shutil.which("nvidia-smi")
    if not smi:
        print(f"GPU {gpu}: no nvidia-smi here; nothing to check", file=sys.stderr)
        return 0
    listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=60)
    if listed.returncode != 0 or "GPU" not in listed.stdout:
        print(f"GPU {gpu}: nvidia-smi sees no GPU ({listed.stderr.strip() or listed.stdout.strip()})")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--model")
    parser.add_argument("--attention")
    parser.add_argument("--benchmark")
    parser.add_argument("--subset", default="")
    parser.add_argument("--items", type=int, default=60)
    args = parser.parse_args()
    if args.check:
        return check()

    gpu = os.environ.get("CUDA_VISIBLE_DEVICES")
    where = f"GPU {gpu}" if gpu else "no GPU"
    print(f"stand-in evaluation of {args.model} ({args.attention}) on {args.benchmark}/{args.subset or '-'}, "
          f"given {where}; computing on the CPU", file=sys.stderr)

    # Work per item grows with the model and with the share of attention kept.
    work = int(20000 * MODEL_SIZE[args.model] * (0.2 + KEEP[args.attention]))
    correct = 0
    started = time.perf_counter()
    for item in range(args.items):
        seed = f"{args.model}|{args.benchmark}|{args.subset}|{item}".encode()
        digest = hashlib.sha256(seed).digest()
        acc = 0.0
        for i in range(work // 100):
            acc += math.sin(i * digest[i % 32])
        # Larger models and denser attention answer more items right, deterministically.
        threshold = 150 + 25 * MODEL_SIZE[args.model] + 60 * KEEP[args.attention]
        correct += digest[0] < threshold
    elapsed = time.perf_counter() - started

    accuracy = correct / args.items
    stderr = math.sqrt(accuracy * (1 - accuracy) / args.items)
    result_file = os.environ.get("BENCHMATRIX_RESULT_FILE")
    if result_file:
        with open(result_file, "a") as out:
            out.write(json.dumps({"metric": "accuracy", "value": accuracy, "stderr": stderr, "direction": "higher"}) + "\n")
            out.write(json.dumps({"metric": "items_per_s", "value": args.items / elapsed, "unit": "items/s",
                                  "direction": "higher"}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
