#!/usr/bin/env python3
"""Seed 004's basic usage from Python, with a mock benchmark and adapter (no model is downloaded):
2 models x 2 sparse attention configs x (2 longbench subsets + mock_benchmark) = 12 stubs, each in
a process of its own on GPU 0 or 1, up to 4 at once. A second run says the 12 are done.

    PYTHONPATH=python python3 examples/seed004_python.py OUT

Without NVML (no GPU), the GPU ids are used as given: CUDA_VISIBLE_DEVICES still names each
stub's GPU, and the mock never touches it.
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import benchmatrix
from benchmatrix import AdapterConfig, BenchmarkConfig, BenchmarkExecutor


@dataclass
class StreamingConfig:
    sink_size: int = 4
    window_size: int = 64


class MockAdapter:
    def __init__(self, model_name, sparse_attention_config, adapter_config, generation_kwargs):
        self.model_name = model_name
        self.sparse_attention_config = sparse_attention_config
        self.generation_kwargs = generation_kwargs


class MockBenchmark:
    """Stands in for a real benchmark: writes raw_results.csv and metrics.json as seed 004's do."""

    def __init__(self, subset):
        self.subset = subset

    def run_benchmark(self, adapter, result_dir):
        window = getattr(adapter.sparse_attention_config, "window_size", 0)
        Path(result_dir, "raw_results.csv").write_text("question,answer\nq1,a1\n")
        Path(result_dir, "metrics.json").write_text(json.dumps({"accuracy": 0.6 + window / 1000}))


@benchmatrix.register_adapter("huggingface")
def make_adapter(model_name, sparse_attention_config, adapter_config, generation_kwargs):
    return MockAdapter(model_name, sparse_attention_config, adapter_config, generation_kwargs)


@benchmatrix.register_benchmark("longbench")
def make_longbench(subset):
    return MockBenchmark(subset)


@benchmatrix.register_benchmark("mock_benchmark")
def make_mock_benchmark(subset):
    return MockBenchmark(subset)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    executor = BenchmarkExecutor(gpu_ids=[0, 1], max_concurrent_runs=4, base_result_dir=sys.argv[1],
                                 higher_is_better=["accuracy"])
    results = executor.run_benchmark_matrix(
        model_names=["microsoft/Phi-4-mini-instruct", "meta-llama/Llama-3.1-8B-Instruct"],
        sparse_attention_configs=[("dense", None), ("streaming", StreamingConfig())],
        benchmark_configs=[BenchmarkConfig("longbench", ["narrativeqa", "qasper"]), BenchmarkConfig("mock_benchmark")],
        adapter_config=AdapterConfig(model_kwargs={"torch_dtype": "bfloat16"}),
        generation_kwargs={"max_new_tokens": 256})
    summary = results.execution_summary
    print(f"{summary['total_stubs']} stubs: {summary['completed_stubs']} done ({summary['skipped_stubs']} already "
          f"before), {summary['failed_stubs']} failed, in {results.execution_time:.1f}s")
