"""The unit-test harness: runs inside the sandbox, in its own process, and is the only
thing that decides a verdict. Stdlib only.

The tested code never runs in this process. It runs in a worker (``worker.py``), forked
after this process made itself not dumpable (so the worker can neither ptrace it nor open
its /proc entries, descriptors or memory) and before it read the tests; the worker closes
every descriptor but its two pipes before the code loads. Test
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
(``remote.py`` holds the stand-ins for the tested code and the tests' namespace.) Forking
the worker instead of starting an interpreter saves the start-up of one.
"""

import ctypes
import json
import os
import sys

TYPE_CHECKING = False  # typing is not imported in the sandbox; only mypy reads annotations
if TYPE_CHECKING:
    from ttc.plugins.sandbox import guard, remote, worker
else:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I left it out
    import guard
    import remote
    import worker

    sys.path.pop(0)
PR_SET_DUMPABLE = 4


def fork_worker(limits: str, code_file: str) -> tuple[int, int, int]:
    """The tested code's process: its pid and our ends of the two pipes to it."""
    to_worker, from_worker = os.pipe(), os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(to_worker[1])
        os.close(from_worker[0])
        worker.run(limits, code_file, to_worker[0], from_worker[1])  # never returns
    os.close(to_worker[0])
    os.close(from_worker[1])
    return pid, from_worker[0], to_worker[1]


def main() -> None:
    limits, code_file, tests_arg, report_arg = sys.argv[1:]
    tests_fd, report = int(tests_arg), int(report_arg)
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # before the worker exists
    tested = remote.Worker(*fork_worker(limits, code_file))
    with os.fdopen(tests_fd, "rb") as handle:
        tests = json.loads(handle.read())
    hook = guard.apply_limits(limits)
    names = tested.start()
    if names is None:  # the code did not load: a crash left its traceback on stderr
        code = tested.stop(grace_s=1.0)
        if code is None or code <= 0:
            print(f"sandbox: the tested code broke off before the tests (exit status {code})",
                  file=sys.stderr)
        sys.exit(code if code and code > 0 else 1)
    if hook:
        guard.install_audit_hook(os.getcwd())
    remote.run(tests, tested, names, report)
    tested.stop(grace_s=1.0)  # time to flush what the tested code printed; no more
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # the sandbox's init exits next, and the kernel kills what is left


main()
