"""Running a config through the benchmatrix binary, following its events stream."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from ._binary import checked_binary
from .results import load


class RunError(RuntimeError):
    """The binary refused the run (exit 2: a config or command-line error) or ended abnormally."""

    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code


def _where(event):
    """Where a task runs: its GPUs when it has some, else its slot."""
    gpus = event.get("gpus") or []
    if gpus:
        return ("gpu " if len(gpus) == 1 else "gpus ") + ",".join(map(str, gpus))
    return f"slot {event.get('slot', '?')}"


class _PlainProgress:
    """Progress as plain lines: what starts where (the GPU it runs on), and each finished task."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.total = 0
        self.finished = 0

    def _say(self, text):
        print(text, file=self.stream, flush=True)

    def event(self, event):
        kind = event.get("event")
        if kind == "plan":
            self.total = event.get("to_run", 0)
            skipped = event.get("skipped", 0)
            self._say(f"benchmatrix: {self.total} tasks to run" + (f", {skipped} already done" if skipped else ""))
        elif kind == "start":
            self._say(f"[{self.finished}/{self.total}] {_where(event)}: {event.get('label')}")
        elif kind == "end" and not event.get("will_retry"):
            self.finished += 1
            reason = f": {event['reason']}" if event.get("reason") else ""
            self._say(f"[{self.finished}/{self.total}] {event.get('status')} {event.get('label')}{reason}")

    def close(self):
        pass


class _TqdmProgress:
    """A tqdm bar (a widget in a notebook): finished tasks, and in its postfix what runs on each GPU."""

    def __init__(self, tqdm):
        self.tqdm = tqdm
        self.bar = None
        self.running = {}

    def _postfix(self):
        ordered = sorted(self.running.values())
        self.bar.set_postfix_str(" | ".join(f"{where}: {label}" for where, label in ordered)[:200])

    def event(self, event):
        kind = event.get("event")
        if kind == "plan":
            self.bar = self.tqdm(total=event.get("to_run", 0), unit="task", desc=event.get("name", "benchmatrix"))
        elif self.bar is None:
            return
        elif kind == "start":
            self.running[event.get("task")] = (_where(event), event.get("label"))
            self._postfix()
        elif kind == "end":
            self.running.pop(event.get("task"), None)
            if not event.get("will_retry"):
                self.bar.update(1)
            self._postfix()

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _progress(progress):
    if progress is False or progress is None:
        return None
    if progress is True or progress == "auto":
        try:
            from tqdm.auto import tqdm
            return _TqdmProgress(tqdm)
        except ImportError:
            return _PlainProgress()
    if progress == "plain":
        return _PlainProgress()
    if callable(progress):
        class _Callback:
            def event(self, event):
                progress(event)

            def close(self):
                pass
        return _Callback()
    raise ValueError(f"progress: expected True, False, 'plain' or a callable, got {progress!r}")


def run(config, out=None, *, progress=True, args=(), env=None, config_file=None, binary=None):
    """Runs a config (a dict, as a config file would hold it) and returns its Results.

    `out` is the results folder (default results/<name>); a second call resumes there, running only
    what is not done. `args` are more `benchmatrix run` options (e.g. ["--jobs", "4"]). Progress
    comes from the events stream: a tqdm bar when tqdm is installed, plain lines otherwise, a
    callable gets every event, False shows nothing. Ctrl-C (KeyboardInterrupt) stops the run the way
    Ctrl-C stops the CLI: the binary ends its tasks, writes what finished, and the interrupt is
    raised again here once it has exited. Tasks that fail are in the results; a config the binary
    refuses raises RunError with its message. `env` adds to the environment the binary and its tasks
    inherit: unlike the config's `env`, it is not part of the tasks' identity. `config_file` is where
    the config is written and kept (the results name it); by default a temporary file.
    """
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError("config: a dict with at least `name` and `command` (as in a config file)")
    binary = binary or checked_binary()
    out = Path(out) if out is not None else Path("results") / str(config["name"])
    reporter = _progress(progress)
    with tempfile.TemporaryDirectory(prefix="benchmatrix-") as scratch:
        config_path = Path(config_file).resolve() if config_file is not None else Path(scratch) / "config.json"
        written = config_path.with_name(config_path.name + ".tmp")
        written.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        os.replace(written, config_path)
        read_end, write_end = os.pipe()
        command = [binary, "run", str(config_path), "--out", str(out), "--events", f"fd:{write_end}",
                   "--progress", "never", *map(str, args)]
        if reporter is not None:
            command.append("--quiet")
        # A session of its own: a terminal's Ctrl-C reaches Python alone, which passes it on once.
        environment = None if env is None else {**os.environ, **{str(k): str(v) for k, v in env.items()}}
        process = subprocess.Popen(command, pass_fds=(write_end,), stderr=subprocess.PIPE, start_new_session=True,
                                   env=environment)
        os.close(write_end)
        errors = []
        drain = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)
        drain.start()
        interrupted = False
        with os.fdopen(read_end, "r", encoding="utf-8", errors="replace") as events:
            while True:
                try:
                    line = events.readline()
                    if not line:
                        break
                    if reporter is not None:
                        try:
                            reporter.event(json.loads(line))
                        except ValueError:
                            pass
                except KeyboardInterrupt:
                    # The first Ctrl-C asks the engine to stop (it ends its tasks and writes what
                    # finished); a second one makes it kill them at once, as on its own terminal.
                    interrupted = True
                    process.send_signal(signal.SIGINT)
        code = process.wait()
        drain.join()
        if reporter is not None:
            reporter.close()
    stderr = (errors[0] if errors else b"").decode("utf-8", "replace")
    if stderr and (code not in (0, 1, 3) or reporter is None):
        sys.stderr.write(stderr)
    if interrupted:
        raise KeyboardInterrupt
    if code == 2:
        raise RunError(stderr.strip() or "benchmatrix refused the run (exit 2)", code)
    if code not in (0, 1, 3):
        raise RunError(f"benchmatrix exited {code}: {stderr.strip()[-500:]}", code)
    return load(out)
