"""Token-level generation controls beyond ``SamplingParams``, and per-token progress.

``ttc serve`` speaks SGLang's and OpenAI's full sampling surface: prompts given as token
ids, ``ignore_eos``, ``min_new_tokens``, ``stop_token_ids``, ``logit_bias``, penalties,
``no_stop_trim``, ``skip_special_tokens``, and streaming. Recipes never need these, so they
are not part of ``GenerateRequest`` (whose fields make a call's fingerprint): a runtime that
offers them implements the optional ``ControlledGeneration`` protocol, and the server refuses
a request that needs them from a runtime that does not (never ignores one silently).

Semantics are SGLang's (``python/sglang/srt/sampling/sampling_params.py`` and
``penaltylib/``):

- ``frequency_penalty`` subtracts ``penalty × count`` from the logit of each token generated
  so far (count = times it was generated), ``presence_penalty`` subtracts ``penalty`` once
  from each generated token; both look at output tokens only, not the prompt;
- ``repetition_penalty`` (CTRL's rule) divides a positive logit by the penalty and multiplies
  a negative one, for every token generated so far (output only, as SGLang's penalizer);
- ``min_new_tokens``: EOS and ``stop_token_ids`` cannot be chosen before that many tokens
  (their logits are −inf), and stop strings do not end the sample before it;
- ``logit_bias`` adds a value to a token's logit;
- ``ignore_eos``: EOS does not end the sample (it is a token like any other);
- ``stop_token_ids`` end the sample like EOS (the token stays in the ids, not in the text);
- ``no_stop_trim``: the text keeps the stop string (or the EOS / stop token's text);
- ``skip_special_tokens``: special tokens are left out of the text.

Penalties and biases change what is *sampled*; the reported logprobs stay those of the raw
distribution (the ``ttc.runtime`` rule), as SGLang's ``return_logprob`` does by default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ttc.runtime import Completion, GenerateRequest, ScoreResult


@dataclass(frozen=True, slots=True)
class TokenControls:
    prompt_ids: tuple[int, ...] | None = None
    """The prompt as token ids, used exactly as given (``GenerateRequest.prompt`` is then
    only its text for logs)."""
    ignore_eos: bool = False
    min_new_tokens: int = 0
    stop_token_ids: tuple[int, ...] = ()
    logit_bias: tuple[tuple[int, float], ...] = ()
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    repetition_penalty: float = 1.0
    no_stop_trim: bool = False
    skip_special_tokens: bool = False
    ebnf: str | None = None
    """An EBNF grammar (Lark or GBNF) the sample must follow, as ``GenerateRequest.regex``
    and ``json_schema`` constrain one (SGLang's ``ebnf``; at most one of the three)."""

    @property
    def shapes_logits(self) -> bool:
        """Whether sampling sees other logits than the model's."""
        return bool(self.logit_bias or self.frequency_penalty or self.presence_penalty
                    or self.repetition_penalty != 1.0 or self.min_new_tokens)


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """One token of one sample, as soon as it is chosen (streaming)."""

    index: int
    """The sample (0 … n−1)."""
    token_id: int
    logprob: float
    text: str
    """The sample's text so far, as it would read if the sample ended here (an EOS or stop
    token left out, a stop string cut, special tokens skipped as asked)."""
    top_logprobs: tuple[tuple[int, float], ...] | None = None
    token_ids_logprobs: tuple[tuple[int, float], ...] | None = None
    finish_reason: str | None = None
    """Set on a sample's last token (``stop``, ``length``): its text is then final."""
    matched_stop: str | None = None


OnToken = Callable[[TokenEvent], None]
"""Called on the event loop's thread for every token, in order per sample."""


@runtime_checkable
class ControlledGeneration(Protocol):
    """Optional runtime feature: generation with ``TokenControls`` and per-token progress."""

    async def generate_controlled(
        self, request: GenerateRequest, controls: TokenControls | None = None,
        on_token: OnToken | None = None,
    ) -> list[Completion]:
        """``generate`` with the controls honoured; ``on_token`` sees each token as it is
        chosen. Cancelling the awaiting task aborts the request, as for ``generate``."""
        ...


@runtime_checkable
class TokenScoring(Protocol):
    """Optional runtime feature: teacher-forced statistics of token ids used as given."""

    async def score_tokens(
        self, prompt_ids: Sequence[int], continuation_ids: Sequence[int], *,
        top_logprobs: int = 0, token_ids_logprob: Sequence[int] = (),
    ) -> ScoreResult:
        """``score`` of ``continuation_ids`` after ``prompt_ids``, neither re-tokenised."""
        ...
