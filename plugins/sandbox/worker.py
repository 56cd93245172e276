"""The tested code's side of a unit-test run: load the code, then answer the harness's
requests (call this, get that attribute...) with data. Runs inside the sandbox, in a
process forked from the harness, which is the tested code's from the moment it loads, so
nothing here is trusted: the harness decides every verdict from the data it receives (see
``harness.py``). Stdlib only."""

from __future__ import annotations

import contextlib
import os
import sys

TYPE_CHECKING = False  # typing is not imported in the sandbox; only mypy reads annotations
if TYPE_CHECKING:
    from types import CodeType
    from typing import Any

    from ttc.plugins.sandbox import guard, wire
    from ttc.plugins.sandbox.wire import MakeRemote
else:
    import guard  # siblings: the harness runs these files as scripts
    import wire


def run(limits: str, code_file: str, read_fd: int, write_fd: int) -> None:
    """The worker's whole life (it never returns into the harness's code): keep only stdio
    and the two pipes, limits and audit hook as for ``run_python``, load the code, serve.
    Ends like an interpreter would: SystemExit's code, 1 and a traceback on any other
    exception."""
    try:
        keep = sorted({0, 1, 2, read_fd, write_fd})
        for low, high in zip(keep, [*keep[1:], 1 << 20], strict=True):
            os.closerange(low + 1, high)  # the tests and the report stay the harness's
        hook = guard.apply_limits(limits)
        code, namespace = guard.load(code_file)
        if hook:
            guard.install_audit_hook(os.getcwd())
        serve(wire.Channel(read_fd, write_fd), code, namespace)
        status = 0
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else 1
        if exit.code is not None and not isinstance(exit.code, int):
            print(exit.code, file=sys.stderr)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        status = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):  # the code may have replaced them
            stream.flush()
    os._exit(status)


def serve(channel: wire.Channel, code: CodeType, namespace: dict[str, Any]) -> None:
    exec(code, namespace)  # a crash here ends the process: the harness fails every test
    objects: list[Any] = []

    def reference(value: object) -> int:
        objects.append(value)
        return len(objects) - 1

    def remote(index: int, _name: str) -> Any:
        return objects[index]

    names = {name: f"module {value.__name__}" if isinstance(value, type(os)) else "other"
             for name, value in namespace.items() if not name.startswith("__")}
    channel.send({"names": names})
    while True:
        try:
            request = channel.receive()
        except EOFError:
            return
        try:
            value = _answer(request, namespace, objects, remote)
            reply = ["ok", wire.encode(value, reference)]
        except BaseException as error:  # the code's exceptions are answers too
            reply = ["raise", type(error).__name__, str(error)[:500]]
        channel.send(reply)


def _answer(request: list[Any], namespace: dict[str, Any], objects: list[Any],
            remote: MakeRemote) -> Any:
    op, target, *rest = request
    if op == "get":
        if target not in namespace:
            raise NameError(f"name {target!r} is not defined")
        return namespace[target]
    subject = objects[target]
    arguments = [wire.decode(item, remote) for item in rest]
    if op == "call":
        args, kwargs = arguments
        return subject(*args, **kwargs)
    if op == "attr":
        return getattr(subject, *arguments)
    if op == "item":
        return subject[arguments[0]]
    if op == "contains":
        return arguments[0] in subject
    if op == "len":
        return len(subject)
    if op == "iter":
        return list(subject)
    if op == "str":
        return str(subject)
    if op == "repr":
        return repr(subject)
    raise ValueError(f"unknown request {op!r}")
