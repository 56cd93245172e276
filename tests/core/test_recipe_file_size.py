"""A recipe file is read only up to what a recipe may hold: a huge or endless file is
refused without being read whole."""

from __future__ import annotations

import pytest

from ttc.errors import RecipeError
from ttc.pipeline import Pipeline
from ttc.recipe.yaml_source import MAX_CHARS


def test_an_endless_file_is_refused_after_a_bounded_read():
    with pytest.raises(RecipeError, match="larger than"):
        Pipeline.from_yaml("/dev/zero")


def test_a_file_over_the_limit_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (4 * MAX_CHARS + 10))
    with pytest.raises(RecipeError, match="larger than") as raised:
        Pipeline.from_yaml(path)
    assert str(path) in str(raised.value)


def test_a_folder_is_not_a_recipe(tmp_path):
    with pytest.raises(RecipeError, match="is a folder"):
        Pipeline.from_yaml(tmp_path)
