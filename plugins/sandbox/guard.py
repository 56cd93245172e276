"""Runs inside the sandbox: installs an audit hook, then executes the code file.

The hook refuses, for the rest of the process (audit hooks cannot be removed): sockets,
creating processes (fork, exec, spawn, subprocess), signals to other processes, ctypes, and
writing, deleting or renaming anything outside the working folder. Stdlib only.

argv: guard.py CODE_FILE FOLDER
"""

import os
import sys

ROOT = os.path.realpath(sys.argv[2])
CODE = sys.argv[1]
REFUSED = ("socket.", "os.fork", "os.forkpty", "os.system", "os.posix_spawn", "os.spawn",
           "os.exec", "subprocess.", "os.kill", "os.killpg", "ctypes.", "pty.", "os.startfile")
REFUSED_MODULES = {"_posixsubprocess", "_socket", "socket", "ctypes", "_ctypes",
                   "multiprocessing", "subprocess", "pty"}
PATH_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link",
               "os.chmod", "os.chown", "os.truncate", "os.utime", "shutil.rmtree",
               "shutil.copyfile", "shutil.move", "os.chdir"}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _inside(path) -> bool:
    if isinstance(path, int):
        return True  # an already-open descriptor
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    full = os.path.realpath(os.path.join(ROOT, os.fspath(path)))
    return full == ROOT or full.startswith(ROOT + os.sep)


def _hook(event: str, args: tuple) -> None:
    if event.startswith(REFUSED):
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event == "import" and args and str(args[0]).split(".")[0] in REFUSED_MODULES:
        raise PermissionError(f"sandbox: importing {args[0]} is not allowed")
    if event == "open" and len(args) >= 3:
        path, mode, flags = args[0], args[1], args[2]
        writing = (isinstance(mode, str) and any(ch in mode for ch in "wax+")) or (
            isinstance(flags, int) and flags & WRITE_FLAGS)
        if writing and path is not None and not _inside(path):
            raise PermissionError(f"sandbox: writing {path!r} is outside the working folder")
    elif event in PATH_EVENTS:
        for value in args:
            if isinstance(value, (str, bytes, os.PathLike)) and not _inside(value):
                raise PermissionError(f"sandbox: {event} on {value!r} is outside the folder")


def main() -> None:
    with open(CODE, encoding="utf-8") as handle:
        source = handle.read()
    code = compile(source, "solution.py", "exec")
    sys.addaudithook(_hook)
    sys.argv = ["solution.py"]
    exec(code, {"__name__": "__main__", "__builtins__": __builtins__})


main()
