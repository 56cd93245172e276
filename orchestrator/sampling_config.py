"""Sampling parameters as component config: one definition every generating component shares.

A component whose defaults differ (a critic samples at temperature 0) re-declares just that
field; the rest, their bounds and their docs stay in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ttc.component import ComponentConfig
from ttc.runtime import GenerateRequest, Message, SamplingParams
from ttc.state import State

if TYPE_CHECKING:
    from ttc.context import ComponentContext

QUESTION = "{question}"


class Example(BaseModel):
    """One worked example shown before the question (few-shot prompting)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    question: str
    """The example's user message (the template applies to it too)."""
    answer: str
    """The reply the model should imitate (include the prefix, e.g. a code fence)."""


class SamplingConfig(ComponentConfig):
    temperature: float = Field(default=0.7, ge=0.0, le=5.0)
    """0 is greedy decoding."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    """Nucleus sampling: keep the smallest set of tokens with this much probability."""
    top_k: int = Field(default=0, ge=0)
    """0 disables top-k truncation."""
    min_p: float = Field(default=0.0, ge=0.0, le=1.0)
    """Drop tokens less likely than min_p times the most likely one."""
    max_tokens: int = Field(default=256, ge=1, le=32768)
    """The most tokens one call may generate."""
    stop: list[str] = Field(default_factory=list)
    """Strings that end a completion (not included in its text)."""
    top_logprobs: int = Field(default=0, ge=0, le=100)
    """Top logprobs to keep per token (for selectors that need them)."""
    system: str | None = None
    """A system message put before the task's messages."""
    examples: list[Example] = Field(default_factory=list)
    """Worked examples put before the question as earlier turns of the conversation
    (few-shot prompting)."""
    template: str | None = None
    """The user message, with ``{question}`` standing for the task's question (e.g.
    ``"Solve step by step: {question}"``); None sends the question as given."""
    prefix: str = ""
    """Text the reply starts with, which the model continues (e.g. a code fence); it is part
    of each candidate's text, its tokens are not in the candidate's token statistics."""

    @field_validator("template")
    @classmethod
    def _has_question(cls, value: str | None) -> str | None:
        if value is not None and QUESTION not in value:
            raise ValueError(f"the template must contain {QUESTION} where the question goes")
        return value

    def sampling_params(self, seed: int | None, *, max_tokens: int | None = None,
                        temperature: float | None = None) -> SamplingParams:
        return SamplingParams(
            max_tokens=max_tokens or self.max_tokens,
            temperature=self.temperature if temperature is None else temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            min_p=self.min_p,
            stop=tuple(self.stop),
            seed=seed,
        )

    def request(self, prompt: str, *, n: int = 1, seed: int | None,
                max_tokens: int | None = None, temperature: float | None = None
                ) -> GenerateRequest:
        return GenerateRequest(
            prompt=prompt,
            params=self.sampling_params(seed, max_tokens=max_tokens, temperature=temperature),
            n=n,
            top_logprobs=self.top_logprobs,
        )

    def messages(self, state: State) -> list[Message]:
        """The system message, the worked examples, then the task's messages (its last user
        message through the template)."""
        task: list[Message] = list(state.task.as_messages())
        if self.template is not None:
            for i in range(len(task) - 1, -1, -1):
                if task[i].get("role") == "user":
                    task[i] = {**task[i], "content": self.fill(task[i].get("content", ""))}
                    break
        messages: list[Message] = []
        if self.system:
            messages.append({"role": "system", "content": self.system})
        for example in self.examples:
            messages.append({"role": "user", "content": self.fill(example.question)})
            messages.append({"role": "assistant", "content": example.answer})
        return messages + task

    def fill(self, question: str) -> str:
        """The template with the question in it (plain replacement: braces elsewhere in the
        template are text, not format fields)."""
        return question if self.template is None else self.template.replace(QUESTION, question)

    async def prompt(self, state: State, ctx: ComponentContext) -> str:
        """The rendered prompt, ending with the reply's prefix."""
        return await ctx.render(self.messages(state)) + self.prefix

    def reply(self, completion_text: str) -> str:
        """A candidate's text: the prefix the model continued, then what it wrote."""
        return self.prefix + completion_text
