"""Finding the benchmatrix binary and checking that it speaks a schema this package understands."""

import json
import os
import shutil
import subprocess
from pathlib import Path

# The versions of the results tree and of the events stream this package reads.
RESULTS_SCHEMAS = {1}
EVENTS_SCHEMAS = {1}


class BinaryError(RuntimeError):
    """The benchmatrix binary cannot be found, cannot run, or speaks another schema."""


def find_binary():
    """The binary to run: $BENCHMATRIX_BIN, then one beside the package (an installed copy, or
    build/benchmatrix of the checkout the package is in), then `benchmatrix` in PATH."""
    explicit = os.environ.get("BENCHMATRIX_BIN")
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise BinaryError(f"BENCHMATRIX_BIN={explicit} is not an executable file")
        return explicit
    package = Path(__file__).resolve().parent
    for candidate in (package / "bin" / "benchmatrix", package.parent.parent / "build" / "benchmatrix"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("benchmatrix")
    if found:
        return found
    raise BinaryError("the benchmatrix binary was not found: set BENCHMATRIX_BIN, build it in this checkout "
                      "(cmake --build build), or put it in PATH")


def binary_versions(binary):
    """`benchmatrix version --json` of `binary`: version, results_schema, events_schema."""
    try:
        done = subprocess.run([binary, "version", "--json"], capture_output=True, text=True, timeout=30)
    except OSError as error:
        raise BinaryError(f"{binary} cannot run: {error}") from error
    try:
        versions = json.loads(done.stdout)
        results, events = versions["results_schema"], versions["events_schema"]
    except (ValueError, KeyError, TypeError):
        raise BinaryError(f"{binary} did not say its schema versions (`version --json` exited {done.returncode}: "
                          f"{(done.stderr or done.stdout).strip()[:200]}); it is older than this package") from None
    if results not in RESULTS_SCHEMAS or events not in EVENTS_SCHEMAS:
        raise BinaryError(f"{binary} writes results schema {results} and events schema {events}; this package reads "
                          f"results schema {sorted(RESULTS_SCHEMAS)} and events schema {sorted(EVENTS_SCHEMAS)}: "
                          "install the package and the binary from the same version")
    return versions


_checked = {}


def checked_binary():
    """The binary, checked once per path."""
    binary = find_binary()
    if binary not in _checked:
        _checked[binary] = binary_versions(binary)
    return binary
