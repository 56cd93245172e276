"""The system messages Archon sends without being asked, and what ``no_system`` removes.

``Archon.generate`` puts ``You are a helpful assistant`` before a conversation that has no
system message; a generator sends the conversation as it is. Every other component writes
its own system message and leaves the conversation's out. ``no_system: true`` drops the
first message of whatever the component sends, which is always a system message, so the
call goes without one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

GENERATOR = "You are a helpful assistant"
"""What a generator's call starts with when the question came without a system message."""
OWN: dict[str, tuple[str, ...]] = {
    "fuser": ("You are a helpful assistant who fuses multiple answers",),
    "critic": ("You are a critical evaluator.",),
    "ranker": ("You are a helpful assistant who ranks multiple answers",),
    "verifier": ("You are a reasoning generator for instructions and their responses.",
                 "You are a verification system for judging responses and their reasoning."),
    "unit_test_generator": ("You are a unit test generator.",),
    "unit_test_evaluator": ("You are a unit test evaluator",),
}
"""The system message of each call the other components make (the verifier makes two)."""


def system_for(kind: str, component: Mapping[str, Any],
               accepts: Iterable[str]) -> tuple[str | None, bool]:
    """(the ``system`` parameter to write, whether Archon's message is lost): a component
    whose ttc counterpart takes a ``system`` parameter gets Archon's message unless
    ``no_system``; one that takes none loses it, unless ``no_system`` dropped it anyway."""
    if component.get("no_system"):
        return None, False
    prompts = (GENERATOR,) if kind == "generator" else OWN.get(kind, ())
    if not prompts:
        return None, False
    if "system" in set(accepts) and len(prompts) == 1:
        return prompts[0], False
    return None, True
