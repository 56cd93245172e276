"""One loaded local engine for every model-backed runtime test in the session."""

from __future__ import annotations

import pytest

from ttc.plugins.runtimes.local import LocalRuntime


@pytest.fixture(scope="session")
def local_runtime() -> LocalRuntime:
    return LocalRuntime.create("", LocalRuntime.Options())


@pytest.fixture(scope="session")
def chat_prompt(local_runtime: LocalRuntime) -> str:
    tokenizer = local_runtime.engine.tokenizer
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 2+2? Answer briefly."}],
        tokenize=False, add_generation_prompt=True)
