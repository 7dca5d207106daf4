"""Reading a results tree (made by the CLI or by this package) into plain dataclasses."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from ._binary import RESULTS_SCHEMAS


@dataclass
class MetricSummary:
    """A metric of a task as its result.json summarizes it."""
    n: int
    median: float
    mean: float
    min: float
    max: float
    unit: str = ""
    higher_is_better: bool = False
    stderr: Optional[float] = None


@dataclass
class TaskResult:
    task_id: str
    path: str                                 # below OUT/tasks/
    axes: Dict[str, str]
    status: str                               # succeeded, failed, skipped, pending
    reason: str = ""
    metrics: Dict[str, MetricSummary] = field(default_factory=dict)
    samples: Dict[str, List[float]] = field(default_factory=dict)   # per metric, every measured run's values
    folder: Optional[Path] = None

    @property
    def label(self):
        return " ".join(f"{axis}={value}" for axis, value in self.axes.items())


@dataclass
class Results:
    out: Path
    name: str
    axes: List[str]
    tasks: List[TaskResult]

    def done(self):
        return [task for task in self.tasks if task.status == "succeeded"]

    def to_dataframe(self):
        """One row per task and metric (axes, task_id, status, metric, n, median, mean, min, max, unit,
        higher_is_better); needs pandas."""
        try:
            import pandas
        except ImportError:
            raise ImportError("Results.to_dataframe needs pandas (apt-get install python3-pandas, or pip install "
                              "pandas)") from None
        rows = []
        for task in self.tasks:
            for metric, summary in task.metrics.items():
                rows.append({**task.axes, "task_id": task.task_id, "status": task.status, "metric": metric,
                             "n": summary.n, "median": summary.median, "mean": summary.mean, "min": summary.min,
                             "max": summary.max, "unit": summary.unit,
                             "higher_is_better": summary.higher_is_better})
        return pandas.DataFrame(rows)


class ResultsError(ValueError):
    """A folder that is not a benchmatrix results tree, or of a schema this package does not read."""


_OWN = {"wall_time": "wall_time", "user_time": "user_time", "system_time": "system_time", "max_rss": "max_rss_kib"}


def _read_json(path):
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def _marker(path, task_id):
    """A task's result.json or failure.json when it is of the task's current spec, else None."""
    try:
        marker = _read_json(path)
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("task_id") == task_id else None


def _samples(result):
    samples = {}
    for run in result.get("runs", []):
        if run.get("phase") != "run":
            continue
        for metric in run.get("metrics", []):
            values = metric.get("values", [metric["value"]] if "value" in metric else [])
            samples.setdefault(metric["metric"], []).extend(values)
    for own, key in _OWN.items():
        values = [run[key] for run in result.get("runs", []) if run.get("phase") == "run" and key in run]
        if values:
            samples[own] = values
    return samples


def load(out):
    """Every planned task of the results tree OUT: its axis values, status, metric summaries and samples."""
    out = Path(out)
    try:
        plan = _read_json(out / "plan.json")
    except FileNotFoundError:
        raise ResultsError(f"{out} is not a benchmatrix results folder (no plan.json)") from None
    if plan.get("schema") not in RESULTS_SCHEMAS:
        raise ResultsError(f"{out} has results schema {plan.get('schema')}; this package reads "
                           f"{sorted(RESULTS_SCHEMAS)}")
    axes = [axis["name"] if isinstance(axis, dict) else axis for axis in plan.get("axes", [])]
    tasks = []
    for planned in plan.get("tasks", []):
        folder = out / "tasks" / planned["path"]
        task = TaskResult(task_id=planned["task_id"], path=planned["path"], axes=dict(planned.get("axes", {})),
                          status="pending", folder=folder)
        result = _marker(folder / "result.json", task.task_id)
        failure = None if result is not None else _marker(folder / "failure.json", task.task_id)
        marker = result or failure
        if marker is not None:
            task.status = marker.get("status", "succeeded" if result is not None else "failed")
            task.reason = marker.get("reason", "")
        if result is not None:
            for name, summary in result.get("metrics", {}).items():
                task.metrics[name] = MetricSummary(
                    n=summary.get("n", 0), median=summary.get("median"), mean=summary.get("mean"),
                    min=summary.get("min"), max=summary.get("max"), unit=summary.get("unit", ""),
                    higher_is_better=summary.get("direction") == "higher", stderr=summary.get("stderr"))
            task.samples = _samples(result)
        tasks.append(task)
    return Results(out=out, name=plan.get("name", ""), axes=axes, tasks=tasks)
