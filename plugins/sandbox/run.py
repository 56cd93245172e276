"""``run_python``: execute code in the sandbox and report what happened."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from ttc.plugins.sandbox.backends import STARTERS, Started
from ttc.plugins.sandbox.isolation import SandboxUnavailable, choose_isolation
from ttc.plugins.sandbox.job import Job, python_job
from ttc.plugins.sandbox.limits import SandboxLimits

REPORT_LIMIT = 16 * 1024 * 1024
LAUNCHER_GRACE_S = 3.0
"""How long past the deadline ttc waits for the namespaces launcher, which kills the
sandbox itself at the deadline and returns once nothing of it is left."""


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
    isolation: str = ""
    """How it ran: ``namespaces``, ``bwrap`` or ``unsafe``."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def run_python(code: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Run ``code`` with ``python -I -S -B`` in the sandbox (see docs/sandbox.md): a fresh
    work folder, no network, no view of ttc's processes, files or environment, limits.
    Blocking; call it from a thread in async code. Raises ``SandboxUnavailable`` when this
    machine offers no kernel isolation (the message says what to install)."""
    limits = limits or SandboxLimits()
    return run_job(python_job(code, limits), limits)[0]


def run_job(job: Job, limits: SandboxLimits, report_fd: int | None = None,
            isolation: str | None = None) -> tuple[SandboxResult, bytes]:
    """Run ``job`` (with ``isolation``, or the one chosen for ``limits``); also collect
    what arrives on ``report_fd`` (a pipe's read end) while it runs."""
    isolation = isolation or choose_isolation(limits.isolation)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started_at = time.perf_counter()
        started = STARTERS[isolation](job, limits, out.fileno(), err.fileno())
        grace = LAUNCHER_GRACE_S if started.own_deadline else 0.0
        report = bytearray()
        try:
            timed_out = _wait(started, limits.timeout_s + grace, report_fd, report)
        finally:
            _kill_group(started)
        if report_fd is not None:
            _finish(report_fd, report)
        try:
            ending = _ending(started, timed_out, err)
        finally:
            started.cleanup()
        timed_out = timed_out or ending.get("timeout", False)
        wall = time.perf_counter() - started_at
        stdout, cut_out, full_out = _read(out, limits.output_bytes)
        stderr, cut_err, full_err = _read(err, limits.output_bytes)
    returncode = ending.get("returncode", started.process.returncode)
    status = _status(returncode, timed_out, ending.get("cpu", 0.0) >= limits.cpu_s)
    if status == "error" and (full_out or full_err or "File too large" in stderr):
        status = "output_limit"  # Python ignores SIGXFSZ: the write fails with EFBIG
    return (SandboxResult(status, returncode, stdout, stderr, wall, cut_out or cut_err,
                          isolation), bytes(report))


def _wait(started: Started, timeout: float, report_fd: int | None, report: bytearray
          ) -> bool:
    """Wait for the process (a pidfd wakes us the moment it exits), reading the report
    meanwhile; True when the time ran out."""
    deadline = time.monotonic() + timeout
    watched = [fd for fd in (report_fd,) if fd is not None]
    with _pidfd(started.process.pid) as exited:
        while (remaining := deadline - time.monotonic()) > 0:
            ready = select.select([exited, *watched], [], [], remaining)[0]
            if watched and watched[0] in ready and not _drain(watched[0], report):
                watched.clear()
            if exited in ready:
                return False
    return True


@contextlib.contextmanager
def _pidfd(pid: int) -> Iterator[int]:
    fd = os.pidfd_open(pid)
    try:
        yield fd
    finally:
        os.close(fd)


def _drain(fd: int, into: bytearray) -> bool:
    """Read what is there; False at end of file."""
    chunk = os.read(fd, 1 << 16)
    if len(into) < REPORT_LIMIT:
        into += chunk
    return bool(chunk)


def _finish(report_fd: int, report: bytearray) -> None:
    """Whatever is left in the pipe, without waiting for writers that may never close it."""
    os.set_blocking(report_fd, False)
    with contextlib.suppress(BlockingIOError):
        while _drain(report_fd, report):
            pass


def _ending(started: Started, timed_out: bool, stderr: IO[bytes]) -> dict:
    """How the guest ended (``returncode``, ``cpu`` seconds), from the sandbox's own report;
    raises when the sandbox could not be built."""
    if started.status is None:
        return {}
    started.status.seek(0)
    text = started.status.read().decode("utf-8", "replace")
    if started.bwrap_status:
        return _bwrap_ending(text, timed_out, stderr)
    ending: dict = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "error" and "started" not in ending:
            raise SandboxUnavailable(f"the sandbox could not be built: {value}")
        if key in ("started", "timeout"):
            ending[key] = True
        elif key == "exit":
            ending["returncode"] = int(value)
        elif key == "signal":
            ending["returncode"] = -int(value)
        elif key == "cpu":
            ending["cpu"] = float(value)
    return ending


def _bwrap_ending(text: str, timed_out: bool, stderr: IO[bytes]) -> dict:
    """bubblewrap writes ``{"exit-code": N}`` (128 + signal for a killed guest) once the
    guest has run; without it the setup failed, and bubblewrap said why on stderr."""
    documents = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            documents.append(json.loads(line))
    facts = {key: value for document in documents if isinstance(document, dict)
             for key, value in document.items()}
    if type(facts.get("child-pid")) is int:  # its init outlives it by a moment
        _wait_until_gone(facts["child-pid"], LAUNCHER_GRACE_S)
    code = facts.get("exit-code")
    if type(code) is int:
        return {"returncode": -(code - 128) if 128 < code <= 128 + 64 else code}
    if timed_out:
        return {}
    stderr.seek(0)
    said = [line for line in stderr.read().decode("utf-8", "replace").splitlines()
            if line.startswith("bwrap:")]
    raise SandboxUnavailable(
        f"the sandbox could not be built: {said[-1] if said else 'bwrap failed'}")


def _wait_until_gone(pid: int, timeout: float) -> None:
    """bubblewrap has exited (or was killed): its init dies of the parent-death signal and
    the kernel empties its PID namespace; wait for that, so no process outlives the run."""
    try:
        with _pidfd(pid) as gone:
            select.select([gone], [], [], timeout)
    except ProcessLookupError:
        pass


def _kill_group(started: Started) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(started.process.pid, signal.SIGKILL)
    started.process.wait()


def _read(handle: IO[bytes], cap: int) -> tuple[str, bool, bool]:
    """Text (at most ``cap`` bytes), whether it was cut, whether the file reached the cap."""
    size = os.fstat(handle.fileno()).st_size
    handle.seek(0)
    data = handle.read(cap + 1)
    return data[:cap].decode("utf-8", "replace"), len(data) > cap, size >= cap


def _status(returncode: int | None, timed_out: bool, out_of_cpu: bool) -> str:
    if timed_out:
        return "timeout"
    if returncode == 0:
        return "ok"
    if returncode == -signal.SIGXCPU or (returncode == -signal.SIGKILL and out_of_cpu):
        return "cpu_limit"  # SIGKILL: the hard limit, one second past a caught SIGXCPU
    if returncode == -signal.SIGXFSZ:
        return "output_limit"
    if returncode is not None and returncode < 0:
        return "killed"
    return "error"
