"""Servers on 127.0.0.1 (free ports) over the scripted runtime and, once per session, the
real local runtime."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import httpx
import pytest

from ttc.plugins.runtimes.scripted import Rule, ScriptedOptions, ScriptedRuntime, token_id
from ttc.plugins.server.background import BackgroundServer
from ttc.plugins.server.served_runtime import ServerLimits

SCRIPTED_RESPONSES = ["the answer is 42", "I think 7", "maybe 42 then"]
RULES = [
    Rule(contains="alpha", responses=["a0", "a1", "a2"]),
    Rule(contains="beta", responses=["b0", "b1", "b2"]),
]


class DetokenizingScripted(ScriptedRuntime):
    """The scripted runtime plus the optional ``detokenize`` extra (words are its tokens)."""

    def __init__(self, model: str, options: ScriptedOptions) -> None:
        super().__init__(model, options)
        self.words: dict[int, str] = {}
        for text in [*options.responses, *(r for rule in options.rules for r in rule.responses)]:
            self.words.update((token_id(w), w) for w in text.split())

    async def tokenize(self, text: str) -> list[int]:
        ids = await super().tokenize(text)
        self.words.update(zip(ids, text.split(), strict=True))
        return ids

    async def detokenize(self, ids: Sequence[int]) -> str:
        return " ".join(self.words.get(i, f"<{i}>") for i in ids)


def scripted_runtime(cls: type[ScriptedRuntime] = ScriptedRuntime, **options: object):
    defaults: dict[str, object] = {
        "responses": SCRIPTED_RESPONSES,
        "rules": RULES,
    }
    return cls("scripted-model", ScriptedOptions(**{**defaults, **options}))


@pytest.fixture(scope="session")
def scripted_server() -> Iterator[BackgroundServer]:
    with BackgroundServer(scripted_runtime(), limits=ServerLimits(max_n=16)) as server:
        yield server


@pytest.fixture
def client(scripted_server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=scripted_server.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def local_runtime():
    """The real embedded model, loaded once for the whole session (one torch thread: other
    processes share the cores; the first runtime of a session configures the engine)."""
    try:
        from ttc.plugins.runtimes.local import LocalRuntime
    except ImportError as error:  # pragma: no cover - the local runtime is a sibling plugin
        pytest.skip(f"local runtime unavailable: {error}")
    return LocalRuntime.create("", LocalRuntime.Options(threads=1))


@pytest.fixture(scope="session")
def local_server(local_runtime) -> Iterator[BackgroundServer]:
    with BackgroundServer(local_runtime) as server:
        yield server


@pytest.fixture
def local_client(local_server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local_server.url, timeout=120) as http:
        yield http
