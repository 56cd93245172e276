"""The ``local`` runtime: the Runtime protocol over one shared in-process engine.

Runtimes created for the same (resolved model folder, dtype, quantize, linear) share one engine,
so tests, the UI and ``ttc serve`` load the weights once per process. Engine-wide settings
(``max_batch``, ``prefix_cache_tokens``, ``threads``, ``prefill_chunk_tokens``) come from the
first runtime created for that engine; ``max_n`` is checked per runtime.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import importlib.util
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from ttc.extras import require
from ttc.runtime import (
    Capability,
    Completion,
    GenerateRequest,
    Message,
    RequestError,
    RuntimeCallError,
    RuntimeOptions,
    ScoreRequest,
    ScoreResult,
)
from ttc.token_controls import OnToken, TokenControls, TokenEvent

from .model_files import prepare_model_folder

logger = logging.getLogger(__name__)

BASE_CAPABILITIES = frozenset({
    Capability.SAMPLES, Capability.LOGPROBS, Capability.TOP_LOGPROBS,
    Capability.FULL_DISTRIBUTION, Capability.SCORE, Capability.TOKEN_IDS_LOGPROB,
    Capability.PREFIX_CACHE, Capability.CANCEL, Capability.SEED,
})
CAPABILITIES = BASE_CAPABILITIES | (
    {Capability.CONSTRAINED} if importlib.util.find_spec("llguidance") is not None else set())
"""CONSTRAINED (regex, JSON schema, EBNF) when the llguidance package is installed."""
MAX_TOP_LOGPROBS = 100
_SURROGATE = re.compile("[\ud800-\udfff]")


class LocalOptions(RuntimeOptions):
    dtype: Literal["float32", "bfloat16"] = "float32"
    quantize: Literal["none", "int8"] = "none"
    """``int8``: dynamically quantised Linear weights (faster, slightly different logprobs)."""
    linear: Literal["auto", "onednn", "torch"] = "auto"
    """Matrix kernel: ``onednn`` (weights reordered once into oneDNN's layout; 2.2–2.5× the
    decode throughput of ``torch`` here), ``torch`` (``F.linear``, transformers' own
    arithmetic), ``auto`` (oneDNN when this torch build and CPU can run it). Both are fp32."""
    max_batch: int = Field(64, ge=1)
    """Most sequences decoded together; more wait for a free row."""
    prefix_cache_tokens: int = Field(8192, ge=0)
    """Most prompt tokens whose KV the prefix cache keeps (0 disables it)."""
    prefill_chunk_tokens: int = Field(256, ge=16)
    """Most prompt tokens prefilled between two decode steps: a long prompt is prefilled in
    chunks, so other rows keep decoding and a cancelled request stops within one chunk. 256
    prefills as many tokens per second as 512 or 1,024 here, with half the pause of 512."""
    threads: int = Field(0, ge=0)
    """torch threads of the engine; 0 uses ``TTC_LOCAL_THREADS`` when it is set (a machine
    shared with other busy processes), else every core. Other threads of the process get one
    torch thread (two OpenMP teams on the same cores slow each other down)."""
    max_n: int = Field(256, ge=1)
    """Largest ``n`` a generate request may ask for."""


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """One engine and what the runtimes built on it need to know."""

    engine: Any
    model_path: str
    tokenizer_path: str
    vocab_size: int
    context_length: int
    eos_token_id: int | None


_engines: dict[tuple[str, ...], LoadedModel] = {}
_engines_lock = threading.Lock()


def load_engine(model: str, options: LocalOptions) -> LoadedModel:
    """The process-wide engine for this model folder, dtype and quantisation."""
    require("local", "the local runtime")
    folder = prepare_model_folder(model)
    key = (str(folder.path), options.dtype, options.quantize, options.linear)
    with _engines_lock:
        if key not in _engines:
            if not _engines:
                atexit.register(_close_engines)
            _engines[key] = _build_engine(str(folder.path), options)
        return _engines[key]


def _close_engines() -> None:
    """Stop the engine threads before the interpreter tears down torch: a daemon thread
    still holding an OpenMP team at exit sometimes aborted the process ("terminate called
    without an active exception", exit code 134)."""
    with _engines_lock:
        for loaded in _engines.values():
            loaded.engine.close()
        _engines.clear()


def _build_engine(path: str, options: LocalOptions) -> LoadedModel:
    import torch

    from ..folder_tokenizer import load_tokenizer
    from .decoder import Decoder, UnsupportedModelError
    from .engine import Engine

    def load_decoder() -> Decoder:
        return Decoder.load(Path(path), dtype=getattr(torch, options.dtype),
                            quantize=options.quantize, kernel=options.linear)

    try:
        tokenizer = load_tokenizer(path)
        eos = frozenset() if tokenizer.eos_token_id is None else frozenset(
            {tokenizer.eos_token_id})
        engine = Engine(load_decoder, tokenizer, extra_eos_ids=eos,
                        max_batch=options.max_batch,
                        prefix_cache_tokens=options.prefix_cache_tokens, threads=options.threads,
                        prefill_chunk=options.prefill_chunk_tokens)
    except UnsupportedModelError as error:
        raise RuntimeCallError(str(error)) from error
    except Exception as error:
        raise RuntimeCallError(f"cannot load model from {path}: {error}") from error
    decoder = engine.decoder
    logger.info("local engine ready: %s (%s, quantize=%s, kernel=%s)", path, options.dtype,
                options.quantize, decoder.kernel)
    primary_eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else (
        min(engine.eos_ids) if engine.eos_ids else None)
    return LoadedModel(engine, path, path, decoder.vocab_size, decoder.context_length,
                       primary_eos)


class LocalRuntime:
    """In-process CPU inference with exact per-token statistics (see docs/local-engine.md)."""

    name: ClassVar[str] = "local"
    Options: ClassVar[type[RuntimeOptions]] = LocalOptions

    def __init__(self, model: str, options: LocalOptions, loaded: LoadedModel) -> None:
        self.model = model or "smollm2-135m"
        self.options = options
        self.capabilities = CAPABILITIES
        self.vocab_size: int | None = loaded.vocab_size
        self.context_length = loaded.context_length
        self.model_path = loaded.model_path
        self.tokenizer_path = loaded.tokenizer_path
        self.eos_token_id = loaded.eos_token_id
        """The main end-of-sequence id (generation also stops at the config's other EOS ids)."""
        self.engine = loaded.engine

    @functools.cached_property
    def max_token_chars(self) -> int:
        """The most characters one token can stand for (its longest vocabulary entry; for
        byte-level vocabularies an entry's length counts bytes, at least its characters).
        A text longer than ``context_length × max_token_chars`` cannot fit the context, so it
        is refused before tokenising it (tokenising 5 MB took seconds and holds the GIL).
        Assumes a tokenizer whose normaliser never shortens text, as byte-level BPE and
        sentencepiece's replace/prepend do not."""
        tokenizer = self.engine.tokenizer
        entries = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        return max((len(entry) for entry in entries if entry), default=1)

    @classmethod
    def static_capabilities(cls, options: RuntimeOptions) -> frozenset[Capability]:
        return CAPABILITIES

    @classmethod
    def create(cls, model: str, options: RuntimeOptions) -> LocalRuntime:
        local = options if isinstance(options, LocalOptions) else LocalOptions.model_validate(
            options.model_dump())
        return cls(model, local, load_engine(model, local))

    # --- Runtime protocol ----------------------------------------------------------------

    async def render(self, messages: Sequence[Message], *, add_generation_prompt: bool = True
                     ) -> str:
        return self.engine.tokenizer.render(
            [dict(m) for m in messages], add_generation_prompt=add_generation_prompt)

    async def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` as the engine sees it: no special tokens are added."""
        return self._encode(text)

    async def detokenize(self, ids: Sequence[int]) -> str:
        """Token ids back to text, special tokens kept (as ``Completion.text`` is built)."""
        vocab = self.vocab_size or 0
        bad = [t for t in ids if not 0 <= t < vocab]
        if bad:
            raise RequestError(f"token ids {bad[:5]} are outside the vocabulary [0, {vocab})")
        return self.engine.tokenizer.decode(list(ids))

    async def generate(self, request: GenerateRequest) -> list[Completion]:
        return await self.generate_controlled(request)

    async def generate_controlled(self, request: GenerateRequest,
                                  controls: TokenControls | None = None,
                                  on_token: OnToken | None = None) -> list[Completion]:
        """``generate`` with ``TokenControls`` (token-id prompts, penalties, biases, EOS
        handling) and ``on_token`` called on this event loop for every token chosen."""
        controls = controls or TokenControls()
        if controls.prompt_ids is not None:
            prompt_ids = list(controls.prompt_ids)
            self._check_token_ids(prompt_ids, "the prompt's token ids")
        else:
            prompt_ids = self._encode_prompt(request.prompt, "the prompt")
        self._check_generate(request, prompt_ids)
        self._check_controls(controls)
        grammar = self._grammar(request, controls)
        relay = None
        if on_token is not None:
            loop = asyncio.get_running_loop()
            listener = on_token

            def relay(event: TokenEvent) -> None:
                loop.call_soon_threadsafe(listener, event)

        future = self.engine.submit_generate(request, prompt_ids, controls=controls,
                                             on_token=relay, grammar=grammar)
        return await asyncio.wrap_future(future)

    async def score(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
        """Teacher-forced statistics; prompt and continuation are tokenised separately.

        The ids are ``tokenize(prompt) + tokenize(continuation)``, exactly what generation
        produces when it samples the continuation's tokens after that prompt, so a score of
        generated tokens equals their generation logprobs.
        """
        from .prefill import ScoreInput

        inputs = []
        for request in requests:
            prompt_ids = self._encode_prompt(request.prompt, "score: the prompt")
            if not prompt_ids:
                raise RequestError("score: the prompt is empty (it needs at least one token)")
            continuation = tuple(self._encode_prompt(request.continuation,
                                                     "score: the continuation"))
            self._check_length(len(prompt_ids) + len(continuation) + 1, "prompt + continuation")
            self._check_stats(request.top_logprobs, request.token_ids_logprob)
            inputs.append(ScoreInput(tuple(prompt_ids), continuation, request.top_logprobs,
                                     tuple(request.token_ids_logprob)))
        if not inputs:
            return []
        return await asyncio.wrap_future(self.engine.submit_score(inputs))

    async def score_tokens(self, prompt_ids: Sequence[int], continuation_ids: Sequence[int], *,
                           top_logprobs: int = 0, token_ids_logprob: Sequence[int] = ()
                           ) -> ScoreResult:
        """``score`` of token ids used exactly as given (no tokenising)."""
        from .prefill import ScoreInput

        if not prompt_ids:
            raise RequestError("score: the prompt is empty (it needs at least one token)")
        self._check_token_ids([*prompt_ids, *continuation_ids], "score: token ids")
        self._check_length(len(prompt_ids) + len(continuation_ids) + 1, "prompt + continuation")
        self._check_stats(top_logprobs, token_ids_logprob)
        inputs = [ScoreInput(tuple(prompt_ids), tuple(continuation_ids), top_logprobs,
                             tuple(token_ids_logprob))]
        (result,) = await asyncio.wrap_future(self.engine.submit_score(inputs))
        return result

    @property
    def max_total_tokens(self) -> int:
        """The most tokens the running batch holds at once (SGLang's
        ``max_total_num_tokens``): ``max_batch`` rows of the whole context."""
        return self.engine.max_batch * self.context_length

    async def flush_cache(self) -> None:
        """Forget every cached prefix (e.g. between benchmark runs)."""
        await asyncio.wrap_future(self.engine.submit_flush())

    async def aclose(self) -> None:
        """Nothing to release per runtime: the engine is shared for the process lifetime."""

    # --- helpers -------------------------------------------------------------------------

    def _encode(self, text: str) -> list[int]:
        if _SURROGATE.search(text):
            raise RequestError("the text holds a lone surrogate (an unpaired \\ud800-\\udfff "
                               "code point), which is not valid Unicode")
        return self.engine.tokenizer.encode(text)

    def _encode_prompt(self, text: str, what: str) -> list[int]:
        """Ids of a prompt, refusing one that cannot fit before spending time tokenising it."""
        limit = self.context_length * self.max_token_chars
        if len(text) > limit:
            raise RequestError(
                f"{what} has {len(text)} characters, more than the context window of "
                f"{self.model} ({self.context_length} tokens of at most {self.max_token_chars} "
                f"characters) can hold; shorten it")
        return self._encode(text)

    def _check_length(self, tokens: int, what: str) -> None:
        if tokens > self.context_length:
            raise RequestError(
                f"{what} needs {tokens} tokens but the context window of {self.model} is "
                f"{self.context_length}; shorten it")

    def _grammar(self, request: GenerateRequest, controls: TokenControls) -> Any:
        """The request's grammar compiled (None when it has none); see ``grammar.py``."""
        given = {name: text for name, text in (("regex", request.regex),
                                               ("json_schema", request.json_schema),
                                               ("ebnf", controls.ebnf)) if text is not None}
        if not given:
            return None
        if len(given) > 1:
            raise RequestError(f"only one of regex, json_schema and ebnf may be set, got "
                               f"{', '.join(given)}")
        if controls.ignore_eos:
            raise RequestError("ignore_eos cannot be combined with a grammar (a complete "
                               "grammar allows only EOS)")
        ((field, text),) = given.items()
        return self.engine.grammars.compile(field, text)

    def _check_token_ids(self, ids: Sequence[int], what: str) -> None:
        vocab = self.vocab_size or 0
        bad = [t for t in ids if not 0 <= t < vocab]
        if bad:
            raise RequestError(f"{what} {bad[:5]} are outside the vocabulary [0, {vocab})")

    def _check_controls(self, controls: TokenControls) -> None:
        self._check_token_ids(controls.stop_token_ids, "stop_token_ids")
        self._check_token_ids([t for t, _ in controls.logit_bias], "logit_bias")
        problems = []
        if controls.min_new_tokens < 0:
            problems.append(f"min_new_tokens must be ≥ 0, got {controls.min_new_tokens}")
        if controls.repetition_penalty <= 0:
            problems.append(f"repetition_penalty must be > 0, got {controls.repetition_penalty}")
        if problems:
            raise RequestError("invalid generate request: " + "; ".join(problems))

    def _check_stats(self, top: int, token_ids: Sequence[int]) -> None:
        if not 0 <= top <= MAX_TOP_LOGPROBS:
            raise RequestError(f"top_logprobs must be in [0, {MAX_TOP_LOGPROBS}], got {top}")
        vocab = self.vocab_size or 0
        bad = [t for t in token_ids if not 0 <= t < vocab]
        if bad:
            raise RequestError(f"token_ids_logprob {bad} are outside the vocabulary [0, {vocab})")

    def _check_generate(self, request: GenerateRequest, prompt_ids: list[int]) -> None:
        params = request.params
        max_n = self.options.max_n
        problems = []
        if not prompt_ids:
            problems.append("the prompt is empty")
        if not 1 <= request.n <= max_n:
            problems.append(f"n must be in [1, {max_n}], got {request.n}")
        if params.max_tokens < 1:
            problems.append(f"max_tokens must be ≥ 1, got {params.max_tokens}")
        if params.temperature < 0:
            problems.append(f"temperature must be ≥ 0, got {params.temperature}")
        if not 0 < params.top_p <= 1:
            problems.append(f"top_p must be in (0, 1], got {params.top_p}")
        if params.top_k < 0:
            problems.append(f"top_k must be ≥ 0 (0 disables it), got {params.top_k}")
        if not 0 <= params.min_p <= 1:
            problems.append(f"min_p must be in [0, 1], got {params.min_p}")
        if any(not stop for stop in params.stop):
            problems.append("stop strings must not be empty")
        if problems:
            raise RequestError("invalid generate request: " + "; ".join(problems))
        self._check_length(len(prompt_ids) + 1, "the prompt")
        self._check_stats(request.top_logprobs, request.token_ids_logprob)
