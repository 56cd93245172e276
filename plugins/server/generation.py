"""One prompt's work, shared by the SGLang and the OpenAI endpoints.

Both APIs reduce a request to ``GenerationItem``s (one prompt, n samples) and run each with
``run_item``: tokenize (for the context check and prompt token ids), optionally score the
prompt (SGLang's prompt logprobs), then generate the n samples in one runtime call so they
share one prefill. ``max_new_tokens == 0`` is a prefill-only request: nothing is generated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ttc.plugins.server.errors import ApiError
from ttc.plugins.server.served_runtime import ServedRuntime
from ttc.runtime import (
    Completion,
    GenerateRequest,
    SamplingParams,
    ScoreRequest,
    ScoreResult,
)
from ttc.token_controls import ControlledGeneration, OnToken, TokenControls, TokenScoring


@dataclass(frozen=True, slots=True)
class GenerationItem:
    prompt: str
    n: int = 1
    max_new_tokens: int = 128
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    regex: str | None = None
    json_schema: str | None = None
    top_logprobs: int = 0
    token_ids_logprob: tuple[int, ...] = ()
    prompt_logprobs: bool = False
    """Score the prompt too (SGLang ``logprob_start_len >= 0``)."""
    controls: TokenControls | None = None
    """Token-level controls (token-id prompt, penalties, EOS handling); None: none asked."""


PositionTable = tuple[tuple[tuple[int, float], ...] | None, ...]


@dataclass(frozen=True, slots=True)
class PromptScore:
    """Per prompt token: its logprob given the tokens before it (None for the first)."""

    token_ids: tuple[int, ...]
    logprobs: tuple[float | None, ...]
    top_logprobs: PositionTable | None
    token_ids_logprobs: PositionTable | None
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ItemResult:
    item: GenerationItem
    prompt_ids: tuple[int, ...]
    completions: list[Completion]
    prompt_score: PromptScore | None = None
    token_texts: dict[int, str | None] = field(default_factory=dict)
    """Text of every token id the response mentions, when asked for and known."""


async def run_items(served: ServedRuntime, items: Sequence[GenerationItem]) -> list[ItemResult]:
    """Run every item concurrently; the first failure cancels the rest."""
    if len(items) == 1:
        return [await run_item(served, items[0])]
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(run_item(served, item)) for item in items]
    except ExceptionGroup as group_error:
        raise group_error.exceptions[0] from None  # one clear error, not a group
    return [task.result() for task in tasks]


async def run_item(
    served: ServedRuntime,
    item: GenerationItem,
    *,
    on_prompt: Callable[[tuple[int, ...], PromptScore | None], None] | None = None,
    on_token: OnToken | None = None,
) -> ItemResult:
    """One prompt's n samples; ``on_prompt`` hears of its token ids (and score) before the
    generation starts, ``on_token`` of every token (when the runtime reports tokens)."""
    runtime = served.runtime
    controls = item.controls
    exact_ids = controls.prompt_ids if controls is not None else None
    if exact_ids is not None:
        prompt_ids = tuple(exact_ids)
    else:
        check_prompt_chars(served, len(item.prompt))
        prompt_ids = tuple(await runtime.tokenize(item.prompt))
    check_context(served, len(prompt_ids), item.max_new_tokens)
    score = None
    if item.prompt_logprobs and prompt_ids:
        # Scored first, so that the generation below finds the prompt in the prefix cache.
        score = await score_prompt(served, item, prompt_ids)
        if exact_ids is None:
            prompt_ids = score.token_ids
    if on_prompt is not None:
        on_prompt(prompt_ids, score)
    if item.max_new_tokens == 0:
        cached = score.cached_tokens if score else 0
        empty = Completion("", (), (), "length", len(prompt_ids), cached_tokens=cached)
        completions = [empty] * item.n
    else:
        request = GenerateRequest(
            prompt=item.prompt,
            params=SamplingParams(
                max_tokens=item.max_new_tokens,
                temperature=item.temperature,
                top_p=item.top_p,
                top_k=item.top_k,
                min_p=item.min_p,
                stop=item.stop,
                seed=item.seed,
            ),
            n=item.n,
            top_logprobs=item.top_logprobs,
            token_ids_logprob=item.token_ids_logprob,
            regex=item.regex,
            json_schema=item.json_schema,
        )
        if (controls is not None or on_token is not None) and isinstance(
                runtime, ControlledGeneration):
            completions = await runtime.generate_controlled(request, controls, on_token)
        elif controls is not None:
            raise ApiError(f"runtime {runtime.name!r} has no token-level controls", 400)
        else:
            completions = await runtime.generate(request)
        if len(completions) != item.n:
            raise ApiError(
                f"the runtime returned {len(completions)} samples for n={item.n}", 500
            )
    return ItemResult(item, prompt_ids, completions, score)


async def score_prompt(
    served: ServedRuntime, item: GenerationItem, prompt_ids: tuple[int, ...]
) -> PromptScore:
    """The prompt's own logprobs: its ids after the first one (whose logprob nobody can
    compute; SGLang reports it as null), through the runtime's ``score_tokens`` when it has
    one (exact ids), else through ``Runtime.score`` on text.

    ``score`` conditions a continuation on a non-empty prompt, so the prompt text is split
    after its first token at a place where the two halves tokenize to the same ids as the
    whole.
    """
    if isinstance(served.runtime, TokenScoring):
        if len(prompt_ids) == 1:
            return PromptScore(prompt_ids, (None,), (None,), (None,))
        scored = await served.runtime.score_tokens(
            prompt_ids[:1], prompt_ids[1:], top_logprobs=item.top_logprobs,
            token_ids_logprob=item.token_ids_logprob)
        return _prompt_score(prompt_ids[:1], scored)
    first, rest = await _split_after_first_token(served, item.prompt, prompt_ids)
    if not rest:
        return PromptScore(prompt_ids[:1], (None,), (None,), (None,))
    (result,) = await served.runtime.score(
        [
            ScoreRequest(
                prompt=first,
                continuation=rest,
                top_logprobs=item.top_logprobs,
                token_ids_logprob=item.token_ids_logprob,
            )
        ]
    )
    head = tuple(await served.runtime.tokenize(first)) or prompt_ids[:1]
    return _prompt_score(head, result)


def _prompt_score(head: tuple[int, ...], result: ScoreResult) -> PromptScore:
    ids = head + tuple(result.token_ids)
    none_head: tuple[None, ...] = (None,) * len(head)
    return PromptScore(
        token_ids=ids,
        logprobs=none_head + tuple(result.logprobs),
        top_logprobs=(none_head + tuple(result.top_logprobs))
        if result.top_logprobs is not None
        else None,
        token_ids_logprobs=(none_head + tuple(result.token_ids_logprobs))
        if result.token_ids_logprobs is not None
        else None,
        cached_tokens=result.cached_tokens,
    )


async def _split_after_first_token(
    served: ServedRuntime, text: str, ids: tuple[int, ...]
) -> tuple[str, str]:
    tokenize = served.runtime.tokenize
    fallback = None
    for cut in range(1, min(len(text), 64) + 1):
        if await tokenize(text[:cut]) != list(ids[:1]):
            continue
        if fallback is None:
            fallback = cut
        if await tokenize(text[cut:]) == list(ids[1:]):
            return text[:cut], text[cut:]
    cut = fallback or 1
    return text[:cut], text[cut:]


def check_prompt_chars(served: ServedRuntime, characters: int, param: str | None = None) -> None:
    """Refuse a text too long for the context before anything tokenises it."""
    limit = served.max_prompt_chars
    if limit is not None and characters > limit:
        raise ApiError(
            f"The input ({characters} characters) is longer than the model's context length "
            f"({served.context_length} tokens) can hold: at most {limit} characters.",
            param=param)


def check_token_ids(served: ServedRuntime, ids: Sequence[int], param: str) -> None:
    """Token ids the runtime knows: within the vocabulary, or a sane range when its size is
    unknown (a detokenizer drops unknown ids silently, or fails on one past 2⁶³)."""
    vocab = served.vocab_size
    upper = vocab if vocab is not None else 2**31
    bad = [t for t in ids if not 0 <= t < upper]
    if bad:
        raise ApiError(f"{param} must be token ids in [0, {upper - 1}]; got {bad[:5]}",
                       param=param)


def check_context(served: ServedRuntime, prompt_tokens: int, max_new_tokens: int) -> None:
    """SGLang's rule: the prompt plus the new tokens must fit the context."""
    context = served.context_length
    if context is None:
        return
    if prompt_tokens >= context:
        raise ApiError(
            f"The input ({prompt_tokens} tokens) is longer than the model's context length "
            f"({context} tokens)."
        )
    if prompt_tokens + max_new_tokens > context:
        raise ApiError(
            f"Requested token count exceeds the model's maximum context length of {context} "
            f"tokens. You requested a total of {prompt_tokens + max_new_tokens} tokens: "
            f"{prompt_tokens} tokens from the input and {max_new_tokens} tokens for the "
            "completion. Please reduce the number of tokens in the input or the completion."
        )


def matched_stop(completion: Completion, served: ServedRuntime) -> str | int | None:
    """What ended a sample (SGLang's ``matched`` / ``matched_stop``): its stop string, else
    for a ``stop`` the token that ended it (EOS or a stop token id; the runtime's EOS id when
    its tokens cannot say); None for ``length`` and ``abort``."""
    if completion.finish_reason != "stop":
        return None
    if completion.matched_stop is not None:
        return completion.matched_stop
    if served.eos_token_id is not None and completion.token_ids:
        return completion.token_ids[-1]
    return served.eos_token_id


def remaining_context(served: ServedRuntime, default: int) -> int:
    """The default number of new tokens, never more than the context could hold."""
    if served.context_length is None:
        return default
    return min(default, served.context_length - 1)


async def attach_token_texts(served: ServedRuntime, result: ItemResult) -> ItemResult:
    """Fill ``token_texts`` for every id in the result (for ``return_text_in_logprobs``)."""
    ids: set[int] = set(result.prompt_ids)
    for completion in result.completions:
        ids.update(completion.token_ids)
        for table in (completion.top_logprobs, completion.token_ids_logprobs):
            for position in table or ():
                ids.update(token for token, _ in position)
    score = result.prompt_score
    if score is not None:
        for score_table in (score.top_logprobs, score.token_ids_logprobs):
            for score_position in score_table or ():
                ids.update(token for token, _ in score_position or ())
    ordered = sorted(ids)
    texts = await served.token_texts(ordered)
    return ItemResult(
        result.item, result.prompt_ids, result.completions, result.prompt_score,
        dict(zip(ordered, texts, strict=True)),
    )
