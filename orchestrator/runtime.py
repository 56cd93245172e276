"""The Runtime protocol: the only way a component reaches a model.

Prompts cross this boundary as *text* (rendered with the model's chat template by
``render``), so shared parts of prompts are literal prefixes that a prefix cache (the local
engine's radix tree, SGLang's RadixAttention) can reuse.

Statistics semantics, the same on every runtime:

- ``logprobs`` are log p(token) under the model's distribution from the raw logits, before
  temperature, top-p/top-k/min-p truncation or grammar masks;
- ``entropy`` is H(p) and ``kl_uniform`` is KL(uniform‖p) = logsumexp(z) − mean(z) − log V
  per position, both from the raw logits; a runtime that cannot compute them exactly leaves
  them ``None`` (never an approximation under the exact name).

Cancelling the task that awaits ``generate`` aborts the request (runtimes with
``Capability.CANCEL`` stop decoding at once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

TopLogprobs = tuple[tuple[tuple[int, float], ...], ...]
"""Per position, (token id, logprob) pairs, most likely first."""


class Capability(StrEnum):
    SAMPLES = "samples"
    """n samples of one prompt share one prefill."""
    LOGPROBS = "logprobs"
    TOP_LOGPROBS = "top_logprobs"
    FULL_DISTRIBUTION = "full_distribution"
    """Exact per-token entropy and KL(uniform‖p) from the full logits."""
    SCORE = "score"
    """Teacher-forced logprobs of a given continuation."""
    TOKEN_IDS_LOGPROB = "token_ids_logprob"
    PREFIX_CACHE = "prefix_cache"
    CONSTRAINED = "constrained"
    """Regex / JSON-schema constrained decoding."""
    CANCEL = "cancel"
    SEED = "seed"
    """Per-request seeds give reproducible samples."""
    TOKENIZE = "tokenize"
    """``tokenize`` gives the model's own token ids for any text (exact token counts, e.g. a
    fuser's ``length_control``). Part of the protocol, so offered unless the runtime type
    says otherwise (``tokenizes(options)``, see ``offered_capabilities``)."""


@dataclass(frozen=True, slots=True)
class SamplingParams:
    max_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    """0 disables top-k truncation."""
    min_p: float = 0.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    """Sample i of a request uses a seed derived from (seed, i): reproducible whatever else
    shares the batch."""


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    prompt: str
    params: SamplingParams = field(default_factory=SamplingParams)
    n: int = 1
    top_logprobs: int = 0
    """How many top logprobs to return per position (0: none)."""
    token_ids_logprob: tuple[int, ...] = ()
    """Token ids whose logprobs are returned at every position (e.g. Yes/No verdicts)."""
    regex: str | None = None
    json_schema: str | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    finish_reason: str
    """``stop`` (EOS or a stop string), ``length`` or ``abort``."""
    prompt_tokens: int
    cached_tokens: int = 0
    """Prompt tokens served from a prefix cache instead of computed."""
    top_logprobs: TopLogprobs | None = None
    token_ids_logprobs: TopLogprobs | None = None
    entropy: tuple[float, ...] | None = None
    kl_uniform: tuple[float, ...] | None = None
    matched_stop: str | None = None
    first_token_latency: float | None = None
    """Seconds from sending the request to this sample's first token, when the runtime
    streamed it (the ``stream`` option of the ``sglang`` and ``openai`` runtimes); None
    otherwise. Kept with the response in the run store; not part of any fingerprint."""

    @property
    def completion_tokens(self) -> int:
        return len(self.token_ids)


@dataclass(frozen=True, slots=True)
class ScoreRequest:
    """Teacher-forced statistics of ``continuation`` after ``prompt``.

    The result also describes the *next* position after the continuation, which is what a
    one-token verdict ("Yes"/"No") or reference-mode self-certainty needs.
    """

    prompt: str
    continuation: str = ""
    top_logprobs: int = 0
    token_ids_logprob: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class PositionStats:
    """The distribution at one position, summarised."""

    top_logprobs: tuple[tuple[int, float], ...] = ()
    token_ids_logprobs: tuple[tuple[int, float], ...] = ()
    entropy: float | None = None
    kl_uniform: float | None = None


@dataclass(frozen=True, slots=True)
class ScoreResult:
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    prompt_tokens: int
    cached_tokens: int = 0
    top_logprobs: TopLogprobs | None = None
    token_ids_logprobs: TopLogprobs | None = None
    entropy: tuple[float, ...] | None = None
    kl_uniform: tuple[float, ...] | None = None
    next_position: PositionStats = field(default_factory=PositionStats)


Message = Mapping[str, str]
"""A chat message: ``{"role": ..., "content": ...}``."""


@runtime_checkable
class Runtime(Protocol):
    """A model endpoint. Implementations live in plugins and are registered by name."""

    @property
    def name(self) -> str:
        """The runtime type's name (``local``, ``sglang``, …)."""
        ...

    @property
    def model(self) -> str: ...

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    @property
    def vocab_size(self) -> int | None: ...

    async def render(
        self, messages: Sequence[Message], *, add_generation_prompt: bool = True
    ) -> str:
        """Chat messages to the exact prompt text, with the model's own template."""
        ...

    async def tokenize(self, text: str) -> list[int]: ...

    async def generate(self, request: GenerateRequest) -> list[Completion]:
        """``request.n`` completions of one prompt, in sample order."""
        ...

    async def score(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Detokenizer(Protocol):
    """A runtime that turns token ids back into text (the local engine): what ``ttc serve``
    needs for token texts and the UI for per-token views. Optional; check with
    ``isinstance(runtime, Detokenizer)``."""

    async def detokenize(self, ids: Sequence[int]) -> str: ...


@runtime_checkable
class CacheFlusher(Protocol):
    """A runtime whose prefix cache can be emptied (the local engine, SGLang): benchmarks
    and ``ttc serve``'s ``/flush_cache``. Optional; check with ``isinstance``."""

    async def flush_cache(self) -> None: ...


class RuntimeCallError(Exception):
    """A model call failed. ``retryable`` tells the caller whether trying again may help;
    ``retry_after_s`` is how long the server asked to wait first (``Retry-After``), if it
    did. Runtimes make one attempt per call: the call gateway is the one retry layer."""

    def __init__(self, message: str, *, retryable: bool = False,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class RequestError(RuntimeCallError):
    """The request itself is invalid (prompt too long, bad parameter): never retried."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


RETRIES_MOVED = ("retries are set in one place, the run's limits: remove this option and "
                 "set  limits: {retries: N, retry_backoff_s: S}  (a runtime makes one "
                 "attempt per call; the call gateway retries)")
"""The fix for a runtime option that used to retry inside the runtime (``retired``)."""


class RuntimeOptions(BaseModel):
    """Base of a runtime type's ``options:``; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    retired: ClassVar[Mapping[str, str]] = MappingProxyType({})
    """Options this runtime no longer takes → the fix a recipe that sets one is given (an
    option whose meaning moved elsewhere is an error, never silently ignored)."""


class RuntimeType(Protocol):
    """What a plugin registers through ``ttc_register_runtimes``: a factory of runtimes."""

    name: ClassVar[str]
    Options: ClassVar[type[RuntimeOptions]]

    @classmethod
    def static_capabilities(cls, options: RuntimeOptions) -> frozenset[Capability]:
        """Capabilities known before the model loads, for recipe validation."""
        ...

    @classmethod
    def create(cls, model: str, options: RuntimeOptions) -> Runtime:
        """A ready runtime. May load weights; ``model`` may be empty for the default."""
        ...


@runtime_checkable
class TokenizingType(Protocol):
    """A runtime type that says from its options whether its runtimes can ``tokenize`` (a
    remote API without a local tokenizer folder cannot). Optional: a type without
    ``tokenizes`` offers ``TOKENIZE``. Checked on the class: ``isinstance(cls, ...)``."""

    def tokenizes(self, options: RuntimeOptions) -> bool: ...


def offered_capabilities(runtime_type: type[RuntimeType],
                         options: RuntimeOptions) -> frozenset[Capability]:
    """What a runtime type offers with ``options``, known before anything loads: its
    ``static_capabilities``, plus ``TOKENIZE`` unless the type says no (``TokenizingType``)."""
    offered = frozenset(runtime_type.static_capabilities(options))
    if not isinstance(runtime_type, TokenizingType) or runtime_type.tokenizes(options):
        offered |= {Capability.TOKENIZE}
    return offered
