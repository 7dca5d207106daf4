"""benchmatrix from Python: run benchmark matrices through the benchmatrix binary and read results.

The package talks to the binary only through files: a config it writes, the results tree, and the
JSON-lines events stream. Importing it checks that the binary it finds (BENCHMATRIX_BIN, then one
beside the package or built in this checkout, then PATH) writes a results and events schema it
reads (not inside a task, whose engine was checked by its caller); without a binary, `load` still
works and running says what is missing.
"""

from ._binary import BinaryError, binary_versions, checked_binary, find_binary
from ._run import RunError, run
from .executor import (AdapterConfig, BenchmarkConfig, BenchmarkExecutor, BenchmarkFailure, BenchmarkResult,
                       BenchmarkStub, ExecutionResults, register_adapter, register_benchmark, stable_key)
from .results import MetricSummary, Results, ResultsError, TaskResult, load

__all__ = ["AdapterConfig", "BenchmarkConfig", "BenchmarkExecutor", "BenchmarkFailure", "BenchmarkResult",
           "BenchmarkStub", "ExecutionResults", "register_adapter", "register_benchmark", "stable_key", "BinaryError", "MetricSummary", "Results", "ResultsError", "RunError", "TaskResult", "binary_versions",
           "checked_binary", "find_binary", "load", "run"]

# Inside a task (a worker the engine started) the binary has been checked by whoever ran it.
if "BENCHMATRIX_TASK_ID" not in __import__("os").environ:
    try:
        checked_binary()
    except BinaryError as _error:
        if "not found" not in str(_error):
            raise ImportError(f"benchmatrix: {_error}") from None
