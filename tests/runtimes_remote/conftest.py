"""``ttc serve`` on 127.0.0.1 over the real embedded model (loaded once per session), and the
remote runtimes pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ttc.plugins.runtimes.local import LocalRuntime
from ttc.plugins.runtimes.openai import OpenAIOptions, OpenAIRuntime
from ttc.plugins.runtimes.sglang import SGLangOptions, SGLangRuntime
from ttc.plugins.server.background import BackgroundServer


@pytest.fixture(scope="session")
def local_runtime() -> LocalRuntime:
    return LocalRuntime.create("", LocalRuntime.Options())


@pytest.fixture(scope="session")
def served(local_runtime: LocalRuntime) -> Iterator[BackgroundServer]:
    with BackgroundServer(local_runtime) as server:
        yield server


@pytest.fixture(scope="session")
def sglang(served: BackgroundServer) -> SGLangRuntime:
    return SGLangRuntime.create("", SGLangOptions(url=served.url))


@pytest.fixture(scope="session")
def sglang_batch(served: BackgroundServer) -> SGLangRuntime:
    """Samples as repeated texts, the layout used against SGLang itself."""
    return SGLangRuntime.create("", SGLangOptions(url=served.url, samples="batch"))


@pytest.fixture(scope="session")
def openai_chat(served: BackgroundServer, local_runtime: LocalRuntime) -> OpenAIRuntime:
    return OpenAIRuntime.create("smollm2-135m", OpenAIOptions(
        base_url=served.url + "/v1", api_key="sk-test-secret-value",
        tokenizer=local_runtime.tokenizer_path))


@pytest.fixture(scope="session")
def openai_completions(served: BackgroundServer, local_runtime: LocalRuntime) -> OpenAIRuntime:
    return OpenAIRuntime.create("smollm2-135m", OpenAIOptions(
        base_url=served.url + "/v1", mode="completions", tokenizer=local_runtime.tokenizer_path))
