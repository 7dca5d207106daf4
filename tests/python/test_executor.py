"""Seed 004's BenchmarkExecutor over the engine: stub counts, the folder layout, resume, a failing
stub that fails alone, user objects by pickle, GPUs from the pool."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import benchmatrix  # noqa: E402
from benchmatrix import AdapterConfig, BenchmarkConfig, BenchmarkExecutor  # noqa: E402
from mock_seed004 import StreamingConfig  # noqa: E402

MODELS = ["microsoft/Phi-4-mini-instruct", "meta-llama/Llama-3.1-8B-Instruct"]


def basic(tmp_path, benchmarks=None):
    executor = BenchmarkExecutor(gpu_ids=[0, 1], max_concurrent_runs=4, base_result_dir=str(tmp_path / "results"),
                                 progress=False, higher_is_better=["accuracy"], extra_args=["--oversubscribe"])
    return executor.run_benchmark_matrix(
        model_names=MODELS,
        sparse_attention_configs=[("dense", None), ("streaming", StreamingConfig(4, 64))],
        benchmark_configs=benchmarks or [BenchmarkConfig("longbench", ["narrativeqa", "qasper"]),
                                         BenchmarkConfig("mock_benchmark")],
        adapter_config=AdapterConfig(model_kwargs={"torch_dtype": "bfloat16"}),
        generation_kwargs={"max_new_tokens": 256})


def test_the_basic_example_makes_twelve_stubs_in_the_seeds_layout(tmp_path, capsys):
    results = basic(tmp_path)
    assert results.execution_summary["total_stubs"] == 12
    assert len(results.individual_results) == 12 and not results.failed_executions
    tasks = tmp_path / "results" / "tasks"
    folder = tasks / "meta_llama_Llama_3.1_8B_Instruct" / "streaming" / "longbench_narrativeqa"
    assert (folder / "raw_results.csv").exists() and (folder / "metrics.json").exists()
    assert (tasks / "microsoft_Phi_4_mini_instruct" / "dense" / "mock_benchmark" / "metrics.json").exists()
    seen = json.loads((folder / "seen.json").read_text())
    assert seen["model"] == "meta-llama/Llama-3.1-8B-Instruct" and seen["subset"] == "narrativeqa"
    assert seen["gpus"] in ("0", "1")              # one GPU of the pool, set before the user's code ran
    by_dir = {Path(r.stub.result_dir).relative_to(tasks).as_posix(): r for r in results.individual_results}
    streaming = by_dir["meta_llama_Llama_3.1_8B_Instruct/streaming/longbench_narrativeqa"]
    assert streaming.metrics["accuracy"] == 0.5 + 64 / 1000     # the pickled config reached the adapter
    assert streaming.metrics["max_new_tokens"] == 256
    assert streaming.stub.sparse_attention_config == StreamingConfig(4, 64)
    # A second run skips the 12, and says so per stub.
    capsys.readouterr()
    again = basic(tmp_path)
    out = capsys.readouterr().out
    assert again.execution_summary["skipped_stubs"] == 12
    assert "Skipping meta_llama_Llama_3.1_8B_Instruct/dense/longbench_qasper - results exist" in out


def test_the_advanced_example_makes_thirty_two_stubs(tmp_path):
    executor = BenchmarkExecutor([0, 1, 2, 3], 8, str(tmp_path / "adv"), progress=False,
                                 extra_args=["--oversubscribe"])
    results = executor.run_benchmark_matrix(
        MODELS[::-1], [("dense", None), ("streaming", StreamingConfig(4, 64)), ("hash_attention", {"bits": 8}),
                       ("sink_local", StreamingConfig(16, 128))],
        [BenchmarkConfig("longbench", ["narrativeqa", "qasper", "hotpotqa"]), BenchmarkConfig("mock_benchmark")],
        AdapterConfig(model_kwargs={"torch_dtype": "bfloat16"}, tokenizer_kwargs={"padding_side": "left"}),
        {"max_new_tokens": 512})
    assert results.execution_summary["total_stubs"] == 32 and len(results.individual_results) == 32


def test_a_failing_stub_fails_alone_with_its_reason_and_logs(tmp_path):
    results = basic(tmp_path, [BenchmarkConfig("longbench", ["narrativeqa", "broken"])])
    assert len(results.individual_results) == 4 and len(results.failed_executions) == 4
    failure = results.failed_executions[0]
    assert failure.stub.subset == "broken" and "exit code 1" in failure.error_message
    stderr = next(log for log in failure.logs if log.endswith("stderr.log"))
    assert "the broken subset cannot be scored" in Path(stderr).read_text()


def test_unknown_names_are_refused_before_anything_runs(tmp_path):
    executor = BenchmarkExecutor([0], 1, str(tmp_path / "x"), progress=False)
    try:
        executor.run_benchmark_matrix(MODELS, [("dense", None)], [BenchmarkConfig("nope")], AdapterConfig())
    except KeyError as error:
        assert "no benchmark registered as 'nope'" in str(error)
    else:
        raise AssertionError("an unknown benchmark ran")
    assert not (tmp_path / "x").exists()


def test_stable_keys(tmp_path):
    assert benchmatrix.stable_key(StreamingConfig(4, 64)) == benchmatrix.stable_key(StreamingConfig(4, 64))
    assert benchmatrix.stable_key(StreamingConfig(4, 64)) != benchmatrix.stable_key(StreamingConfig(4, 65))
    assert benchmatrix.stable_key({"b": 1, "a": 2}) == benchmatrix.stable_key({"a": 2, "b": 1})


def test_the_bundled_example_runs_twelve_stubs_then_says_they_are_done(tmp_path):
    script = Path(__file__).resolve().parents[2] / "examples" / "seed004_python.py"
    env = dict(os.environ)
    first = subprocess.run([sys.executable, str(script), str(tmp_path / "out")], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "12 stubs: 12 done (0 already before), 0 failed" in first.stdout
    second = subprocess.run([sys.executable, str(script), str(tmp_path / "out")], env=env, capture_output=True, text=True)
    assert "12 stubs: 12 done (12 already before), 0 failed" in second.stdout
    assert second.stdout.count("results exist") == 12


def test_validate_gpu_is_the_engines_per_gpu_check(tmp_path, monkeypatch):
    # Two GPUs through the fake NVML (the engine checks GPUs only when NVML answers).
    script = tmp_path / "gpus.txt"
    script.write_text("gpu 0 GPU-11111111 00000000:19:00.0 143771 - NVIDIA H200\n"
                      "gpu 1 GPU-22222222 00000000:3B:00.0 143771 - NVIDIA H200\n")
    monkeypatch.setenv("BENCHMATRIX_NVML_LIBRARY", os.environ["FAKE_NVML"])
    monkeypatch.setenv("FAKE_NVML_SCRIPT", str(script))
    from mock_seed004 import only_gpu0
    executor = BenchmarkExecutor([0, 1], 2, str(tmp_path / "v"), progress=False, validate_gpu=only_gpu0)
    results = executor.run_benchmark_matrix(MODELS, [("dense", None)], [BenchmarkConfig("mock_benchmark")],
                                            AdapterConfig(), {"max_new_tokens": 8})
    assert len(results.individual_results) == 2
    for result in results.individual_results:
        seen = json.loads((Path(result.stub.result_dir) / "seen.json").read_text())
        assert seen["gpus"] == "0", seen     # GPU 1 failed the check and got no work


def test_keyboard_interrupt_stops_every_stub_and_a_rerun_finishes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MOCK_SLOW", "1")      # inherited, so not part of a stub's identity
    benchmarks = [BenchmarkConfig("longbench", ["narrativeqa", "slow"])]
    timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        basic(tmp_path, benchmarks)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the interrupt was not raised again")
    finally:
        timer.cancel()
    assert time.monotonic() - started < 40
    # No worker is left: their command lines name the support folder beside the results.
    left = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.strip()
    assert left == "", f"processes left behind: {left}"
    done = [task for task in benchmatrix.load(tmp_path / "results").tasks if task.status == "succeeded"]
    assert all(task.axes["subset"] == "narrativeqa" for task in done)
    monkeypatch.delenv("MOCK_SLOW")
    capsys.readouterr()
    again = basic(tmp_path, benchmarks)
    assert len(again.individual_results) == 8 and not again.failed_executions
    assert again.execution_summary["skipped_stubs"] == len(done)
    assert capsys.readouterr().out.count("results exist") == len(done)


def test_a_stubs_identity_leaves_out_the_interpreter_and_where_the_package_lies(tmp_path):
    # The example, run from the checkout (PYTHONPATH) and then from a venv with the package
    # installed offline as the README says: the second finds the 12 stubs done.
    root = Path(__file__).resolve().parents[2]
    script = root / "examples" / "seed004_python.py"
    out = tmp_path / "out"
    first = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True)
    assert "12 stubs: 12 done (0 already before)" in first.stdout, first.stderr
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    source = tmp_path / "python"   # a copy: pip builds in the folder it is given
    subprocess.run(["cp", "-r", str(root / "python"), str(source)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-index", "--no-build-isolation",
                          str(source)], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    second = subprocess.run([str(venv / "bin" / "python"), str(script), str(out)], env=env, capture_output=True,
                            text=True)
    assert "12 stubs: 12 done (12 already before)" in second.stdout, second.stdout + second.stderr
    launcher = (tmp_path / "out.python" / "bin" / "benchmatrix-worker").read_text()
    assert str(venv / "bin" / "python") in launcher and "site-packages" in launcher


def test_progress_shows_what_runs_on_each_gpu(tmp_path, capsys):
    executor = BenchmarkExecutor([0, 1], 2, str(tmp_path / "p"), progress="plain", extra_args=["--oversubscribe"])
    executor.run_benchmark_matrix(MODELS[:1], [("dense", None)], [BenchmarkConfig("longbench", ["a", "b", "c"])],
                                  AdapterConfig(), {"max_new_tokens": 8})
    out = capsys.readouterr().out
    assert "benchmatrix: 3 tasks to run" in out
    starts = [line for line in out.splitlines() if ": model=" in line]
    assert len(starts) == 3 and all(" gpu 0: " in line or " gpu 1: " in line for line in starts), out
    assert "[3/3] succeeded" in out


def test_a_tqdm_bar_names_the_running_stub_per_gpu(tmp_path, capsys):
    pytest.importorskip("tqdm")   # installed by setup.sh
    executor = BenchmarkExecutor([0], 1, str(tmp_path / "t"), progress=True)
    executor.run_benchmark_matrix(MODELS[:1], [("dense", None)], [BenchmarkConfig("mock_benchmark")],
                                  AdapterConfig(), {"max_new_tokens": 8})
    err = capsys.readouterr().err
    assert "benchmark_matrix" in err and "1/1" in err and "gpu 0: model=microsoft/Phi-4-mini-instruct" in err, err


def test_results_as_a_dataframe(tmp_path):
    pytest.importorskip("pandas")  # installed by setup.sh
    results = basic(tmp_path)
    frame = benchmatrix.load(tmp_path / "results").to_dataframe()
    accuracy = frame[frame.metric == "accuracy"]
    assert len(accuracy) == 12 and set(accuracy.columns) >= {"model", "config", "benchmark", "subset", "median"}
    streaming = accuracy[(accuracy.config == "streaming") & (accuracy.subset == "qasper")]
    assert list(streaming["median"]) == [0.5 + 64 / 1000] * 2
    assert accuracy.higher_is_better.all() and not frame[frame.metric == "max_new_tokens"].higher_is_better.any()
    # The summary the engine wrote ranks by the same direction: the best accuracy is a streaming stub.
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    best = summary["summary"]["metrics"]["accuracy"]
    assert best["direction"] == "higher" and "config=streaming" in best["best"]
    # The command line's report reads the same tree.
    (tmp_path / "results" / "report.html").unlink()
    report = subprocess.run([os.environ["BENCHMATRIX_BIN"], "report", str(tmp_path / "results")], capture_output=True,
                            text=True)
    assert report.returncode == 0 and "12 of 12 tasks done" in report.stdout, report.stderr
    assert "meta-llama/Llama-3.1-8B-Instruct" in report.stdout and (tmp_path / "results" / "report.html").exists()
    assert len(results.individual_results) == 12
