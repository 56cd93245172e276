"""Runs inside the sandbox, in the guest's interpreter: applies the rlimits, installs the
policy audit hook, then runs the code as ``__main__``. The unit-test worker (``worker.py``)
uses the same steps. Stdlib only.

The rlimits are kernel-enforced once set (a process may lower, never raise, its hard
limits). The audit hook is a courtesy: it refuses sockets, new processes, ctypes, signals
and writes outside the work folder with a clear message, but it lives in the process it
guards, so code can switch it off; the namespaces around the process are the boundary.

argv: guard.py LIMITS run CODE_FILE
LIMITS: "cpu_s,memory_bytes,file_bytes,processes,hook" (hook: 1 or 0)
"""

from __future__ import annotations

import os
import resource
import sys

TYPE_CHECKING = False  # typing is not imported in the sandbox; only mypy reads annotations
if TYPE_CHECKING:
    from types import CodeType

REFUSED = ("socket.", "os.fork", "os.forkpty", "os.system", "os.posix_spawn", "os.spawn",
           "os.exec", "subprocess.", "os.kill", "os.killpg", "ctypes.", "pty.",
           "os.startfile")
REFUSED_MODULES = frozenset({"_posixsubprocess", "_socket", "socket", "ctypes", "_ctypes",
                             "multiprocessing", "subprocess", "pty"})
PATH_EVENTS = frozenset({"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink",
                         "os.link", "os.chmod", "os.chown", "os.truncate", "os.utime",
                         "shutil.rmtree", "shutil.copyfile", "shutil.move", "os.chdir",
                         "os.mkfifo", "os.mknod"})
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def apply_limits(text: str) -> bool:
    """Set the rlimits named in ``text``; returns whether the audit hook is wanted."""
    cpu, memory, file_bytes, processes, hook = (int(part) for part in text.split(","))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    return bool(hook)


def install_audit_hook(folder: str) -> None:
    """Refuse, for the rest of the process, what sandboxed code has no business doing."""
    root = os.path.realpath(folder)
    realpath, join, fspath, fsdecode = os.path.realpath, os.path.join, os.fspath, os.fsdecode

    def inside(path: object) -> bool:
        if isinstance(path, int):
            return True  # an already-open descriptor
        if isinstance(path, bytes):
            path = fsdecode(path)
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"not a path: {type(path).__name__}")  # as fspath would
        full = realpath(join(root, fspath(path)))
        return full == root or full.startswith(root + "/")

    def hook(event: str, args: tuple) -> None:
        if event.startswith(REFUSED):
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "import" and args and str(args[0]).split(".")[0] in REFUSED_MODULES:
            raise PermissionError(f"sandbox: importing {args[0]} is not allowed")
        if event == "open" and len(args) >= 3:
            path, mode, flags = args[0], args[1], args[2]
            writing = (isinstance(mode, str) and any(ch in mode for ch in "wax+")) or (
                isinstance(flags, int) and flags & WRITE_FLAGS)
            if writing and path is not None and not inside(path):
                raise PermissionError(
                    f"sandbox: writing {path!r} is outside the working folder")
        elif event in PATH_EVENTS:
            for value in args:
                if isinstance(value, str | bytes | os.PathLike) and not inside(value):
                    raise PermissionError(
                        f"sandbox: {event} on {value!r} is outside the working folder")

    sys.addaudithook(hook)


def load(code_file: str) -> tuple[CodeType, dict[str, object]]:
    """A fresh ``__main__`` module for the code (not this script's, whose globals would
    otherwise be the code's)."""
    with open(code_file, encoding="utf-8") as handle:
        code = compile(handle.read(), "solution.py", "exec")
    module = type(sys)("__main__")
    module.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = module
    sys.argv = ["solution.py"]
    return code, module.__dict__


def main() -> None:
    limits, _mode, code_file = sys.argv[1:]
    hook = apply_limits(limits)
    code, namespace = load(code_file)
    if hook:
        install_audit_hook(os.getcwd())
    exec(code, namespace)


if __name__ == "__main__":
    main()
