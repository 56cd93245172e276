"""One loaded local engine for every model-backed runtime test in the session."""

from __future__ import annotations

import pytest

from ttc.plugins.runtimes.local import LocalRuntime


@pytest.fixture(scope="session")
def local_runtime() -> LocalRuntime:
    return LocalRuntime.create("", LocalRuntime.Options())


@pytest.fixture(scope="session")
def chat_prompt(local_runtime: LocalRuntime) -> str:
    return local_runtime.engine.tokenizer.render(
        [{"role": "user", "content": "What is 2+2? Answer briefly."}],
        add_generation_prompt=True)
