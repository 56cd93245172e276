"""Shared fixtures. Model-backed tests share one loaded engine per test session (the local
runtime caches engines per model in the process)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def write_recipe(tmp_path: Path):
    """Write a recipe text to a file and return its path."""

    def write(text: str, name: str = "recipe.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def pytest_configure(config: pytest.Config) -> None:
    # Third-party plugins installed on a developer's machine must not change test results;
    # the entry-point test turns loading back on explicitly.
    os.environ.setdefault("TTC_DISABLE_ENTRY_POINTS", "1")
    # `ttc run` records into the user's data folder by default: keep the suite's runs out of
    # the real one (the model cache in the user cache folder is shared on purpose).
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="ttc-test-data-")
