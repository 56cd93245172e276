"""SGLang's native ``/generate`` protocol: the request, its translation, the response.

Field names, defaults, validation messages and response shapes follow SGLang's source:

- ``python/sglang/srt/managers/io_struct.py`` (``GenerateReqInput``): ``text`` or
  ``input_ids``, single or batch; ``sampling_params.n > 1`` turns a single request into a
  batch, and the outputs are ordered text-major (all n samples of text 0, then text 1, …), as
  ``TokenizerManager._handle_batch_request`` sends them;
- ``python/sglang/srt/sampling/sampling_params.py`` (``SamplingParams.verify``);
- ``python/sglang/srt/managers/tokenizer_manager.py`` (``_handle_batch_output``,
  ``add_logprob_to_meta_info``): ``{"text", "output_ids", "meta_info"}``; logprob entries are
  ``[logprob, token_id, text_or_null]``; a top-k position with nothing in it is ``null``;
- ``python/sglang/srt/managers/scheduler_output_processor_mixin.py``: prompt logprobs cover
  ``input_ids[logprob_start_len:]`` and the first entry is always ``null``; the default
  ``logprob_start_len = -1`` means "from the last prompt token", so one ``null`` entry;
- ``python/sglang/srt/managers/schedule_batch.py`` (``FINISH_*.to_json``): finish reasons
  ``{"type": "stop", "matched": str | token_id}``, ``{"type": "length", "length": N}``,
  ``{"type": "abort", "message": ...}``.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ttc.plugins.server.errors import ApiError, from_validation_error
from ttc.plugins.server.generation import (
    GenerationItem,
    ItemResult,
    check_context,
    check_prompt_chars,
    check_token_ids,
    matched_stop,
)
from ttc.plugins.server.sampling_controls import NEUTRAL as CONTROLS
from ttc.plugins.server.sampling_controls import check_grammar, token_controls
from ttc.plugins.server.served_runtime import ServedRuntime
from ttc.runtime import Capability, Completion
from ttc.token_controls import TokenControls

LogprobEntry = list[Any]
"""``[logprob | None, token_id, text | None]``."""


class SamplingParamsInput(BaseModel):
    """SGLang's ``sampling_params``; unknown keys are errors, as in SGLang. Strict types: a
    number is never read from a string, nor an integer from a boolean."""

    model_config = ConfigDict(extra="forbid", strict=True)

    max_new_tokens: int | None = 128
    stop: str | list[str] | None = None
    temperature: float | None = 1.0
    top_p: float | None = 1.0
    top_k: int | None = -1
    min_p: float | None = 0.0
    n: int | None = 1
    sampling_seed: int | None = None
    regex: str | None = None
    json_schema: str | None = None
    # Token-level controls (``sampling_controls``): honoured by a runtime that has them.
    frequency_penalty: float | None = 0.0
    presence_penalty: float | None = 0.0
    repetition_penalty: float | None = 1.0
    min_new_tokens: int | None = 0
    ignore_eos: bool | None = False
    no_stop_trim: bool | None = False
    stop_token_ids: list[int] | None = None
    logit_bias: dict[str, float] | None = None
    skip_special_tokens: bool | None = True
    # Refused unless neutral: no runtime of ttc has them.
    stop_regex: str | list[str] | None = None
    ebnf: str | None = None
    structural_tag: str | None = None
    spaces_between_special_tokens: bool | None = True
    custom_params: dict[str, Any] | None = None
    # How often a stream sends a chunk: ttc sends one per token, which any interval allows.
    stream_interval: int | None = None


NEUTRAL: dict[str, tuple[object, ...]] = {
    "stop_regex": (None, [], ""),
    "structural_tag": (None,),
    "spaces_between_special_tokens": (None, True),
    "custom_params": (None, {}),
}


class GenerateReqInput(BaseModel):
    """SGLang's ``GenerateReqInput``, the fields a text runtime can honour.

    Unknown top-level fields are ignored (a router adds its own, e.g. ``routed_dp_rank``);
    known fields of the wrong type are errors (strict: no coercion from strings or booleans).
    """

    model_config = ConfigDict(extra="ignore", strict=True)

    text: str | list[str] | None = None
    input_ids: list[int] | list[list[int]] | None = None
    sampling_params: dict[str, Any] | list[dict[str, Any]] | None = None
    return_logprob: bool | list[bool] | None = None
    logprob_start_len: int | list[int] | None = None
    top_logprobs_num: int | list[int] | None = None
    token_ids_logprob: list[int] | list[list[int]] | None = None
    return_text_in_logprobs: bool = False
    stream: bool = False
    rid: str | list[str] | None = None
    input_embeds: Any = None
    image_data: Any = None
    video_data: Any = None
    audio_data: Any = None
    lora_path: Any = None


class LogprobOptions(BaseModel):
    """The logprob part of one text's request, after normalisation."""

    model_config = ConfigDict(frozen=True)

    return_logprob: bool = False
    logprob_start_len: int = -1
    top_logprobs_num: int = 0
    token_ids_logprob: tuple[int, ...] | None = None
    return_text: bool = False


@dataclass(frozen=True, slots=True)
class NormalizedGenerate:
    items: list[GenerationItem]
    logprobs: list[LogprobOptions]
    is_single: bool
    rids: list[str | None]


def parse_generate(body: Any) -> GenerateReqInput:
    if not isinstance(body, dict):
        raise ApiError("the request body must be a JSON object")
    try:
        return GenerateReqInput.model_validate(body)
    except ValidationError as error:
        raise from_validation_error(error) from None


async def normalize(request: GenerateReqInput, served: ServedRuntime) -> NormalizedGenerate:
    """Per-text items, the way SGLang's ``normalize_batch_and_arguments`` expands them."""
    for name in ("input_embeds", "image_data", "video_data", "audio_data", "lora_path"):
        if getattr(request, name) not in (None, [], ""):
            raise ApiError(f"{name} is not supported by this server (text models only)")
    prompts, exact_ids, is_single = await _prompts(request, served)
    limits = served.limits
    if len(prompts) > limits.max_batch:
        raise ApiError(f"a batch holds at most {limits.max_batch} texts, got {len(prompts)}")
    batch = len(prompts)
    sampling = _per_text(request.sampling_params, batch, "sampling_params")
    params = [_sampling(raw or {}, served) for raw in sampling]
    n = params[0][1]
    if any(p[1] != n for p in params):
        raise ApiError(
            "The parallel_sample_num should be the same for all samples in sample params."
        )
    return_logprob = _per_text(request.return_logprob, batch, "return_logprob")
    start_len = _per_text(request.logprob_start_len, batch, "logprob_start_len")
    top_num = _per_text(request.top_logprobs_num, batch, "top_logprobs_num")
    token_ids = _token_ids_per_text(request.token_ids_logprob, batch)
    items, options = [], []
    for i, prompt in enumerate(prompts):
        sampling_item = dict(params[i][0])
        opts = LogprobOptions(
            return_logprob=bool(return_logprob[i]),
            logprob_start_len=-1 if start_len[i] is None else start_len[i],
            top_logprobs_num=top_num[i] or 0,
            token_ids_logprob=tuple(token_ids[i]) if token_ids[i] else None,
            return_text=request.return_text_in_logprobs,
        )
        _check_logprob_options(opts, served)
        wanted = opts.return_logprob
        controls = sampling_item.pop("controls")
        if exact_ids[i] is not None:
            controls = replace(controls or TokenControls(), prompt_ids=exact_ids[i])
        items.append(
            GenerationItem(
                prompt=prompt,
                n=n,
                top_logprobs=opts.top_logprobs_num if wanted else 0,
                token_ids_logprob=(opts.token_ids_logprob or ()) if wanted else (),
                prompt_logprobs=wanted and opts.logprob_start_len >= 0,
                controls=controls,
                **sampling_item,
            )
        )
        options.append(opts)
    is_single = is_single and n == 1
    return NormalizedGenerate(
        items=items, logprobs=options, is_single=is_single, rids=_rids(request.rid, batch, n)
    )


async def _prompts(request: GenerateReqInput, served: ServedRuntime
                   ) -> tuple[list[str], list[tuple[int, ...] | None], bool]:
    """The texts, the token ids to use exactly (``input_ids`` on a runtime with token
    controls; others get the ids' text), and whether the request was a single one."""
    if request.text is not None and request.input_ids is not None:
        raise ApiError("Either text or input_ids should be provided, not both.")
    if request.text is not None:
        texts = [request.text] if isinstance(request.text, str) else list(request.text)
        if not texts:
            raise ApiError("text cannot be an empty list.")
        for text in texts:
            check_prompt_chars(served, len(text), "text")
        return texts, [None] * len(texts), isinstance(request.text, str)
    if request.input_ids is None:
        raise ApiError("Either text, input_ids or input_embeds should be provided.")
    if len(request.input_ids) == 0:
        raise ApiError("input_ids cannot be empty.")
    if not served.can_control and not served.can_detokenize:
        raise ApiError(
            f"input_ids need a runtime with token controls or one that can detokenize; "
            f"runtime {served.runtime.name!r} has neither: send text instead", param="input_ids"
        )
    batch = request.input_ids if isinstance(request.input_ids[0], list) else [request.input_ids]
    if len(batch) > served.limits.max_batch:
        raise ApiError(f"a batch holds at most {served.limits.max_batch} texts, got {len(batch)}")
    prompts: list[str] = []
    exact: list[tuple[int, ...] | None] = []
    for ids in batch:
        assert isinstance(ids, list)
        if not ids:
            raise ApiError("input_ids cannot be empty.", param="input_ids")
        check_token_ids(served, ids, "input_ids")
        check_context(served, len(ids), 0)  # before detokenizing a list that cannot fit
        if served.can_control:
            prompts.append("")
            exact.append(tuple(ids))
        else:
            prompts.append(await served.detokenize(ids))
            exact.append(None)
    return prompts, exact, not isinstance(request.input_ids[0], list)


def _per_text(value: Any, batch: int, name: str) -> list[Any]:
    """A value for every text: one value shared, or a list with one per text."""
    if isinstance(value, list):
        if len(value) != batch:
            raise ApiError(f"{name} has {len(value)} entries for a batch of {batch} texts")
        return list(value)
    return [value] * batch


def _token_ids_per_text(value: list[int] | list[list[int]] | None, batch: int) -> list[list[int]]:
    if not value:
        return [[]] * batch
    if isinstance(value[0], list):
        if len(value) != batch:
            raise ApiError(
                f"token_ids_logprob has {len(value)} lists for a batch of {batch} texts"
            )
        return [list(v) for v in value]
    return [list(value)] * batch


def _sampling(raw: dict[str, Any], served: ServedRuntime) -> tuple[dict[str, Any], int]:
    """SGLang's ``SamplingParams`` checks, then the GenerationItem fields they map to."""
    try:
        params = SamplingParamsInput.model_validate(raw)
    except ValidationError as error:
        raise from_validation_error(error, "sampling_params.") from None
    for name, neutral in NEUTRAL.items():
        if getattr(params, name) not in neutral:
            raise ApiError(
                f"sampling_params.{name} is not supported by this server (runtime "
                f"{served.runtime.name!r}); leave it at its default",
                param=f"sampling_params.{name}")
    temperature = 1.0 if params.temperature is None else params.temperature
    top_p = 1.0 if params.top_p is None else params.top_p
    top_k = -1 if params.top_k is None else params.top_k
    min_p = 0.0 if params.min_p is None else params.min_p
    n = 1 if params.n is None else params.n
    if not math.isfinite(temperature) or temperature < 0.0:
        raise ApiError(f"temperature must be a non-negative finite number, got {temperature}.",
                       param="sampling_params.temperature")
    if not 0.0 < top_p <= 1.0:
        raise ApiError(f"top_p must be in (0, 1], got {top_p}.", param="sampling_params.top_p")
    if not 0.0 <= min_p <= 1.0:
        raise ApiError(f"min_p must be in [0, 1], got {min_p}.", param="sampling_params.min_p")
    if top_k < 1 and top_k != -1:
        raise ApiError(f"top_k must be -1 (disable) or at least 1, got {top_k}.",
                       param="sampling_params.top_k")
    limit = served.limits.max_n
    if not 1 <= n <= limit:
        raise ApiError(f"n must be between 1 and {limit}, got {n}.", param="sampling_params.n")
    max_new = params.max_new_tokens
    if max_new is None:
        max_new = (served.context_length or served.limits.default_max_new_tokens + 1) - 1
    if max_new < 0:
        raise ApiError(f"max_new_tokens must be at least 0, got {max_new}.",
                       param="sampling_params.max_new_tokens")
    grammar = {"regex": params.regex, "json_schema": params.json_schema, "ebnf": params.ebnf}
    check_grammar(served, grammar, {k: f"sampling_params.{k}" for k in grammar})
    controls = token_controls(served, params.model_dump(include=set(CONTROL_NAMES)),
                              max_new_tokens=max_new, names=CONTROL_NAMES)
    if params.ebnf:
        controls = replace(controls or TokenControls(), ebnf=params.ebnf)
    stop = params.stop
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    if len(stops) > served.limits.max_stop:
        raise ApiError(f"sampling_params.stop holds at most {served.limits.max_stop} strings, "
                       f"got {len(stops)}", param="sampling_params.stop")
    fields = {
        "max_new_tokens": max_new,
        "temperature": temperature,
        "top_p": top_p,
        "top_k": 0 if top_k == -1 else top_k,
        "min_p": min_p,
        "stop": tuple(s for s in stops if s),
        "seed": params.sampling_seed,
        "regex": params.regex,
        "json_schema": params.json_schema,
        "controls": controls,
    }
    return fields, n


CONTROL_NAMES = {name: f"sampling_params.{name}" for name in CONTROLS}


def _check_logprob_options(opts: LogprobOptions, served: ServedRuntime) -> None:
    caps = served.runtime.capabilities
    name = served.runtime.name
    limit = served.limits.max_top_logprobs
    if not 0 <= opts.top_logprobs_num <= limit:
        raise ApiError(f"top_logprobs_num must be in [0, {limit}], got {opts.top_logprobs_num}.")
    if opts.logprob_start_len < -1:
        raise ApiError(f"logprob_start_len must be -1 or at least 0, got {opts.logprob_start_len}.")
    if opts.token_ids_logprob:
        limit = served.limits.max_token_ids_logprob
        if len(opts.token_ids_logprob) > limit:
            raise ApiError(f"token_ids_logprob holds at most {limit} ids, got "
                           f"{len(opts.token_ids_logprob)}", param="token_ids_logprob")
        check_token_ids(served, opts.token_ids_logprob, "token_ids_logprob")
    if not opts.return_logprob:
        return
    needs = [
        (True, Capability.LOGPROBS, "logprobs"),
        (opts.top_logprobs_num > 0, Capability.TOP_LOGPROBS, "top_logprobs_num"),
        (bool(opts.token_ids_logprob), Capability.TOKEN_IDS_LOGPROB, "token_ids_logprob"),
        (opts.logprob_start_len >= 0, Capability.SCORE, "prompt logprobs (logprob_start_len)"),
    ]
    for wanted, capability, what in needs:
        if wanted and capability not in caps:
            raise ApiError(f"runtime {name!r} cannot return {what}")


def _rids(rid: str | list[str] | None, batch: int, n: int) -> list[str | None]:
    """A caller's rid names a single request; batches and samples get fresh ids, as in SGLang."""
    if isinstance(rid, str) and batch == 1 and n == 1:
        return [rid]
    if isinstance(rid, str):
        return [f"{rid}_{i}" for i in range(batch * n)]
    if isinstance(rid, list):
        if len(rid) != batch:
            raise ApiError(
                "The specified rids length mismatch with the batch_size for batch processing."
            )
        if n == 1:
            return list(rid)
    return [None] * (batch * n)


# --- responses ------------------------------------------------------------------------------


def build_response(
    normalized: NormalizedGenerate,
    results: Sequence[ItemResult],
    served: ServedRuntime,
    started: float,
) -> dict[str, Any] | list[dict[str, Any]]:
    """Outputs in SGLang's order: every sample of text 0, then of text 1, …"""
    outputs: list[dict[str, Any]] = []
    latency = time.perf_counter() - started
    for result, opts in zip(results, normalized.logprobs, strict=True):
        for completion in result.completions:
            rid = normalized.rids[len(outputs)] or uuid.uuid4().hex
            outputs.append(output(result, completion, opts, rid, served, latency))
    return outputs[0] if normalized.is_single else outputs


def output(
    result: ItemResult,
    completion: Completion,
    opts: LogprobOptions,
    rid: str,
    served: ServedRuntime,
    latency: float,
    *,
    finished: bool = True,
) -> dict[str, Any]:
    """One output; ``finished=False`` for a streamed chunk of a sample still running
    (``finish_reason`` null)."""
    meta: dict[str, Any] = {
        "id": rid,
        "finish_reason": finish_reason(completion, result.item.max_new_tokens, served)
        if finished else None,
        "prompt_tokens": completion.prompt_tokens or len(result.prompt_ids),
        "weight_version": "default",
    }
    if opts.return_logprob:
        meta.update(_logprobs(result, completion, opts))
    meta["completion_tokens"] = completion.completion_tokens
    meta["cached_tokens"] = completion.cached_tokens
    meta["e2e_latency"] = latency
    return {"text": completion.text, "output_ids": list(completion.token_ids), "meta_info": meta}


def finish_reason(
    completion: Completion, max_new_tokens: int, served: ServedRuntime
) -> dict[str, Any]:
    if completion.finish_reason == "length":
        return {"type": "length", "length": max_new_tokens}
    if completion.finish_reason == "abort":
        return {"type": "abort", "message": "the request was aborted"}
    return {"type": "stop", "matched": matched_stop(completion, served)}


def _logprobs(result: ItemResult, completion: Completion, opts: LogprobOptions) -> dict[str, Any]:
    texts = result.token_texts

    def entries(values: Sequence[float | None], ids: Sequence[int]) -> list[LogprobEntry]:
        return [[v, t, texts.get(t)] for v, t in zip(values, ids, strict=True)]

    def positions(table: Sequence[Any] | None, count: int) -> list[list[LogprobEntry] | None]:
        if table is None:
            return [None] * count
        return [entries([lp for _, lp in p], [t for t, _ in p]) if p else None for p in table]

    prompt_ids = result.prompt_ids
    start = opts.logprob_start_len
    if start >= len(prompt_ids):
        raise ApiError(
            f"logprob_start_len ({start}) must be less than the input length "
            f"({len(prompt_ids)} tokens)."
        )
    score = result.prompt_score
    if start < 0 or score is None:
        # SGLang reads -1 as "from the last prompt token": one entry, always null.
        start = max(len(prompt_ids) - 1, 0)
        input_values: list[float | None] = [None] * min(1, len(prompt_ids))
        input_top: list[list[LogprobEntry] | None] = [None] * len(input_values)
        input_ids_lp: list[list[LogprobEntry] | None] = [None] * len(input_values)
    else:
        # The first entry is null whatever the start, as in SGLang.
        input_values = [None, *score.logprobs[start + 1 :]]
        input_top = [None, *positions(score.top_logprobs, len(prompt_ids))[start + 1 :]]
        input_ids_lp = [None, *positions(score.token_ids_logprobs, len(prompt_ids))[start + 1 :]]
    count = completion.completion_tokens
    out: dict[str, Any] = {
        "input_token_logprobs": entries(input_values, prompt_ids[start:]),
        "output_token_logprobs": entries(completion.logprobs, completion.token_ids),
    }
    if opts.top_logprobs_num > 0:
        out["input_top_logprobs"] = input_top
        out["output_top_logprobs"] = positions(completion.top_logprobs, count)
    if opts.token_ids_logprob is not None:
        out["input_token_ids_logprobs"] = input_ids_lp
        out["output_token_ids_logprobs"] = positions(completion.token_ids_logprobs, count)
    return out
