"""``run_python``: execute code in a sandboxed subprocess and report what happened."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ttc.plugins.sandbox.limits import SandboxLimits

HERE = Path(__file__).resolve().parent
NOBODY = 65534


@dataclass(frozen=True, slots=True)
class SandboxResult:
    status: str
    """``ok`` (exit 0), ``error`` (non-zero exit), ``timeout`` (wall clock), ``cpu_limit``,
    ``output_limit`` (a file or the output grew past the cap) or ``killed`` (another
    signal, e.g. out of memory)."""
    returncode: int | None
    stdout: str
    stderr: str
    wall_time: float
    truncated: bool = False
    """stdout or stderr was longer than the cap and was cut."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def run_python(code: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Run ``code`` with ``python -I -S -B`` in a fresh temporary folder, isolated and limited
    (see the package docstring). Blocking; call it from a thread in async code."""
    limits = limits or SandboxLimits()
    work = Path(tempfile.mkdtemp(prefix="ttc-sandbox-"))
    logs = Path(tempfile.mkdtemp(prefix="ttc-sandbox-logs-"))
    try:
        folder = work / "run"
        folder.mkdir()
        code_file = work / "solution.py"
        code_file.write_text(code, encoding="utf-8")
        guard = work / "guard.py"
        shutil.copyfile(HERE / "guard.py", guard)
        python = sandbox_interpreter()
        drop = python is not None
        if drop:  # the code runs as nobody: its folder must be its own
            os.chown(folder, NOBODY, NOBODY)
            os.chmod(work, 0o755)
            os.chmod(code_file, 0o644)
            os.chmod(guard, 0o644)
        config = {"folder": str(folder), "code": str(code_file), "guard": str(guard),
                  "python": python or sys.executable, "drop_privileges": drop,
                  "cpu_s": limits.cpu_s, "memory_mb": limits.memory_mb,
                  "output_bytes": limits.output_bytes, "max_processes": limits.max_processes}
        out_path, err_path = logs / "stdout", logs / "stderr"
        started = time.perf_counter()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", str(HERE / "launcher.py"), json.dumps(config)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=str(folder),
                start_new_session=True, env={"PATH": "/usr/bin:/bin"})
            timed_out = False
            try:
                process.wait(timeout=limits.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(process)
        wall = time.perf_counter() - started
        stdout, cut_out = _read(out_path, limits.output_bytes)
        stderr, cut_err = _read(err_path, limits.output_bytes)
        status = _status(process.returncode, timed_out)
        full = any(p.stat().st_size >= limits.output_bytes for p in (out_path, err_path))
        if status == "error" and (full or "File too large" in stderr):
            status = "output_limit"  # Python ignores SIGXFSZ: the write fails with EFBIG
        return SandboxResult(status, process.returncode, stdout, stderr, wall,
                             cut_out or cut_err)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)


def sandbox_interpreter() -> str | None:
    """A Python the ``nobody`` user can run (ours, or the system's), when we are root and
    can drop privileges to it; None otherwise (the other layers still apply)."""
    if os.geteuid() != 0:
        return None
    for candidate in (sys.executable, shutil.which("python3", path="/usr/bin:/bin")):
        if candidate and _world_runnable(Path(candidate)):
            return candidate
    return None


def _world_runnable(path: Path) -> bool:
    real = path.resolve()
    if not real.is_file() or not real.stat().st_mode & 0o001:
        return False
    return all(parent.stat().st_mode & 0o001 for parent in [*real.parents, path.parent])


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _read(path: Path, cap: int) -> tuple[str, bool]:
    with open(path, "rb") as handle:
        data = handle.read(cap + 1)
    return data[:cap].decode("utf-8", "replace"), len(data) > cap


def _status(returncode: int | None, timed_out: bool) -> str:
    if timed_out:
        return "timeout"
    if returncode == 0:
        return "ok"
    if returncode == -signal.SIGXCPU:
        return "cpu_limit"
    if returncode == -signal.SIGXFSZ:
        return "output_limit"
    if returncode is not None and returncode < 0:
        return "killed"
    return "error"
