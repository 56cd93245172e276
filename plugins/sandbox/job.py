"""What a sandboxed run executes, independent of how it is isolated."""

from __future__ import annotations

import functools
import py_compile
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ttc.plugins.sandbox.limits import SandboxLimits

HERE = Path(__file__).resolve().parent
UNCHECKED = py_compile.PycInvalidationMode.UNCHECKED_HASH
SANDBOX_USER = 65534
"""The guest's user id inside the namespaces (and outside too when ttc runs as root)."""


@dataclass(frozen=True, slots=True)
class Job:
    """A script of this folder run with ``python -I -S -B`` inside the sandbox, next to
    ``files`` (placed read-only in the sandbox folder; ``{sandbox}`` in ``args`` is that
    folder's path), with ``fds`` passed through at the same numbers."""

    script: str
    args: tuple[str, ...]
    files: dict[str, bytes]
    fds: tuple[int, ...] = field(default=())

    def argv(self, python: str, sandbox: str) -> list[str]:
        return [python, "-I", "-S", "-B", f"{sandbox}/{self.script}",
                *(arg.format(sandbox=sandbox) for arg in self.args)]


@functools.cache
def scripts(main: str, *modules: str) -> dict[str, bytes]:
    """Our in-sandbox scripts, sources (for tracebacks) with their bytecode, so the sandbox
    never compiles them: ``main`` as ``NAME.pyc`` (Python runs a .pyc given as the script),
    the modules it imports as unchecked-hash pycs in ``__pycache__``."""
    files = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in (main, *modules):
            target = Path(folder) / name
            py_compile.compile(str(HERE / name), cfile=str(target), dfile=f"/sandbox/{name}",
                               doraise=True, invalidation_mode=UNCHECKED)
            stem = name.removesuffix(".py")
            cached = (f"{stem}.pyc" if name == main
                      else f"__pycache__/{stem}.{sys.implementation.cache_tag}.pyc")
            files[name] = (HERE / name).read_bytes()
            files[cached] = target.read_bytes()
    return files


def limits_arg(limits: SandboxLimits) -> str:
    """The rlimits as ``guard.py`` reads them."""
    return ",".join(str(value) for value in (
        limits.cpu_s, limits.memory_mb * 1024 * 1024, limits.output_bytes,
        limits.max_processes, int(limits.audit_hook)))


def python_job(code: str, limits: SandboxLimits) -> Job:
    return Job("guard.pyc", (limits_arg(limits), "run", "{sandbox}/solution.py"),
               {**scripts("guard.py"), "solution.py": code.encode()})


def tests_job(code: str, limits: SandboxLimits, tests_fd: int, report_fd: int) -> Job:
    files = {**scripts("harness.py", "remote.py", "guard.py", "worker.py", "wire.py"),
             "solution.py": code.encode()}
    return Job("harness.pyc", (limits_arg(limits), "{sandbox}/solution.py", str(tests_fd),
                               str(report_fd)), files, (tests_fd, report_fd))
