"""Seed 004's interface: BenchmarkExecutor.run_benchmark_matrix over the benchmatrix engine.

The matrix model x (config name, config) x benchmark x subset is a config the engine expands;
each stub runs in a process of its own (`python -m benchmatrix.worker`) on the GPUs the engine's
pool gives it, with CUDA_VISIBLE_DEVICES set before the user's code is imported. Benchmarks and
adapters are found by name in a registry of factories (register_benchmark, register_adapter),
imported in the worker by module path. Config objects that are not JSON travel by pickle, and
count in a stub's identity through a stable key: the object's `stable_key()` when it has one,
else a hash of its JSON form (dataclasses, dicts, lists, scalars), else a hash of its repr().
"""

import dataclasses
import hashlib
import json
import os
import pickle
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ._run import run
from .results import load

# --- the registry ----------------------------------------------------------------------------

_BENCHMARKS: Dict[str, Callable] = {}
_ADAPTERS: Dict[str, Callable] = {}


def _register(table, kind, name, factory):
    if factory is None:
        return lambda function: _register(table, kind, name, function)
    if not callable(factory):
        raise TypeError(f"register_{kind}({name!r}, ...): the factory must be callable")
    table[name] = factory
    return factory


def register_benchmark(name, factory=None):
    """Registers `factory(subset)` -> an object with run_benchmark(adapter, result_dir), by name.
    Usable as a decorator: @register_benchmark("mock_benchmark")."""
    return _register(_BENCHMARKS, "benchmark", name, factory)


def register_adapter(name, factory=None):
    """Registers `factory(model_name, sparse_attention_config, adapter_config, generation_kwargs)` ->
    the adapter passed to run_benchmark, by name (AdapterConfig.adapter_name)."""
    return _register(_ADAPTERS, "adapter", name, factory)


def _factory_location(factory):
    """Where the worker imports a factory from: (module or script path, qualified name)."""
    module = getattr(factory, "__module__", None)
    qualname = getattr(factory, "__qualname__", None)
    if not module or not qualname or "<locals>" in qualname:
        raise ValueError(f"{factory!r} must be defined at the top level of a module to be found in the worker")
    if module == "__main__":
        main = sys.modules["__main__"]
        path = getattr(main, "__file__", None)
        if not path:
            raise ValueError(f"{qualname} is defined in an interactive session; define it in a module (a .py file) "
                             "that the worker can import")
        return {"script": str(Path(path).resolve()), "name": qualname}
    location = {"module": module, "name": qualname}
    # The folder the module was imported from, for a worker whose sys.path lacks it.
    file = getattr(sys.modules.get(module), "__file__", None)
    if file:
        root = Path(file).resolve().parent
        for _ in range(module.count(".") + (1 if Path(file).name == "__init__.py" else 0)):
            root = root.parent
        location["path"] = str(root)
    return location


# --- seed 004's dataclasses ------------------------------------------------------------------

@dataclass
class BenchmarkConfig:
    benchmark_name: str
    subsets: Optional[List[str]] = None


@dataclass
class AdapterConfig:
    adapter_name: str = "huggingface"
    model_kwargs: Optional[Dict[str, Any]] = None
    tokenizer_kwargs: Optional[Dict[str, Any]] = None


@dataclass
class BenchmarkStub:
    model_name: str
    sparse_config_name: str
    sparse_attention_config: Any
    benchmark_name: str
    subset: Optional[str]
    adapter_config: AdapterConfig
    generation_kwargs: Dict[str, Any]
    result_dir: str


@dataclass
class BenchmarkResult:
    stub: BenchmarkStub
    metrics: Dict[str, float]
    execution_time: float


@dataclass
class BenchmarkFailure:
    stub: BenchmarkStub
    error_message: str
    logs: List[str] = field(default_factory=list)


@dataclass
class ExecutionResults:
    execution_summary: Dict[str, Any]
    individual_results: List[BenchmarkResult]
    failed_executions: List[BenchmarkFailure]
    execution_time: float


def stable_key(value):
    """The key a config object counts by in a stub's identity (see the module's docstring)."""
    if hasattr(value, "stable_key") and callable(value.stable_key):
        text = str(value.stable_key())
    else:
        def plain(item):
            if dataclasses.is_dataclass(item) and not isinstance(item, type):
                return {"__type__": type(item).__qualname__, **{f.name: plain(getattr(item, f.name))
                                                               for f in dataclasses.fields(item)}}
            if isinstance(item, dict):
                return {str(k): plain(v) for k, v in item.items()}
            if isinstance(item, (list, tuple)):
                return [plain(v) for v in item]
            if item is None or isinstance(item, (str, int, float, bool)):
                return item
            raise TypeError
        try:
            text = json.dumps(plain(value), sort_keys=True)
        except TypeError:
            text = repr(value)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- the executor ----------------------------------------------------------------------------

class BenchmarkExecutor:
    """Runs model x sparse attention config x benchmark x subset on GPUs, one process per stub."""

    def __init__(self, gpu_ids: List[int], max_concurrent_runs: int, base_result_dir: str = "./benchmark_results",
                 *, progress=True, validate_gpu: Optional[Callable[[int, str], bool]] = None,
                 higher_is_better: Sequence[str] = (), extra_args=()):
        if not gpu_ids:
            raise ValueError("gpu_ids: at least one GPU id")
        if max_concurrent_runs < 1:
            raise ValueError("max_concurrent_runs: at least 1")
        self.gpu_ids = list(gpu_ids)
        self.max_concurrent_runs = max_concurrent_runs
        self.base_result_dir = Path(base_result_dir)
        self.progress = progress
        # validate_gpu(gpu_id, model_name) -> bool: can the model load on this GPU (seed 004's
        # _validate_gpu_for_model). It becomes the engine's per-GPU check: run once per GPU with
        # that GPU alone visible, for every model; a GPU that fails it gets no work.
        if validate_gpu is not None:
            _factory_location(validate_gpu)  # importable by the worker, or an error now
        self.validate_gpu = validate_gpu
        # The metrics of metrics.json that are better higher (accuracy, scores); the others are
        # better lower, as times are. Statistics, verdicts and the report's "best" follow it.
        if isinstance(higher_is_better, str):
            raise TypeError("higher_is_better: a list of metric names")
        self.higher_is_better = list(higher_is_better)
        self.extra_args = list(extra_args)

    def _payload(self, directory, value):
        key = stable_key(value)
        path = directory / f"{key}.pkl"
        if not path.exists():
            directory.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            temporary.write_bytes(pickle.dumps(value))
            os.replace(temporary, path)
        return key

    @staticmethod
    def _launcher(support, payloads):
        """`<support>/bin/benchmatrix-worker`: this interpreter running the worker with this package
        and the support folder, rewritten by every run_benchmark_matrix."""
        package = str(Path(__file__).resolve().parent.parent)
        script = ("#!/bin/sh\n"
                  "# Written by benchmatrix.BenchmarkExecutor: the interpreter and paths of its last caller.\n"
                  f"PYTHONPATH={shlex.quote(package)}${{PYTHONPATH:+:$PYTHONPATH}}\n"
                  "export PYTHONPATH\n"
                  f"exec {shlex.quote(sys.executable)} -m benchmatrix.worker "
                  f"--registry {shlex.quote(str(support / 'registry.json'))} "
                  f"--payloads {shlex.quote(str(payloads))} \"$@\"\n")
        path = support / "bin" / "benchmatrix-worker"
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(script, encoding="utf-8")
        temporary.chmod(0o755)
        os.replace(temporary, path)
        return path

    def run_benchmark_matrix(self, model_names: List[str], sparse_attention_configs: List[Tuple[str, Any]],
                             benchmark_configs: List[BenchmarkConfig], adapter_config: AdapterConfig,
                             generation_kwargs: Optional[Dict[str, Any]] = None) -> ExecutionResults:
        started = time.monotonic()
        generation_kwargs = generation_kwargs or {}
        if adapter_config.adapter_name not in _ADAPTERS:
            raise KeyError(f"no adapter registered as {adapter_config.adapter_name!r} (register_adapter); registered: "
                           f"{sorted(_ADAPTERS)}")
        for benchmark in benchmark_configs:
            if benchmark.benchmark_name not in _BENCHMARKS:
                raise KeyError(f"no benchmark registered as {benchmark.benchmark_name!r} (register_benchmark); "
                               f"registered: {sorted(_BENCHMARKS)}")
        # Outside OUT's tasks: the registry and the pickled objects the workers read.
        support = self.base_result_dir.resolve().parent / (self.base_result_dir.name + ".python")
        payloads = support / "payloads"
        registry = {"benchmarks": {name: _factory_location(f) for name, f in _BENCHMARKS.items()},
                    "adapters": {name: _factory_location(f) for name, f in _ADAPTERS.items()}}
        if self.validate_gpu is not None:
            registry["validate_gpu"] = _factory_location(self.validate_gpu)
        main = getattr(sys.modules.get("__main__"), "__file__", None)
        if main:
            registry["main_script"] = str(Path(main).resolve())  # for classes pickled as __main__.X
        support.mkdir(parents=True, exist_ok=True)
        (support / "registry.json").write_text(json.dumps(registry, indent=2), encoding="utf-8")
        adapter_key = self._payload(payloads, adapter_config)
        generation_key = self._payload(payloads, generation_kwargs)
        configs = [{"name": name, "key": self._payload(payloads, config)} for name, config in sparse_attention_configs]
        benchmarks = []
        for benchmark in benchmark_configs:
            if benchmark.subsets:
                benchmarks.append({"name": benchmark.benchmark_name, "matrix": {"subset": list(benchmark.subsets)}})
            else:
                benchmarks.append(benchmark.benchmark_name)
        launcher = self._launcher(support, payloads)
        config = {
            "name": "benchmark_matrix",
            # Only what a stub is: the interpreter, the package and the support folder are found
            # through the launcher on PATH, so a new venv or a moved folder does not run it again.
            "command": [launcher.name, "--model", "{model}", "--config-name", "{config}",
                        "--config-key", "{config.key}", "--benchmark", "{benchmark}",
                        "--adapter-key", adapter_key, "--generation-key", generation_key],
            "matrix": {"model": list(model_names), "config": configs, "benchmark": benchmarks},
            "task": {"gpus": 1},
            "resources": {"gpus": self.gpu_ids, "max_concurrent": self.max_concurrent_runs},
            "metrics_file": {"path": "metrics.json", "higher_is_better": self.higher_is_better},
        }
        if self.validate_gpu is not None:
            config["resources"]["gpu_check"] = [launcher.name, "--validate-gpu", *map(str, model_names)]
        if any(benchmark.subsets for benchmark in benchmark_configs):
            # {subset} exists only when some benchmark has subsets (empty under those without).
            config["command"] += ["--subset", "{subset}"]
        before = {}
        if (self.base_result_dir / "plan.json").exists():
            before = {task.path: task.status for task in load(self.base_result_dir).tasks}
        for path, status in before.items():
            if status == "succeeded":
                print(f"Skipping {path} - results exist", flush=True)
        path = os.pathsep.join(p for p in [str(launcher.parent), os.environ.get("PATH", "")] if p)
        results = run(config, self.base_result_dir, progress=self.progress, args=self.extra_args, env={"PATH": path},
                      config_file=support / "config.json")
        stubs = {}
        individual, failed = [], []
        by_config = dict(sparse_attention_configs)
        for task in results.tasks:
            stub = BenchmarkStub(model_name=task.axes["model"], sparse_config_name=task.axes["config"],
                                 sparse_attention_config=by_config.get(task.axes["config"]),
                                 benchmark_name=task.axes["benchmark"], subset=task.axes.get("subset"),
                                 adapter_config=adapter_config, generation_kwargs=generation_kwargs,
                                 result_dir=str(task.folder))
            stubs[task.path] = stub
            if task.status == "succeeded":
                metrics = {name: summary.median for name, summary in task.metrics.items()}
                individual.append(BenchmarkResult(stub, metrics, metrics.get("wall_time", 0.0)))
            else:
                logs = [str(task.folder / log) for log in ("stderr.log", "stdout.log") if (task.folder / log).exists()]
                failed.append(BenchmarkFailure(stub, task.reason or task.status, logs))
        elapsed = time.monotonic() - started
        summary = {"total_stubs": len(results.tasks), "completed_stubs": len(individual),
                   "failed_stubs": len(failed),
                   "skipped_stubs": sum(1 for status in before.values() if status == "succeeded"),
                   "base_result_dir": str(self.base_result_dir), "gpu_ids": self.gpu_ids,
                   "max_concurrent_runs": self.max_concurrent_runs}
        return ExecutionResults(summary, individual, failed, elapsed)
