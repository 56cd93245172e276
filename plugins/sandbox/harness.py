"""The unit-test harness: runs inside the sandbox, in its own process, and is the only
thing that decides a verdict. Stdlib only.

The tested code never runs in this process. It runs in a worker (``guard.py serve``) that
this harness starts before reading the tests and after making itself not dumpable (so the
worker can neither ptrace it nor open its /proc entries, descriptors or memory). Test
statements run here, in a namespace where a name the tested code defines stands for it:
calling it asks the worker over a pipe and gets back data (see ``wire.py``). So:

- printing, exiting (``os._exit(0)``), patching anything, writing to any descriptor: the
  worker has no way to the report descriptor, which only this process holds;
- a verdict is what ``assert`` made of real built-in values here: an object whose
  ``__eq__`` always says yes never arrives (only data crosses; a reference cannot be
  compared or used as a truth value);
- builtins and modules the tests use are this process's own; the tested code cannot
  shadow ``len`` or ``math`` for them;
- the tests are never visible to the tested code (it sees only the calls made to it).

Verdicts go out one line per test as soon as each is known: ``[index, passed, error]``.

argv: harness.py LIMITS CODE_FILE TESTS_FD REPORT_FD
(``remote.py`` holds the stand-ins for the tested code and the tests' namespace.)
"""

import os
import sys

PR_SET_DUMPABLE = 4
HERE = os.path.dirname(os.path.abspath(__file__))


def spawn_worker(limits: str, code_file: str, private: tuple[int, ...]) -> tuple[int, int, int]:
    """Start the tested code's process (it waits for our go before loading the code); its
    pid and our ends of the two pipes. It inherits none of the ``private`` descriptors."""
    for fd in private:
        os.set_inheritable(fd, False)
    to_worker, from_worker = os.pipe(), os.pipe()
    for fd in (to_worker[0], from_worker[1]):
        os.set_inheritable(fd, True)
    argv = [sys.executable, "-I", "-S", "-B", f"{HERE}/guard.py", limits, "serve", code_file,
            str(to_worker[0]), str(from_worker[1])]
    pid = os.posix_spawn(sys.executable, argv, dict(os.environ))
    os.close(to_worker[0])
    os.close(from_worker[1])
    return pid, from_worker[0], to_worker[1]


def main() -> None:
    limits, code_file, tests_fd, report = sys.argv[1:]
    tests_fd, report = int(tests_fd), int(report)
    # First thing: the worker's interpreter starts while we import what we need below.
    spawned = spawn_worker(limits, code_file, (tests_fd, report))
    import ctypes
    import json

    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # before the code can run
    sys.path.insert(0, HERE)  # -I left it out
    import guard
    import remote

    sys.path.pop(0)
    with os.fdopen(tests_fd, "rb") as handle:
        tests = json.loads(handle.read())
    hook = guard.apply_limits(limits)
    worker = remote.Worker(*spawned)
    names = worker.start()
    if names is None:
        code = worker.stop()  # the code did not load: its traceback is on stderr
        sys.exit(code if code > 0 else 1)
    if hook:
        guard.install_audit_hook(os.getcwd())
    remote.run(tests, worker, names, report)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no wait for the worker: the sandbox's init exits, the kernel kills it


main()
