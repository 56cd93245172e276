"""Recipes and helpers of the UI tests (fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"

CRITIQUE_OF_4 = "Strengths: four is right.\nWeaknesses: no working shown."
CRITIQUE_OF_5 = "Strengths: it is short.\nWeaknesses: five is wrong."

SCRIPTED_RECIPE = f"""\
name: scripted-critic
models:
  m:
    runtime: scripted
    model: ui-tests
    options:
      responses: ['The answer is 4', 'The answer is 5', 'The answer is 4']
      rotate_by_seed: true
      rules:
        - contains: "Response:\\nThe answer is 4"
          responses: [{CRITIQUE_OF_4!r}]
        - contains: "Response:\\nThe answer is 5"
          responses: [{CRITIQUE_OF_5!r}]
task: number
seed: 3
stages:
  - use: sample
    n: 3
    temperature: 0.8
  - {{use: critic, mode: each, max_tokens: 32, parse_retries: 0}}
select: {{use: majority}}
"""

REPEAT_RECIPE = """\
name: scripted-repeat
models:
  m:
    runtime: scripted
    model: ui-tests-repeat
    options:
      responses: ['The answer is 4', 'The answer is 5']
      rotate_by_seed: true
task: number
stages:
  - {use: sample, n: 2}
  - repeat:
      max_rounds: 2
      stages:
        - {use: self_refine, max_tokens: 16}
select: {use: majority}
"""

LOCAL_RECIPE = """\
name: tiny-local
models:
  small:
    runtime: local
    options: {threads: 1}
task: number
seed: 0
stages:
  - {use: sample, n: 2, temperature: 0.7, max_tokens: 8}
select: {use: majority}
"""


def record(url: str, recipe: str, question: str, seed: int | None = None) -> str:
    """Run ``recipe`` on ``question``, recorded in the store at ``url``; the run id."""
    from ttc import Pipeline

    result = Pipeline.from_text(recipe, "<test>", store=url).run(question, seed=seed)
    assert result.status == "succeeded", result.error
    return result.run_id


def widget_key(at: object, *parts: object) -> str:
    """A builder widget's key at the app's current draft revision."""
    rev = at.session_state.get("builder.rev", 0)
    return f"b{rev}." + ".".join(str(p) for p in parts)
