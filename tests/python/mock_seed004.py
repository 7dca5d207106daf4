"""A mock benchmark and adapter, registered by name, as seed 004's users register theirs (no model)."""

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import benchmatrix


@dataclass
class StreamingConfig:
    """A sparse attention config that is not JSON on the wire: it travels by pickle."""
    sink_size: int
    window_size: int


class MockAdapter:
    def __init__(self, model_name, sparse_attention_config, adapter_config, generation_kwargs):
        self.model_name = model_name
        self.sparse = sparse_attention_config
        self.generation_kwargs = generation_kwargs


@benchmatrix.register_adapter("huggingface")
def make_adapter(model_name, sparse_attention_config, adapter_config, generation_kwargs):
    return MockAdapter(model_name, sparse_attention_config, adapter_config, generation_kwargs)


class MockBenchmark:
    def __init__(self, subset):
        self.subset = subset

    def run_benchmark(self, adapter, result_dir):
        if self.subset == "broken":
            raise RuntimeError("the broken subset cannot be scored")
        if self.subset == "slow" and os.environ.get("MOCK_SLOW"):
            time.sleep(60)  # until interrupted
        window = getattr(adapter.sparse, "window_size", 0)
        Path(result_dir, "raw_results.csv").write_text("id,answer\n1,mock\n")
        Path(result_dir, "metrics.json").write_text(json.dumps({
            "accuracy": 0.5 + window / 1000, "max_new_tokens": adapter.generation_kwargs["max_new_tokens"]}))
        Path(result_dir, "seen.json").write_text(json.dumps({
            "model": adapter.model_name, "subset": self.subset, "gpus": os.environ.get("CUDA_VISIBLE_DEVICES")}))


@benchmatrix.register_benchmark("longbench")
def make_longbench(subset):
    return MockBenchmark(subset)


@benchmatrix.register_benchmark("mock_benchmark")
def make_mock(subset):
    return MockBenchmark(subset)


def only_gpu0(gpu_id, model_name):
    """A validate_gpu hook: every model fits on GPU 0 only."""
    return gpu_id == 0 and bool(model_name)
