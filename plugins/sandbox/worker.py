"""The tested code's side of a unit-test run: load the code, then answer the harness's
requests (call this, get that attribute...) with data. Runs inside the sandbox, in the
same process as the tested code, so nothing here is trusted: the harness decides every
verdict from the data it receives (see ``harness.py``). Stdlib only."""

import os

import wire


def wait_for_harness(read_fd: int, write_fd: int) -> wire.Channel:
    """Block until the harness says go: it first makes itself unreachable (not dumpable),
    and the code must not run before that."""
    channel = wire.Channel(read_fd, write_fd)
    if channel.receive() != "go":
        os._exit(3)
    return channel


def serve(channel: wire.Channel, code, namespace: dict) -> None:
    exec(code, namespace)  # a crash here ends the process: the harness fails every test
    objects: list = []

    def reference(value) -> int:
        objects.append(value)
        return len(objects) - 1

    def remote(index: int, _name: str):
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


def _answer(request: list, namespace: dict, objects: list, remote):
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
