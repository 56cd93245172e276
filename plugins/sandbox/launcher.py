"""The ``namespaces`` backend: builds the sandbox with Linux namespaces, then runs the guest.

Started by ``run.py`` as ``python -I -S -B launcher.py`` with a marshalled config on stdin;
stdlib only (ctypes for the system calls ``os`` lacks). Three processes:

- the launcher (outside): creates a user namespace (root inside it maps to nobody outside
  when ttc runs as root, to ttc's own user otherwise) with new mount, PID, network, IPC, UTS
  and cgroup namespaces, forks the init and waits for it; at the deadline it kills the
  init and returns only once the kernel has emptied the PID namespace;
- the init (PID 1 inside, holds the namespace's capabilities, is never reachable from the
  guest: not dumpable, signals without a handler are dropped for a PID-namespace init):
  builds a fresh read-only root on a tmpfs (system folders and the interpreter bound
  read-only, a new /proc, a minimal /dev, a size-capped tmpfs as the only writable folder),
  forbids further user namespaces, starts the guest, reports its exit on the status fd and
  exits -- which makes the kernel kill every process left in the PID namespace;
- the guest: a new session, the sandbox user, no capabilities, no new privileges, only the
  file descriptors it is given, then ``execve`` of the guest command.

Setup failures are written to the status fd (``error ...``), never to the guest's output.
"""

from __future__ import annotations

import ctypes
import marshal
import os
import select
import sys
import time

TYPE_CHECKING = False  # typing is not imported in the sandbox; only mypy reads annotations
if TYPE_CHECKING:
    from collections.abc import Callable

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = (
    0x08000000, 0x10000000, 0x20000000, 0x40000000)
NAMESPACES = (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
              | CLONE_NEWUTS | CLONE_NEWCGROUP)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
KEPT_FLAGS = 1 | 2 | 4 | 8 | 16 | 64 | 1024 | 2048 | 4096  # statvfs ST_* bits equal MS_* bits
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
SIGKILL, SIGINT, SIG_DFL, SIG_IGN = 9, 2, 0, 1
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "loongarch64": 41,
              "ppc64le": 203, "ppc64": 203, "s390x": 217, "i686": 217, "armv7l": 218}
SYSTEM = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
DEVICES = ("null", "zero", "full", "random", "urandom")
SANDBOX_ID = 65534
NEW = "/newroot"
OLD = "/oldroot"

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_char_p)
libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
libc.syscall.argtypes = (ctypes.c_long, ctypes.c_char_p, ctypes.c_char_p)
libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                       ctypes.c_ulong)


class SetupError(Exception):
    """A step of building the sandbox failed; the message names the step."""


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(errno)} (errno {errno})")


def _bytes(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def mount(source: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None) -> None:
    _check(libc.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data)),
           f"mount {source or ''} on {target}")


def umount(target: str) -> None:
    _check(libc.umount2(_bytes(target), MNT_DETACH), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    number = PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise SetupError(f"pivot_root: unknown system call number on {os.uname().machine}")
    _check(libc.syscall(number, _bytes(new_root), _bytes(put_old)), "pivot_root")


def prctl(option: int, value: int) -> None:
    _check(libc.prctl(option, value, 0, 0, 0), f"prctl {option}")


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def open_read_only_sources(paths: list[str]) -> dict[str, int]:
    """O_PATH descriptors of what will be bound read-only, opened while we may still reach
    them (root's interpreter often lives under /root, which nobody cannot enter)."""
    return {path: os.open(path, os.O_PATH) for path in paths if os.path.exists(path)}


def write_id_maps(pid: int) -> None:
    """The namespace's only user and group, 65534 inside, are nobody outside when we are
    root (an escaped guest would be nobody), our own user otherwise."""
    uid, gid = os.geteuid(), os.getegid()
    if uid == 0:
        uid = gid = SANDBOX_ID
    _write(f"/proc/{pid}/setgroups", "deny")
    _write(f"/proc/{pid}/uid_map", f"{SANDBOX_ID} {uid} 1")
    _write(f"/proc/{pid}/gid_map", f"{SANDBOX_ID} {gid} 1")


def become_sandbox_user() -> None:
    os.setresgid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID)
    os.setresuid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID)


def _makedirs(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def bind_read_only(source: str, target: str) -> None:
    """Bind ``source`` (an absolute host path) at ``target`` without write, suid or devices;
    keeps the source's other flags (a user namespace may not clear locked ones)."""
    if os.path.isdir(source):
        _makedirs(target)
    else:
        _makedirs(os.path.dirname(target))
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))
    mount(source, target, None, MS_BIND)
    kept = os.statvfs(target).f_flag & KEPT_FLAGS
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | kept)


def build_root(config: dict, sources: dict[str, int]) -> None:
    """A tmpfs root holding only what the guest needs, then pivot into it (bubblewrap's way:
    pivot into the tmpfs first so the old root stays reachable at /oldroot while binding)."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount reaches the host
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    os.chdir("/tmp")
    os.mkdir("newroot", 0o755)
    mount("newroot", "newroot", None, MS_BIND | MS_REC)
    os.mkdir("oldroot", 0o755)
    pivot_root("/tmp", "oldroot")
    os.chdir("/")
    for name in SYSTEM:
        source = f"{OLD}/{name}"
        if os.path.islink(source):
            os.symlink(os.readlink(source), f"{NEW}/{name}")
        elif os.path.isdir(source):
            bind_read_only(source, f"{NEW}/{name}")
    for path, fd in sources.items():
        bind_read_only(f"{OLD}/proc/self/fd/{fd}", NEW + path)
    _makedirs(f"{NEW}/etc")
    for name, content in config["etc"].items():
        with open(f"{NEW}/etc/{name}", "wb") as handle:
            handle.write(content)
    for name, content in config["files"].items():
        _makedirs(os.path.dirname(f"{NEW}/sandbox/{name}"))
        with open(f"{NEW}/sandbox/{name}", "wb") as handle:
            handle.write(content)
    build_dev()
    _makedirs(f"{NEW}/proc")
    mount("proc", f"{NEW}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _write(f"{NEW}/proc/sys/user/max_user_namespaces", "0")  # no nested user namespaces
    work = NEW + config["work"]
    _makedirs(work)
    mount("tmpfs", work, "tmpfs", MS_NOSUID | MS_NODEV,
          f"size={config['disk_bytes']},nr_inodes={config['inodes']},mode=0700,"
          f"uid={SANDBOX_ID},gid={SANDBOX_ID}")
    mount(OLD, OLD, None, MS_REC | MS_PRIVATE)
    umount(OLD)
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY)
    os.chdir(NEW)
    pivot_root(".", ".")
    os.fchdir(old)
    os.close(old)
    umount(".")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def build_dev() -> None:
    dev = f"{NEW}/dev"
    _makedirs(dev)
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
    for name in DEVICES:
        os.close(os.open(f"{dev}/{name}", os.O_WRONLY | os.O_CREAT, 0o666))
        mount(f"{OLD}/dev/{name}", f"{dev}/{name}", None, MS_BIND)
    for index, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{index}", f"{dev}/{name}")
    os.symlink("/proc/self/fd", f"{dev}/fd")
    mount(None, dev, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC)


def start_guest(config: dict) -> int:
    """Fork the guest: new session, sandbox user, no privileges, chosen fds, then exec."""
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setsid()  # kill(0) / killpg from the guest reach only the sandbox's processes
        os.setresgid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID)
        os.setresuid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID)
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        prctl(PR_SET_PDEATHSIG, SIGKILL)  # a credential change cleared it
        libc.signal(SIGINT, SIG_DFL)  # an ignored signal would stay ignored across exec
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        keep = sorted({0, 1, 2, *config["keep_fds"]})
        for low, high in zip(keep, [*keep[1:], 1 << 20], strict=True):
            os.closerange(low + 1, high)
        for fd in keep:
            os.set_inheritable(fd, True)
        os.chdir(config["work"])
        os.execve(config["argv"][0], config["argv"], config["env"])
    except BaseException as error:  # the exec failed: say so on the guest's stderr
        os.write(2, f"sandbox: could not start {config['argv'][0]}: {error}\n".encode())
    os._exit(127)


def init(config: dict, status: int, relay_alive: int) -> None:
    """PID 1 inside: build the root, run the guest, report how it ended."""
    prctl(PR_SET_PDEATHSIG, SIGKILL)
    if select.select([relay_alive], [], [], 0)[0]:  # our parent died before the prctl
        return
    prctl(PR_SET_DUMPABLE, 0)  # the guest may not ptrace us or read our /proc entries
    libc.signal(SIGINT, SIG_IGN)  # Python's SIGINT handler would let the guest interrupt us
    sources = open_read_only_sources(config["read_only"])
    become_sandbox_user()  # files we create must belong to a user mapped in the namespace
    build_root(config, sources)
    for fd in sources.values():
        os.close(fd)
    libc.sethostname(b"sandbox", 7)
    guest = start_guest(config)
    os.write(status, b"started\n")
    while True:  # orphans of the guest are reparented to us: reap them until the guest ends
        pid, code, usage = os.wait4(-1, 0)
        if pid == guest:
            break
    cpu = usage.ru_utime + usage.ru_stime
    ending = (f"signal {os.WTERMSIG(code)}" if os.WIFSIGNALED(code)
              else f"exit {os.WEXITSTATUS(code)}")
    os.write(status, f"{ending}\ncpu {cpu:.3f}\n".encode())
    # returning exits PID 1: the kernel kills whatever the guest left running


def relay(config: dict, status: int, unshared: int, mapped: int) -> None:
    """Enters the new namespaces, waits for the launcher to write its id maps, then forks
    the init (a new PID namespace takes effect for children only) and waits for it."""
    prctl(PR_SET_PDEATHSIG, SIGKILL)
    if select.select([mapped], [], [], 0)[0]:  # the launcher died before the prctl
        return
    _check(libc.unshare(NAMESPACES), "unshare (are unprivileged user namespaces disabled?)")
    os.write(unshared, b"u")
    if os.read(mapped, 1) != b"m":
        return
    alive_read, alive_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(alive_write)
        _guarded(init, config, status, alive_read)
    os.write(unshared, f"{pid}\n".encode())  # the launcher kills it at the deadline
    os.waitpid(pid, 0)  # returns once the init and everything in its namespace are gone


def _guarded(step: Callable[..., None], config: dict, status: int, *fds: int) -> None:
    """Run a process's whole life; setup failures go to the status fd, never to stderr."""
    try:
        step(config, status, *fds)
    except (SetupError, OSError) as error:
        os.write(status, f"error {error}\n".encode())
    os._exit(0)


def main() -> None:
    started = time.monotonic()
    prctl(PR_SET_PDEATHSIG, SIGKILL)  # ttc went away: so do we, and so does the sandbox
    config = marshal.loads(sys.stdin.buffer.read())
    status = config["status_fd"]
    os.set_inheritable(status, False)
    if os.geteuid() == 0:
        os.setgroups([])  # root's supplementary groups must not follow the guest
    unshared_read, unshared_write = os.pipe()
    mapped_read, mapped_write = os.pipe()  # stays open while we live
    pid = os.fork()
    if pid == 0:
        os.close(unshared_read)
        os.close(mapped_write)
        _guarded(relay, config, status, unshared_write, mapped_read)
    os.close(unshared_write)
    os.close(mapped_read)
    relay_done = os.pidfd_open(pid)
    init_alive = None
    if os.read(unshared_read, 1) == b"u":
        try:
            write_id_maps(pid)
            os.write(mapped_write, b"m")
            init_alive = os.pidfd_open(int(os.read(unshared_read, 32)))
        except (OSError, ValueError) as error:
            os.write(status, f"error starting the init: {error}\n".encode())
    remaining = config["timeout_s"] - (time.monotonic() - started)
    if not select.select([relay_done], [], [], max(remaining, 0))[0]:
        import signal  # only now: it costs milliseconds at start-up

        os.write(status, b"timeout\n")
        if init_alive is not None:  # its death empties the PID namespace before the relay
            signal.pidfd_send_signal(init_alive, SIGKILL)  # ... reaps it and exits
        else:
            os.kill(pid, SIGKILL)
    os.waitpid(pid, 0)
    os._exit(0)  # nothing to flush; skipping the interpreter's shutdown saves milliseconds


main()
