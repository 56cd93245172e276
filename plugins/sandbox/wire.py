"""Data between the test harness and the tested code's process: JSON lines over pipes.
Runs inside the sandbox; stdlib only.

Only data crosses: None, bools, numbers, strings, bytes and (nested) tuples, lists, dicts,
sets and frozensets, each decoded as the exact built-in type. Anything else stays in the
tested process and crosses as a reference (``["r", id, type name]``), on which the harness
can call, get attributes, index, iterate and take len/str -- never compare: an object's
``__eq__`` is the tested code's to fake.

Encoding: JSON scalars stand for themselves (ints up to ~4,000 digits); every JSON array
is a tag: ``["t", items]`` tuple, ``["l", items]`` list, ``["d", [[k, v], ...]]`` dict,
``["s", items]`` set, ``["f", items]`` frozenset, ``["b", hex]`` bytes, ``["B", hex]``
bytearray, ``["c", real, imag]`` complex, ``["i", hex]`` big int, ``["r", id, name]``.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False  # typing is not imported in the sandbox; only mypy reads annotations
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    MakeRemote = Callable[[int, str], Any]
    """``remote(id, type_name)``: the stand-in for a reference."""

BIG_INT_BITS = 12_000  # below Python's default 4,300-digit limit on int <-> str
MESSAGE_LIMIT = 32 * 1024 * 1024


class ProtocolError(Exception):
    """The other side sent something that is not a message of this protocol."""


def encode(value: Any, reference: Callable[[Any], int] | None = None) -> Any:
    """``value`` as a JSON-able tree; ``reference(obj)`` gives the id of a non-data object
    (without one, non-data is an error)."""
    if value is None or isinstance(value, bool):  # bool has no subclasses
        return value
    if isinstance(value, int):
        value = int.__int__(value)
        if value.bit_length() > BIG_INT_BITS:
            return ["i", hex(value)]
        return value
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes):
        return ["b", bytes(value).hex()]
    if isinstance(value, bytearray):
        return ["B", bytes(value).hex()]
    if isinstance(value, complex):
        return ["c", value.real, value.imag]
    for kind, tag in ((tuple, "t"), (list, "l"), (set, "s"), (frozenset, "f")):
        if isinstance(value, kind):
            return [tag, [encode(item, reference) for item in value]]
    if isinstance(value, dict):
        return ["d", [[encode(k, reference), encode(v, reference)] for k, v in value.items()]]
    if reference is None:
        raise TypeError(f"{type(value).__name__} objects cannot be sent to the tested code")
    return ["r", reference(value), type(value).__name__]


def decode(tree: Any, remote: MakeRemote) -> Any:
    """The value a tree stands for; ``remote(id, type_name)`` makes a reference's stand-in.
    Raises ProtocolError on anything malformed."""
    if tree is None or type(tree) in (bool, int, float, str):
        return tree
    if type(tree) is not list or not tree or tree[0] not in _DECODERS:
        raise ProtocolError(f"not a value: {str(tree)[:80]}")
    try:
        return _DECODERS[tree[0]](tree, remote)
    except (TypeError, ValueError, IndexError) as error:
        raise ProtocolError(f"bad {tree[0]!r} value: {error}") from None


def _items(tree: Any, remote: MakeRemote) -> list[Any]:
    if type(tree[1]) is not list:
        raise TypeError("items must be a list")
    return [decode(item, remote) for item in tree[1]]


def _reference(tree: Any, remote: MakeRemote) -> Any:
    if type(tree[1]) is not int or type(tree[2]) is not str:
        raise TypeError("a reference is an int id and a type name")
    return remote(tree[1], tree[2])


_DECODERS = {
    "t": lambda tree, remote: tuple(_items(tree, remote)),
    "l": _items,
    "s": lambda tree, remote: set(_items(tree, remote)),
    "f": lambda tree, remote: frozenset(_items(tree, remote)),
    "d": lambda tree, remote: {decode(k, remote): decode(v, remote) for k, v in tree[1]},
    "b": lambda tree, remote: bytes.fromhex(tree[1]),
    "B": lambda tree, remote: bytearray.fromhex(tree[1]),
    "c": lambda tree, remote: complex(float(tree[1]), float(tree[2])),
    "i": lambda tree, remote: int(tree[1], 16),
    "r": _reference,
}


class Channel:
    """One JSON message per line, each way, over two pipe descriptors."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd
        self.buffer = bytearray()

    def send(self, message: Any) -> None:
        data = memoryview((json.dumps(message, separators=(",", ":")) + "\n").encode())
        while data:
            data = data[os.write(self.write_fd, data):]

    def receive(self) -> Any:
        """The next message; EOFError when the other side has gone."""
        start = 0
        while (end := self.buffer.find(b"\n", start)) < 0:
            if len(self.buffer) > MESSAGE_LIMIT:
                raise ProtocolError("a message longer than 32 MiB")
            start = len(self.buffer)
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        line = bytes(self.buffer[:end])
        del self.buffer[:end + 1]
        try:
            return json.loads(line)
        except (ValueError, RecursionError) as error:
            raise ProtocolError(f"not JSON: {error}") from None
