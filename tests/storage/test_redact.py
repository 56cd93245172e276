"""The store's Redactor: URL credentials and secret-named keys masked in the recipe text, in
time linear in its length (it runs on every recorded run's recipe and texts)."""

from __future__ import annotations

import time

import pytest

from ttc.storage.redact import MASK, Redactor

RECIPE = """\
name: r
description: "mirror at https://mirror:MIRROR-PASS-0123@mirror.invalid/x"
models:
  m:
    runtime: openai
    options: {base_url: "http://svc:URL-PASS-0123@10.0.0.1:8000/v1", api_key: sk-live-0123456789}
    headers: {"x-api-key": "HEADER-KEY-0123"}
stages: [{use: sample}]
"""


def test_recipe_text_keeps_its_shape_and_loses_its_credentials() -> None:
    redactor = Redactor.for_recipe(RECIPE)
    masked = redactor.recipe(RECIPE)
    for secret in ("MIRROR-PASS", "URL-PASS", "sk-live", "HEADER-KEY"):
        assert secret not in masked
    assert 'base_url: "http://***@10.0.0.1:8000/v1"' in masked
    assert f'api_key: "{MASK}"' in masked and f'"x-api-key": "{MASK}"' in masked
    assert masked.count("\n") == RECIPE.count("\n")
    echoed = "401: no user svc:URL-PASS-0123; key sk-live-0123456789 revoked"
    assert redactor.text(echoed) == "401: no user ***; key *** revoked"


def test_an_unparsable_or_hostile_recipe_still_gets_its_keys_masked() -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n"
        for i in range(8)) + "api_key: sk-live-0123456789\n"
    started = time.perf_counter()
    redactor = Redactor.for_recipe(bomb)
    assert "sk-live" not in redactor.recipe(bomb)
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize("text", [
    "a" * 400_000, "a-" * 200_000, "a." * 200_000 + " http://x", "http://" + "a" * 400_000,
    "api_key " * 50_000, "x: y\n" * 80_000, "Bearer " * 50_000,
])
def test_masking_takes_linear_time(text: str) -> None:
    redactor = Redactor(["sk-live-0123456789"])
    started = time.perf_counter()
    redactor.recipe(text)
    redactor.text(text)
    redactor.data({"k": [text]})
    assert time.perf_counter() - started < 3.0  # quadratic patterns took minutes at 40 kB
