"""Seed 004's BenchmarkExecutor over the engine: stub counts, the folder layout, resume, a failing
stub that fails alone, user objects by pickle, GPUs from the pool."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import benchmatrix  # noqa: E402
from benchmatrix import AdapterConfig, BenchmarkConfig, BenchmarkExecutor  # noqa: E402
from mock_seed004 import StreamingConfig  # noqa: E402

MODELS = ["microsoft/Phi-4-mini-instruct", "meta-llama/Llama-3.1-8B-Instruct"]


def basic(tmp_path, benchmarks=None):
    executor = BenchmarkExecutor(gpu_ids=[0, 1], max_concurrent_runs=4, base_result_dir=str(tmp_path / "results"),
                                 progress=False, extra_args=["--oversubscribe"])
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
    import os
    import subprocess
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
    import os
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
