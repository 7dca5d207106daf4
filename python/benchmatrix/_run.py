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


class _PlainProgress:
    """Progress as plain lines: one per finished task, and what runs where."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.total = 0
        self.finished = 0

    def event(self, event):
        kind = event.get("event")
        if kind == "plan":
            self.total = event.get("to_run", 0)
            skipped = event.get("skipped", 0)
            print(f"benchmatrix: {self.total} tasks to run"
                  + (f", {skipped} already done" if skipped else ""), file=self.stream, flush=True)
        elif kind == "end" and not event.get("will_retry"):
            self.finished += 1
            reason = f": {event['reason']}" if event.get("reason") else ""
            print(f"[{self.finished}/{self.total}] {event.get('status')} {event.get('label')}{reason}",
                  file=self.stream, flush=True)

    def close(self):
        pass


class _TqdmProgress:
    """A tqdm bar (a widget in a notebook): the count of finished tasks, the running ones in its postfix."""

    def __init__(self, tqdm):
        self.tqdm = tqdm
        self.bar = None
        self.running = {}

    def event(self, event):
        kind = event.get("event")
        if kind == "plan":
            self.bar = self.tqdm(total=event.get("to_run", 0), unit="task", desc=event.get("name", "benchmatrix"))
        elif self.bar is None:
            return
        elif kind == "start":
            where = ",".join(map(str, event.get("gpus") or [])) or event.get("slot", "")
            self.running[event.get("task")] = f"{where}:{event.get('label')}"
            self.bar.set_postfix_str(" | ".join(self.running.values())[:120])
        elif kind == "end":
            self.running.pop(event.get("task"), None)
            if not event.get("will_retry"):
                self.bar.update(1)
            self.bar.set_postfix_str(" | ".join(self.running.values())[:120])

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


def run(config, out=None, *, progress=True, args=(), binary=None):
    """Runs a config (a dict, as a config file would hold it) and returns its Results.

    `out` is the results folder (default results/<name>); a second call resumes there, running only
    what is not done. `args` are more `benchmatrix run` options (e.g. ["--jobs", "4"]). Progress
    comes from the events stream: a tqdm bar when tqdm is installed, plain lines otherwise, a
    callable gets every event, False shows nothing. Ctrl-C (KeyboardInterrupt) stops the run the way
    Ctrl-C stops the CLI: the binary ends its tasks, writes what finished, and the interrupt is
    raised again here once it has exited. Tasks that fail are in the results; a config the binary
    refuses raises RunError with its message.
    """
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError("config: a dict with at least `name` and `command` (as in a config file)")
    binary = binary or checked_binary()
    out = Path(out) if out is not None else Path("results") / str(config["name"])
    reporter = _progress(progress)
    with tempfile.TemporaryDirectory(prefix="benchmatrix-") as scratch:
        config_path = Path(scratch) / "config.json"
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        read_end, write_end = os.pipe()
        command = [binary, "run", str(config_path), "--out", str(out), "--events", f"fd:{write_end}",
                   "--progress", "never", *map(str, args)]
        if reporter is not None:
            command.append("--quiet")
        # A session of its own: a terminal's Ctrl-C reaches Python alone, which passes it on once.
        process = subprocess.Popen(command, pass_fds=(write_end,), stderr=subprocess.PIPE, start_new_session=True)
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
