"""Per-run cost of the sandbox: ``run_python("print(6 * 7)")`` and a three-test
``run_tests``, with each isolation this machine has, against the sandbox before kernel
isolation (loaded from git) and a bare ``python -I -S -B -c pass`` start-up.

Run as a script: ``python bench/bench_sandbox.py [--runs 20] [--old-rev e015e95]``.
Runs are interleaved (one of each, round after round) so drift hits all alike; the table
shows medians and ratios to the start-up baseline and to the old sandbox, measured in the
same run.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ttc.plugins.sandbox.code_tests import run_tests
from ttc.plugins.sandbox.isolation import probe
from ttc.plugins.sandbox.limits import SandboxLimits
from ttc.plugins.sandbox.run import run_python

REPO = Path(__file__).resolve().parent.parent
OLD_FILES = ("__init__.py", "limits.py", "run.py", "launcher.py", "guard.py", "code_tests.py")
CODE = "def add(a, b):\n    return a + b\n"
TESTS = ["assert add(2, 3) == 5", "assert add(-1, 1) == 0", "assert add(0, 0) == 0"]


def load_old(rev: str) -> object | None:
    """The sandbox package as it was at ``rev``, importable as ``ttc_old_sandbox``."""
    root = tempfile.mkdtemp(prefix="ttc-old-sandbox-")
    atexit.register(shutil.rmtree, root, True)
    folder = Path(root) / "ttc_old_sandbox"
    folder.mkdir()
    for name in OLD_FILES:
        shown = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:plugins/sandbox/{name}"],
                               capture_output=True, text=True)
        if shown.returncode != 0:
            return None
        (folder / name).write_text(shown.stdout.replace("ttc.plugins.sandbox", "ttc_old_sandbox"))
    sys.path.insert(0, str(folder.parent))
    return importlib.import_module("ttc_old_sandbox.code_tests")


def cases(old) -> dict[str, Callable[[], object]]:
    startup = [sys.executable, "-I", "-S", "-B", "-c", "pass"]
    found = {"python -I -S -B -c pass": lambda: subprocess.run(startup, check=True)}
    if old is not None:
        found["old run_python"] = lambda: old.run_python("print(6 * 7)")
        found["old run_tests"] = lambda: old.run_tests(CODE, TESTS)
    for isolation in ("namespaces", "bwrap", "unsafe"):
        if isolation != "unsafe" and probe(isolation) is not None:
            continue
        limits = SandboxLimits(isolation=isolation)
        found[f"run_python {isolation}"] = (
            lambda limits=limits: _ok(run_python("print(6 * 7)", limits)))
        found[f"run_tests {isolation}"] = (
            lambda limits=limits: _ok(run_tests(CODE, TESTS, limits).run))
    return found


def _ok(result) -> None:
    if not result.ok:
        raise RuntimeError(f"the benchmark's run failed: {result}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--old-rev", default="e015e95",
                        help="the commit whose plugins/sandbox is the old sandbox")
    args = parser.parse_args()
    measured = cases(load_old(args.old_rev))
    times: dict[str, list[float]] = {name: [] for name in measured}
    for run in measured.values():  # warm-up: probes, imports, page cache
        run()
    for _ in range(args.runs):
        for name, run in measured.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    median = {name: statistics.median(values) * 1000 for name, values in times.items()}
    baseline = median["python -I -S -B -c pass"]
    print(f"{'case':28} {'median ms':>10} {'x start-up':>11} {'x old':>7}")
    for name, ms in median.items():
        kind = "run_tests" if "run_tests" in name else "run_python"
        old = median.get(f"old {kind}")
        versus_old = f"{ms / old:7.2f}" if old and name.startswith("run_") else ""
        print(f"{name:28} {ms:10.1f} {ms / baseline:11.2f} {versus_old:>7}")


if __name__ == "__main__":
    main()
