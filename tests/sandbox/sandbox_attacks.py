"""Attacks on the sandbox, each with how to tell that it was blocked.

``run_attack`` runs one as whoever calls it and adds what only the caller can see: signals
it received, files that appeared in a folder every user may write to, processes left
running, the secret in its environment. ``test_attacks.py`` runs the whole list in child
processes, as root and as nobody:

    python tests/sandbox/sandbox_attacks.py [ISOLATION]   # prints {name: outcome} as JSON

The guest code gets the caller's details through placeholders: MARKER (a word unique to
this attack, put in the command line of anything it leaves running), TARGET (a folder
writable by everyone on the host), RUNNER_PID, SECRET_FILE and REPO_README.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ttc.plugins.sandbox.code_tests import run_tests
from ttc.plugins.sandbox.isolation import probe
from ttc.plugins.sandbox.limits import SandboxLimits
from ttc.plugins.sandbox.run import run_python

SECRET_VAR = "TTC_FAKE_SECRET"
REPO_README = str(Path(__file__).resolve().parents[2] / "README.md")
WATCHED_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP)
IMPOSSIBLE_TESTS = ("assert add(1, 1) == 3", "assert False",
                    "assert add(2, 2) == 4 and add(2, 2) == 5", "assert add(5, 5) == 31337")
"""No honest ``add`` passes any of these; a pass is a forged verdict."""


@dataclass(frozen=True)
class Attack:
    name: str
    code: str
    check: Callable[[dict], list[str]]
    """What got through, from the outcome (empty: blocked)."""
    tests: tuple[str, ...] = ()
    """Non-empty: a unit-test run of ``code`` against these."""
    limits: dict = field(default_factory=dict)


def result_of(outcome: dict) -> dict:
    """The guest's ``RESULT {json}`` line (empty when it never got that far)."""
    for line in reversed(outcome["stdout"].splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {}


def _listed(key: str) -> Callable[[dict], list[str]]:
    def check(outcome: dict) -> list[str]:
        result = result_of(outcome)
        if key not in result:
            return [f"the attack did not report {key!r}: {outcome['stderr'][-300:]}"]
        return [f"{key}: {item}" for item in result[key]]
    return check


def _no_forged_verdict(outcome: dict) -> list[str]:
    return [f"test {i} passed: {IMPOSSIBLE_TESTS[i]}"
            for i, passed in enumerate(outcome["passed"]) if passed]


def _host_untouched(outcome: dict) -> list[str]:
    return ([f"left running: {p}" for p in outcome["leftovers"]]
            + [f"file appeared on the host: {f}" for f in outcome["target_files"]]
            + [f"the caller received signal {s}" for s in outcome["signals"]])


def _both(*checks: Callable[[dict], list[str]]) -> Callable[[dict], list[str]]:
    return lambda outcome: [problem for check in checks for problem in check(outcome)]


# --- the attacks -------------------------------------------------------------------------

GUARD_OFF = r'''
import gc, json
hook = next(o for o in gc.get_objects() if type(o).__name__ == "function"
            and o.__name__ == "hook" and "REFUSED" in o.__globals__)
hook.__globals__.update(REFUSED=("nothing",), REFUSED_MODULES=frozenset(),
                        PATH_EVENTS=frozenset(), WRITE_FLAGS=0)
import ctypes, socket, subprocess  # refused while the hook is on
reached = []
for port in (5432, 6379):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        reached.append(port)
    except OSError:
        pass
print("RESULT " + json.dumps({"hook_off": True, "reached": reached}))
'''


def _guard_off_check(outcome: dict) -> list[str]:
    result = result_of(outcome)
    if not result.get("hook_off"):
        return [f"the guard could not be switched off, so this proves nothing: "
                f"{outcome['stderr'][-300:]}"]
    return [f"reached 127.0.0.1:{port}" for port in result["reached"]]


NETWORK = r'''
import json, socket
reached = []
for host in ("127.0.0.1", "::1", "169.254.169.254", "10.0.0.1", "172.17.0.1"):
    for port in (5432, 6379, 3306, 22, 80, 1883, 4222, 5672):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect((host, port))
                reached.append(f"{host}:{port}")
        except OSError:
            pass
for path in ("/var/run/postgresql/.s.PGSQL.5432", "/run/postgresql/.s.PGSQL.5432",
             "/var/run/redis/redis-server.sock", "/run/mysqld/mysqld.sock",
             "/var/run/docker.sock", "/run/systemd/private", "\0/tmp/.X11-unix/X0"):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
            reached.append(path)
    except OSError:
        pass
print("RESULT " + json.dumps({"reached": reached}))
'''

SIGNALS = r'''
import json, os, signal
delivered = []
for pid in sorted({RUNNER_PID, os.getppid(), 1}):
    for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP):
        try:
            os.kill(pid, sig)
            delivered.append([pid, int(sig)])
        except OSError:
            pass
for pid in (RUNNER_PID, os.getppid()):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
print("RESULT " + json.dumps({"sent": delivered}), flush=True)
os.kill(-1, signal.SIGUSR1)  # everything this process may signal (ends the run)
'''

ENVIRONMENT = r'''
import json, os
texts = [repr(dict(os.environ))]
for pid in os.listdir("/proc"):
    for name in ("environ", "cmdline"):
        try:
            texts.append(open(f"/proc/{pid}/{name}", "rb").read().decode("latin-1"))
        except OSError:
            pass
for path in (f"/proc/{RUNNER_PID}/environ", "/proc/1/environ", "SECRET_FILE"):
    try:
        texts.append(open(path, "rb").read().decode("latin-1"))
    except OSError:
        pass
print("\n".join(texts))
print("RESULT " + json.dumps({"env": sorted(os.environ)}))
'''


def _environment_check(outcome: dict) -> list[str]:
    problems = [] if result_of(outcome) else ["the attack did not finish"]
    seen = outcome["stdout"] + outcome["stderr"]
    if outcome["secret"] in seen:
        problems.append("the caller's secret was visible in the sandbox")
    extra = set(result_of(outcome).get("env", [])) - {"HOME", "TMPDIR", "PATH", "LANG",
                                                       "LC_CTYPE", "PWD"}
    return problems + [f"unexpected environment variable {name}" for name in sorted(extra)]


HOST_FILES = r'''
import json, os, sys
readable = []
interpreter = set(os.path.realpath(sys.prefix).split("/"))  # bound read-only on its path
for path in ("REPO_README", "SECRET_FILE", "/etc/shadow", "/etc/hosts", "/root", "/home",
             "/var", "/run", "/work", "/mnt", "/opt", "/srv", "/sys", "/proc/1/root/etc/shadow",
             "/proc/1/root/home", "/proc/1/root/root/.bashrc"):
    if os.path.isdir(path):
        readable += [f"{path}/{name}" for name in os.listdir(path) if name not in interpreter]
    elif os.path.exists(path):
        readable.append(path)
passwd = open("/etc/passwd").read()
if "root:" in passwd:
    readable.append("/etc/passwd of the host")
print("RESULT " + json.dumps({"readable": readable}))
'''

OUTLIVE = r'''
import json, os, subprocess, sys, time
child = os.fork()
if child == 0:  # setsid, then a double fork
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sh", ["sh", "-c", "sleep 30; : MARKER"])
    os._exit(0)
os.waitpid(child, 0)
if os.fork() == 0:  # a Python daemon
    os.setsid()
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(30)", "MARKER"])
subprocess.Popen(["sh", "-c", "sleep 31; : MARKER"], start_new_session=True)
time.sleep(0.3)
print("RESULT " + json.dumps({"started": 3}))
'''


def _outlive_check(outcome: dict) -> list[str]:
    problems = [] if result_of(outcome).get("started") == 3 else [
        f"the attack did not start its processes: {outcome['stderr'][-300:]}"]
    if outcome["wall_time"] > 8:
        problems.append(f"the run waited for them ({outcome['wall_time']:.1f} s)")
    return problems


WRITES = r'''
import ctypes, json, os, sqlite3
escaped, inside = [], []
def attempt(name, action, into=escaped):
    try:
        if action() is False:
            raise OSError("refused")
        into.append(name)
    except Exception:
        pass
def fd(path):
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY)
new = os.O_CREAT | os.O_WRONLY
libc = ctypes.CDLL(None, use_errno=True)
attempt("dir_fd /", lambda: os.open("x", new, dir_fd=fd("/")))
attempt("dir_fd /sandbox", lambda: os.open("x", new, dir_fd=fd("/sandbox")))
attempt("dir_fd /tmp", lambda: os.open("x", new, dir_fd=fd("/tmp")))
attempt("dir_fd ..", lambda: os.open("../x", new, dir_fd=fd(".")))
attempt("dir_fd /dev", lambda: os.open("x", new, dir_fd=fd("/dev")))
attempt("mkfifo /tmp", lambda: os.mkfifo("/tmp/fifo"))
attempt("mkfifo TARGET", lambda: os.mkfifo("TARGET/fifo"))
attempt("mknod TARGET", lambda: os.mknod("TARGET/node"))
attempt("sqlite3 /tmp", lambda: sqlite3.connect("/tmp/x.db").execute("create table t(x)"))
attempt("sqlite3 TARGET", lambda: sqlite3.connect("TARGET/x.db").execute("create table t(x)"))
attempt("open TARGET", lambda: open("TARGET/file", "w").write("x"))
attempt("symlink to TARGET", lambda: (os.symlink("TARGET/link", "link"),
                                      open("link", "w").write("x")))
attempt("symlink to the code", lambda: (os.symlink("/sandbox/solution.py", "code"),
                                        open("code", "a").write("x")))
attempt("hard link to the code", lambda: os.link("/sandbox/solution.py", "hard"))
attempt("chmod the code", lambda: os.chmod("/sandbox/solution.py", 0o777))
attempt("/proc/sys", lambda: open("/proc/sys/kernel/hostname", "w").write("x"))
attempt("remount / writable", lambda: libc.mount(None, b"/", None, 32 | 4096, None) == 0)
attempt("new user namespace", lambda: libc.unshare(0x10000000 | 0x00020000) == 0)
attempt("setuid 0", lambda: libc.setuid(0) == 0)
attempt("inside: file", lambda: open("inside.txt", "w").write("x"), inside)
attempt("inside: fifo", lambda: os.mkfifo("inside.fifo"), inside)
attempt("inside: sqlite3", lambda: sqlite3.connect("in.db").execute("create table t(x)"),
        inside)
print("RESULT " + json.dumps({"escaped": escaped, "inside": inside}))
'''


def _writes_check(outcome: dict) -> list[str]:
    result = result_of(outcome)
    problems = _listed("escaped")(outcome)
    if len(result.get("inside", [])) != 3:
        problems.append(f"writing inside the work folder failed: {result.get('inside')}")
    return problems


DISK = r'''
import json, os
written, full = 0, None
try:
    for i in range(10_000):
        with open(f"f{i}", "wb") as handle:
            handle.write(b"x" * 60_000)
        written += 60_000
except OSError as error:
    full = error.errno
files, no_inode = 0, None
try:
    for i in range(100_000):
        open(f"e{i}", "w").close()
        files += 1
except OSError as error:
    no_inode = error.errno
print("RESULT " + json.dumps({"written": written, "full": full, "files": files,
                              "no_inode": no_inode}))
'''


def _disk_check(outcome: dict) -> list[str]:
    result = result_of(outcome)
    if not result:
        return [f"the attack did not finish: {outcome['stderr'][-300:]}"]
    problems = []
    if result["full"] != errno.ENOSPC or result["written"] > 2 * 1024 * 1024:
        problems.append(f"wrote {result['written']} bytes into a 2 MiB folder")
    if result["no_inode"] != errno.ENOSPC:
        problems.append(f"created {result['files']} files without running out")
    return problems


FORK_BOMB = r'''
import os, sys
BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
os.execv(sys.executable, [sys.executable, "-c", BOMB, "MARKER"])
'''


def _fork_bomb_check(outcome: dict) -> list[str]:
    if outcome["status"] != "timeout":
        return [f"the bomb did not run (status {outcome['status']}): {outcome['stderr'][-300:]}"]
    return [] if outcome["wall_time"] < 6 else [f"took {outcome['wall_time']:.1f} s to stop"]


# --- forging unit-test verdicts (the tested code against the harness) ---------------------

HONEST_ADD = "def add(a, b):\n    return a + b\n"
FORGERIES = {
    "prints the result marker and report lines": HONEST_ADD + r'''
import json
for line in ('@@ttc-results-0000@@[[true, ""], [true, ""], [true, ""], [true, ""]]',
             '[0, true, ""]', '[1, true, ""]', '[2, true, ""]', '[3, true, ""]'):
    print(line, flush=True)
''',
    "exits with status 0 while loading": "import os\nos._exit(0)\n",
    "exits with status 0 when called": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "writes report lines to every descriptor": HONEST_ADD + r'''
import os
def forge():
    for fd in range(0, 256):
        for index in range(4):
            try:
                os.write(fd, f'[{index}, true, ""]\n'.encode())
            except OSError:
                pass
forge()
_add = add
def add(a, b):
    forge()
    return _add(a, b)
''',
    "patches the harness it can reach": r'''
import builtins, sys
class Yes:
    def __eq__(self, other): return True
    def __bool__(self): return True
builtins.AssertionError = type("AssertionError", (Exception,), {})
for module in list(sys.modules.values()):
    for name in ("encode", "decode", "send", "receive", "dumps", "loads"):
        if hasattr(module, name):
            try:
                setattr(module, name, lambda *a, **k: True)
            except Exception:
                pass
def add(a, b):
    return Yes()
''',
    "returns an object equal to everything": r'''
class Yes(int):
    def __eq__(self, other): return True
    def __bool__(self): return True
    __hash__ = int.__hash__
class Anything:
    def __eq__(self, other): return True
    def __bool__(self): return True
def add(a, b):
    return Anything() if a == 2 else Yes(0)
''',
    "answers the harness before it asks": HONEST_ADD + r'''
import os
for fd in range(3, 64):
    try:
        os.write(fd, b'["ok", true]\n' * 8)
    except OSError:
        pass
''',
    "reaches into the harness process": r'''
import ctypes, glob, os
libc = ctypes.CDLL(None, use_errno=True)
harness = os.getppid()
reached = []
for path in [f"/proc/{harness}/mem", *glob.glob(f"/proc/{harness}/fd/*")]:
    try:
        with open(path, "wb") as handle:
            handle.write(b'[0, true, ""]\n')
        reached.append(path)
    except OSError:
        pass
if libc.ptrace(16, harness, 0, 0) == 0:  # PTRACE_ATTACH
    reached.append("ptrace")
if reached:
    print("REACHED", reached)
def add(a, b):
    return a + b
''',
    "kills or stops the harness": r'''
import os, signal
def add(a, b):
    os.kill(os.getppid(), signal.SIGSTOP if a == 2 else signal.SIGKILL)
    return a + b
''',
}

READ_TESTS = r'''
import glob, json, os
found = []
for path in glob.glob("/proc/*/cmdline") + glob.glob("/proc/*/environ") + glob.glob("/sandbox/*"):
    try:
        if str(31336 + 1).encode() in open(path, "rb").read():
            found.append(path)
    except OSError:
        pass
print("RESULT " + json.dumps({"found": found}))
def add(a, b):
    return a + b
'''


def _forgery_check(outcome: dict) -> list[str]:
    reached = [line for line in outcome["stdout"].splitlines() if line.startswith("REACHED")]
    return _no_forged_verdict(outcome) + reached


ATTACKS: list[Attack] = [
    Attack("the guard switched off from inside, then the network", GUARD_OFF,
           _guard_off_check, limits={"audit_hook": True}),
    Attack("sockets to local services, cloud metadata and unix sockets", NETWORK,
           _listed("reached")),
    Attack("signals to the parent and everything else", SIGNALS, _host_untouched),
    Attack("the parent's environment through /proc and os.environ", ENVIRONMENT,
           _environment_check),
    Attack("the host's files", HOST_FILES, _listed("readable")),
    Attack("setsid and double-fork processes outliving the run", OUTLIVE,
           _both(_outlive_check, _host_untouched)),
    Attack("writes outside the work folder and privilege", WRITES,
           _both(_writes_check, _host_untouched)),
    Attack("filling the disk past the cap", DISK, _disk_check, limits={"disk_mb": 2}),
    Attack("a fork bomb", FORK_BOMB, _both(_fork_bomb_check, _host_untouched),
           limits={"timeout_s": 2}),
    *(Attack(f"verdict forgery: {name}", code, _both(_forgery_check, _host_untouched),
             tests=IMPOSSIBLE_TESTS) for name, code in FORGERIES.items()),
    Attack("the tested code reads the tests", READ_TESTS, _listed("found"),
           tests=IMPOSSIBLE_TESTS),
]
BY_NAME = {attack.name: attack for attack in ATTACKS}


def run_attack(attack: Attack, isolation: str = "auto") -> dict:
    """Run one attack as the current user; the outcome is JSON-able."""
    marker = f"ttc-attack-{secrets.token_hex(6)}"
    target = tempfile.mkdtemp(prefix="ttc-attack-target-")
    os.chmod(target, 0o777)
    secret = os.environ.setdefault(SECRET_VAR, f"sk-fake-{secrets.token_hex(8)}")
    secret_file = Path(target) / "secret.txt"
    secret_file.write_text(secret)
    secret_file.chmod(0o644)
    code = attack.code
    for name, value in (("MARKER", marker), ("TARGET", target), ("SECRET_FILE", str(secret_file)),
                        ("RUNNER_PID", str(os.getpid())), ("REPO_README", REPO_README)):
        code = code.replace(name, value)
    limits = SandboxLimits(**{"timeout_s": 5, "cpu_s": 4, "audit_hook": False,
                              "isolation": isolation, **attack.limits})
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda number, _frame: received.append(number))
                for sig in WATCHED_SIGNALS}
    try:
        if attack.tests:
            tested = run_tests(code, attack.tests, limits)
            result, extra = tested.run, {"passed": list(tested.passed),
                                         "errors": list(tested.errors)}
        else:
            result, extra = run_python(code, limits), {}
        leftovers = _processes_with(marker)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for pid in _processes_with(marker):  # never leave them running, whatever happened
            with contextlib.suppress(OSError):
                os.kill(int(pid.split()[0]), signal.SIGKILL)
        secret_file.unlink()
        target_files = sorted(os.listdir(target))
        shutil.rmtree(target, ignore_errors=True)
    return {"status": result.status, "stdout": result.stdout, "stderr": result.stderr,
            "wall_time": result.wall_time, "isolation": result.isolation,
            "leftovers": leftovers, "target_files": target_files, "signals": received,
            "secret": secret, "user": os.geteuid(), **extra}


def _processes_with(marker: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                if marker.encode() in cmdline:
                    found.append(f"{pid} {cmdline.decode(errors='replace')}")
    return found


def main() -> None:
    isolation = sys.argv[1] if len(sys.argv) > 1 else "auto"
    problem = probe(isolation) if isolation != "auto" else None
    if problem:
        print(json.dumps({"unavailable": problem}))
        return
    print(json.dumps({attack.name: run_attack(attack, isolation) for attack in ATTACKS}))


if __name__ == "__main__":
    main()
