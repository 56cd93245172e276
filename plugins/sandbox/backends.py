"""How each isolation starts a job: ``namespaces`` (our launcher), ``bwrap`` (bubblewrap)
or ``unsafe`` (a plain process group). All three give the guest the same view: its files
in a read-only sandbox folder, a fresh empty work folder as current directory, /dev/null
as stdin, a minimal environment."""

from __future__ import annotations

import atexit
import contextlib
import functools
import marshal
import os
import py_compile
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ttc.plugins.sandbox.job import HERE, SANDBOX_USER, UNCHECKED, Job
from ttc.plugins.sandbox.limits import SandboxLimits

SANDBOX_DIR = "/sandbox"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime")
INODES_PER_MB = 256


@dataclass
class Started:
    """A running job: the process ttc waits for (killing its process group ends the run)
    and what to read or remove afterwards."""

    process: subprocess.Popen
    status: IO[bytes] | None = None
    """The namespaces launcher's report: ``started``, ``exit N`` or ``signal N``, ``cpu S``,
    ``timeout`` (it killed the sandbox at the deadline, and returned once all of it was
    gone), or ``error ...`` when the sandbox could not be built."""
    own_deadline: bool = False
    """The launcher enforces the wall clock itself; ttc waits a little longer."""
    cleanup: Callable[[], None] = field(default=lambda: None)
    bwrap_status: bool = False
    """``status`` holds bubblewrap's JSON documents instead."""


def guest_python() -> str:
    """The interpreter the guest runs: ours, resolved (a venv's python is a link to it)."""
    return os.path.realpath(sys.executable)


def read_only_paths() -> list[str]:
    """Host paths the guest sees read-only besides the system folders: the interpreter's
    installation and the few files the dynamic loader and ``time`` read."""
    python = guest_python()
    prefixes = {sys.base_prefix, sys.base_exec_prefix, str(Path(python).parent.parent)}
    own = sorted(p for p in prefixes
                 if not any(p == d or p.startswith(d + "/") for d in SYSTEM_DIRS))
    return [*own, *SYSTEM_FILES]


def guest_env(work: str) -> dict[str, str]:
    return {"HOME": work, "TMPDIR": work, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def etc_files(work: str) -> dict[str, bytes]:
    """The sandbox's own /etc entries: its one user, not the host's."""
    return {"passwd": f"sandbox:x:{SANDBOX_USER}:{SANDBOX_USER}:sandbox:{work}:/bin/sh\n"
                      .encode(),
            "group": f"sandbox:x:{SANDBOX_USER}:\n".encode(), "hostname": b"sandbox\n"}


def work_folder() -> str:
    return f"/tmp/ttc-sandbox-{secrets.token_hex(6)}"


def launcher_bytecode() -> str:
    """``launcher.py`` compiled once per ttc process (into a private folder removed at
    exit; again if a temp cleaner removed it), so each run starts without compiling it."""
    path = _compile_launcher()
    if not os.path.exists(path):
        _compile_launcher.cache_clear()
        path = _compile_launcher()
    return path


@functools.cache
def _compile_launcher() -> str:
    folder = tempfile.mkdtemp(prefix="ttc-sandbox-launcher-")
    atexit.register(shutil.rmtree, folder, True)
    target = os.path.join(folder, "launcher.pyc")
    py_compile.compile(str(HERE / "launcher.py"), cfile=target, doraise=True,
                       invalidation_mode=UNCHECKED)
    return target


def start_namespaces(job: Job, limits: SandboxLimits, stdout: int, stderr: int) -> Started:
    status = tempfile.TemporaryFile()  # noqa: SIM115 (closed by Started.cleanup)
    work = work_folder()
    config = {"argv": job.argv(guest_python(), SANDBOX_DIR), "env": guest_env(work),
              "files": job.files, "etc": etc_files(work), "read_only": read_only_paths(),
              "work": work,
              "disk_bytes": limits.disk_mb * 1024 * 1024,
              "inodes": limits.disk_mb * INODES_PER_MB, "keep_fds": list(job.fds),
              "status_fd": status.fileno(), "timeout_s": limits.timeout_s}
    process = subprocess.Popen(
        [sys.executable, "-I", "-S", "-B", launcher_bytecode()],
        stdin=subprocess.PIPE, stdout=stdout, stderr=stderr, cwd="/", env={},
        pass_fds=(status.fileno(), *job.fds), start_new_session=True)
    stdin = process.stdin
    assert stdin is not None  # stdin=PIPE
    with contextlib.suppress(BrokenPipeError), stdin as pipe:
        pipe.write(marshal.dumps(config))
    return Started(process, status, cleanup=status.close, own_deadline=True)


def start_unsafe(job: Job, limits: SandboxLimits, stdout: int, stderr: int) -> Started:
    """No kernel isolation: the guest runs as ttc's user in a temporary folder, with only
    its rlimits, the audit hook and the process-group kill. Opt-in only."""
    root = Path(tempfile.mkdtemp(prefix="ttc-sandbox-"))
    sandbox, work = root / "sandbox", root / "run"
    sandbox.mkdir()
    work.mkdir()
    for name, content in job.files.items():
        (sandbox / name).parent.mkdir(exist_ok=True)
        (sandbox / name).write_bytes(content)
    process = subprocess.Popen(
        job.argv(sys.executable, str(sandbox)), stdin=subprocess.DEVNULL, stdout=stdout,
        stderr=stderr, cwd=work, env=guest_env(str(work)), pass_fds=job.fds,
        start_new_session=True)
    return Started(process, cleanup=lambda: shutil.rmtree(root, ignore_errors=True))


def start_bwrap(job: Job, limits: SandboxLimits, stdout: int, stderr: int) -> Started:
    """bubblewrap builds the same sandbox (it may be setuid or allowed by an AppArmor profile
    where unprivileged user namespaces are not). As root it runs as nobody, so an escaped
    guest is nobody; then the interpreter must be one nobody can read."""
    status = tempfile.TemporaryFile()  # noqa: SIM115 (closed by Started.cleanup)
    work = work_folder()
    files = {f"{SANDBOX_DIR}/{name}": _memfd(Path(name).name, content)
             for name, content in job.files.items()}
    files |= {f"/etc/{name}": _memfd(name, content)
              for name, content in etc_files(work).items()}
    argv = [shutil.which("bwrap") or "bwrap", "--unshare-user", "--unshare-ipc",
            "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--disable-userns", "--uid", str(SANDBOX_USER), "--gid", str(SANDBOX_USER),
            "--hostname", "sandbox", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    for path in read_only_paths():
        argv += ["--ro-bind-try", path, path]
    argv += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
    for path, fd in files.items():
        argv += ["--perms", "0444", "--ro-bind-data", str(fd), path]
    argv += ["--size", str(limits.disk_mb * 1024 * 1024), "--perms", "0700", "--tmpfs", work,
             "--remount-ro", "/", "--chdir", work, "--clearenv"]
    for key, value in guest_env(work).items():
        argv += ["--setenv", key, value]
    argv += ["--json-status-fd", str(status.fileno()), "--",
             *job.argv(guest_python(), SANDBOX_DIR)]
    as_root = os.geteuid() == 0  # root runs the guest as the sandbox user
    try:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, cwd="/", env={},
            pass_fds=(status.fileno(), *files.values(), *job.fds), start_new_session=True,
            user=SANDBOX_USER if as_root else None, group=SANDBOX_USER if as_root else None,
            extra_groups=[] if as_root else None)
    finally:
        for fd in files.values():
            os.close(fd)
    return Started(process, status, cleanup=status.close, bwrap_status=True)


def _memfd(name: str, content: bytes) -> int:
    fd = os.memfd_create(name)
    os.write(fd, content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


STARTERS: dict[str, Callable[[Job, SandboxLimits, int, int], Started]] = {
    "namespaces": start_namespaces, "bwrap": start_bwrap, "unsafe": start_unsafe}
