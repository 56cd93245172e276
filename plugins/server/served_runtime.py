"""The runtime as the server sees it: the ``Runtime`` protocol plus optional extras.

A runtime may offer more than the protocol (a context length, the paths it loaded, a cache to
flush, a way to turn token ids back into text); the server asks for each with ``getattr`` so
that it can serve any runtime and degrades in a labelled way when one is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ttc.runtime import CacheFlusher, Detokenizer, Runtime
from ttc.token_controls import ControlledGeneration, TokenScoring


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Bounds that keep one request from taking the server down."""

    max_n: int = 64
    max_batch: int = 256
    """Texts in one batched ``/generate``."""
    max_top_logprobs: int = 100
    max_stop: int = 64
    """Stop strings per request (each is searched for after every token)."""
    max_token_ids_logprob: int = 1024
    """Token ids whose logprobs one request may ask for at every position."""
    default_max_new_tokens: int = 128
    """SGLang's default for ``max_new_tokens``."""


class ServedRuntime:
    def __init__(
        self,
        runtime: Runtime,
        *,
        served_model_name: str | None = None,
        limits: ServerLimits | None = None,
    ) -> None:
        self.runtime = runtime
        self.limits = limits or ServerLimits()
        self.model_path: str = str(getattr(runtime, "model_path", None) or runtime.model)
        self.tokenizer_path: str = str(getattr(runtime, "tokenizer_path", None) or self.model_path)
        self.served_model_name = served_model_name or runtime.model or self.model_path
        context = getattr(runtime, "context_length", None)
        self.context_length: int | None = int(context) if context else None
        eos = getattr(runtime, "eos_token_id", None)
        self.eos_token_id: int | None = eos if isinstance(eos, int) else None
        total = getattr(runtime, "max_total_tokens", None)
        self.max_total_tokens: int | None = total if isinstance(total, int) else (
            self.context_length)
        """The most tokens the runtime holds at once (SGLang's ``max_total_num_tokens``;
        the runtime's optional ``max_total_tokens``, else its context length)."""
        token_chars = getattr(runtime, "max_token_chars", None)
        self.max_prompt_chars: int | None = (
            self.context_length * int(token_chars)
            if self.context_length and isinstance(token_chars, int) and token_chars > 0 else None)
        """Longer texts cannot fit the context whatever they tokenise to: refused untokenised
        (from the runtime's optional ``max_token_chars``, the most characters per token)."""

    @property
    def vocab_size(self) -> int | None:
        return self.runtime.vocab_size

    @property
    def can_control(self) -> bool:
        """The runtime offers ``generate_controlled`` (``ttc.token_controls``): token-id
        prompts, penalties, EOS handling and per-token progress for streaming."""
        return isinstance(self.runtime, ControlledGeneration)

    @property
    def can_score_tokens(self) -> bool:
        """The runtime offers ``score_tokens`` (``ttc.token_controls.TokenScoring``): prompt
        logprobs of token ids used exactly as given."""
        return isinstance(self.runtime, TokenScoring)

    @property
    def can_detokenize(self) -> bool:
        return isinstance(self.runtime, Detokenizer)

    async def detokenize(self, ids: Sequence[int]) -> str:
        """Token ids to text with the runtime's own ``detokenize`` (``ttc.Detokenizer``)."""
        if not isinstance(self.runtime, Detokenizer):
            raise TypeError(f"the {self.runtime.name} runtime cannot detokenize")
        return await self.runtime.detokenize(list(ids))

    async def token_texts(self, ids: Sequence[int]) -> list[str | None]:
        """The text of each token, or None for every token if the runtime cannot say."""
        if not self.can_detokenize:
            return [None] * len(ids)
        return [await self.detokenize([token]) for token in ids]

    async def flush_cache(self) -> bool:
        """Empty the prefix cache; False if the runtime has none to flush."""
        if not isinstance(self.runtime, CacheFlusher):
            return False
        await self.runtime.flush_cache()
        return True
