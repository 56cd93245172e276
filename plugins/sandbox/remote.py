"""The tested code as the harness sees it: a worker process answering requests, stand-ins
for its objects, and the namespace tests run in. Runs inside the sandbox, in the harness's
process; stdlib only. Why it is built this way: ``harness.py``."""

from __future__ import annotations

import builtins
import json
import os
import select

TYPE_CHECKING = False  # typing is not imported in the sandbox; only mypy reads annotations
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, NoReturn

    from ttc.plugins.sandbox import wire
else:
    import wire  # a sibling: the harness runs these files as scripts


class RemoteError(Exception):
    """The tested code raised an exception that is not a built-in one."""


class WorkerGone(Exception):
    """The tested code's process ended or broke the protocol; its functions are gone."""


class Worker:
    """The tested code's process, seen from the harness."""

    def __init__(self, pid: int, read_fd: int, write_fd: int) -> None:
        self.pid = pid
        self.channel = wire.Channel(read_fd, write_fd)
        self.broken = ""

    def start(self) -> dict[str, str] | None:
        """Wait for the worker to load the code: its global names, each ``module NAME`` or
        ``other``; None when the code did not load."""
        try:
            names = self.channel.receive()["names"]
            if all(type(k) is str and type(v) is str for k, v in names.items()):
                return names
        except (OSError, EOFError, wire.ProtocolError, TypeError, KeyError, AttributeError):
            pass
        return None

    def ask(self, *request: Any) -> Any:
        if self.broken:
            raise WorkerGone(self.broken)
        try:
            self.channel.send(list(request))
            reply = self.channel.receive()
            if type(reply) is not list or not reply or reply[0] not in ("ok", "raise"):
                raise wire.ProtocolError("unknown reply")
            if reply[0] == "ok":
                return wire.decode(reply[1], self.remote)
            name, message = str(reply[1]), str(reply[2])
        except (OSError, EOFError):
            self.broken = "the tested code's process has exited"
            raise WorkerGone(self.broken) from None
        except (wire.ProtocolError, IndexError) as error:
            self.broken = f"the tested code's process broke the protocol ({error})"
            raise WorkerGone(self.broken) from None
        raise _exception(name, message)

    def remote(self, index: int, type_name: str) -> Remote:
        return Remote(self, index, type_name)

    def stop(self, grace_s: float | None = None) -> int | None:
        """Close the pipe (the worker then flushes its output and exits); its exit code,
        or None if it is still running after ``grace_s`` seconds."""
        os.close(self.channel.write_fd)
        if grace_s is not None:
            exited = os.pidfd_open(self.pid)
            try:
                if not select.select([exited], [], [], grace_s)[0]:
                    return None
            finally:
                os.close(exited)
        return os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])


def _exception(name: str, message: str) -> BaseException:
    kind = getattr(builtins, name, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(message)
        except Exception:
            pass
    return RemoteError(f"{name}: {message}")


def _refuse(self: object, *_args: object) -> NoReturn:
    raise TypeError(f"{self!r} is an object of the tested code; tests compare data (numbers,"
                    " strings, lists, ...) that it returns, not its objects")


class Remote:
    """Stands for an object that stays in the tested code's process."""

    __slots__ = ("_index", "_type", "_worker")
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = _refuse
    __hash__ = object.__hash__

    def __init__(self, worker: Worker, index: int, type_name: str) -> None:
        object.__setattr__(self, "_worker", worker)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_type", type_name)

    def __repr__(self) -> str:
        return f"<{self._type} of the tested code>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._worker.ask("call", self._index, wire.encode(list(args), _own),
                                wire.encode(kwargs, _own))

    def __getattr__(self, name: str) -> Any:
        return self._worker.ask("attr", self._index, name)

    def __getitem__(self, key: Any) -> Any:
        return self._worker.ask("item", self._index, wire.encode(key, _own))

    def __contains__(self, value: object) -> bool:
        return bool(self._worker.ask("contains", self._index, wire.encode(value, _own)))

    def __len__(self) -> int:
        return self._worker.ask("len", self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._worker.ask("iter", self._index))

    def __str__(self) -> str:
        return self._worker.ask("str", self._index)


def _own(value: object) -> int:
    """Send a reference back to the tested code (``merge(a, b)`` with two of its objects);
    anything else that is not data cannot cross."""
    if isinstance(value, Remote):
        return value._index
    raise TypeError(f"{type(value).__name__} objects cannot be sent to the tested code")


class Namespace(dict[str, object]):  # evaluated at run time: no typing.Any here
    """Where tests run: their own names, then (for names they did not bind) the tested
    code's, except that builtins stay builtins and a module the code imported is imported
    here instead."""

    def __init__(self, worker: Worker, names: dict[str, str]) -> None:
        super().__init__(__name__="__test__", __builtins__=builtins)
        self.worker, self.names = worker, names

    def __missing__(self, name: str) -> Any:
        if name not in self.names or hasattr(builtins, name):
            raise KeyError(name)
        kind, _, module = self.names[name].partition(" ")
        value = __import__(module) if kind == "module" else self.worker.ask("get", name)
        self[name] = value
        return value


def run(tests: list[str], worker: Worker, names: dict[str, str], report: int) -> None:
    namespace = Namespace(worker, names)
    for index, source in enumerate(tests):
        try:
            exec(compile(source, f"<test {index + 1}>", "exec"), namespace)
            verdict = [index, True, ""]
        except BaseException as error:  # a failing test must not stop the others
            verdict = [index, False, (type(error).__name__ + ": " + str(error))[:200]]
        os.write(report, (json.dumps(verdict) + "\n").encode())
