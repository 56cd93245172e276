"""Few-shot examples, a user-message template and a reply prefix, shared by every generator."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ttc.pipeline import Pipeline
from ttc.sampling_config import SamplingConfig
from ttc.state import State, Task

RULE = ('"<system>Answer with code.</system>\\n<user>Q: 1 + 1 {braces stay}</user>\\n'
        '<assistant>```python\\nprint(1 + 1)\\n```</assistant>\\n'
        '<user>Q: 2 + 2 {braces stay}</user>\\n<assistant>```python\\n"')
"""The whole rendered prompt: system message, the example's turns, the templated question
and the prefix (the scripted runtime renders turns as <role>…</role>)."""

RECIPE = """
name: prompting
models:
  m:
    runtime: scripted
    model: s
    options:
      rules:
        - contains: RULE
          responses: ["print(2 + 2)\\n"]
      responses: ["the template or prefix was not applied"]
stages:
  - use: sample
    n: 2
    system: Answer with code.
    template: "Q: {question} {braces stay}"
    prefix: "```python\\n"
    examples:
      - {question: "1 + 1", answer: "```python\\nprint(1 + 1)\\n```"}
""".replace("RULE", RULE)


def test_messages_are_system_examples_then_the_templated_question() -> None:
    config = SamplingConfig(system="S", template="Q: {question}!",
                            examples=[{"question": "a", "answer": "b"}])
    task = Task(messages=({"role": "user", "content": "first"},
                          {"role": "assistant", "content": "reply"},
                          {"role": "user", "content": "last"}))
    assert config.messages(State(task=task)) == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "Q: a!"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "first"},  # only the last user message is templated
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "Q: last!"},
    ]


def test_a_template_without_the_question_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"\{question\}"):
        SamplingConfig(template="no placeholder")


def test_the_prefix_ends_the_prompt_and_starts_each_candidate() -> None:
    result = Pipeline.from_text(RECIPE, store=False).run("2 + 2")
    texts = [c.text for c in result.pool]
    assert texts == ["```python\nprint(2 + 2)\n"] * 2
