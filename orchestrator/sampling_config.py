"""Sampling parameters as component config: one definition every generating component shares.

A component whose defaults differ (a critic samples at temperature 0) re-declares just that
field; the rest, their bounds and their docs stay in one place.
"""

from __future__ import annotations

from pydantic import Field

from ttc.component import ComponentConfig
from ttc.runtime import GenerateRequest, Message, SamplingParams
from ttc.state import State


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
        """The task's messages, after the configured system message if there is one."""
        messages: list[Message] = list(state.task.as_messages())
        if self.system:
            messages.insert(0, {"role": "system", "content": self.system})
        return messages
