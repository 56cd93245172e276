"""SGLang's token-level sampling fields, checked and turned into ``TokenControls``.

Both APIs take the same controls (``/generate`` inside ``sampling_params``, ``/v1`` at the top
level, where SGLang names ``min_new_tokens`` ``min_tokens``). Ranges follow SGLang's
``SamplingParams.verify`` and OpenAI's API: penalties in [-2, 2], ``repetition_penalty`` in
(0, 2], ``min_new_tokens`` in [0, max_new_tokens], ``logit_bias`` keys are token ids in the
vocabulary and values in [-100, 100]. A runtime with ``generate_controlled`` honours every
one; any other runtime gets a 400 naming the field for a value other than the default (never
a silent no-op). ``skip_special_tokens`` defaults to true, as in SGLang; over a runtime
without controls the text is the runtime's own, so only ``false`` is refused there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ttc.plugins.server.errors import ApiError
from ttc.plugins.server.generation import check_token_ids
from ttc.plugins.server.served_runtime import ServedRuntime
from ttc.runtime import Capability
from ttc.token_controls import TokenControls

NEUTRAL: dict[str, tuple[Any, ...]] = {
    "ignore_eos": (None, False),
    "min_new_tokens": (None, 0),
    "stop_token_ids": (None, []),
    "logit_bias": (None, {}),
    "frequency_penalty": (None, 0.0),
    "presence_penalty": (None, 0.0),
    "repetition_penalty": (None, 1.0),
    "no_stop_trim": (None, False),
    "skip_special_tokens": (None, True),
}


def token_controls(served: ServedRuntime, values: Mapping[str, Any], *, max_new_tokens: int,
                   names: Mapping[str, str]) -> TokenControls | None:
    """``values`` by SGLang's field names → controls (None when the runtime has none and
    nothing was asked); ``names`` are the fields as the request spells them, for errors."""
    if not served.can_control:
        for field, neutral in NEUTRAL.items():
            if values.get(field) not in neutral:
                raise ApiError(
                    f"{names[field]} is not supported by this server (runtime "
                    f"{served.runtime.name!r} has no token-level controls); leave it at its "
                    "default", param=names[field])
        return None
    for field in ("frequency_penalty", "presence_penalty"):
        value = values.get(field)
        if value is not None and not (math.isfinite(value) and -2.0 <= value <= 2.0):
            raise ApiError(f"{names[field]} must be in [-2, 2], got {value}.", param=names[field])
    repetition = values.get("repetition_penalty")
    if repetition is not None and not (math.isfinite(repetition) and 0.0 < repetition <= 2.0):
        raise ApiError(f"{names['repetition_penalty']} must be in (0, 2], got {repetition}.",
                       param=names["repetition_penalty"])
    min_new = values.get("min_new_tokens") or 0
    if not 0 <= min_new <= max_new_tokens:
        raise ApiError(f"{names['min_new_tokens']} must be in [0, max_new_tokens], got "
                       f"{min_new}.", param=names["min_new_tokens"])
    stop_ids = values.get("stop_token_ids") or []
    if len(stop_ids) > served.limits.max_stop:
        raise ApiError(f"{names['stop_token_ids']} holds at most {served.limits.max_stop} ids",
                       param=names["stop_token_ids"])
    check_token_ids(served, stop_ids, names["stop_token_ids"])
    return TokenControls(
        ignore_eos=bool(values.get("ignore_eos")),
        min_new_tokens=min_new,
        stop_token_ids=tuple(stop_ids),
        logit_bias=_logit_bias(served, values.get("logit_bias") or {}, names["logit_bias"]),
        frequency_penalty=values.get("frequency_penalty") or 0.0,
        presence_penalty=values.get("presence_penalty") or 0.0,
        repetition_penalty=1.0 if repetition is None else repetition,
        no_stop_trim=bool(values.get("no_stop_trim")),
        skip_special_tokens=values.get("skip_special_tokens") is not False,
    )


def _logit_bias(served: ServedRuntime, bias: Mapping[str, float], name: str
                ) -> tuple[tuple[int, float], ...]:
    pairs = []
    for key, value in bias.items():
        if not key.strip().isdigit():
            raise ApiError(f"{name} keys must be token ids, got {key!r}", param=name)
        if not (math.isfinite(value) and -100.0 <= value <= 100.0):
            raise ApiError(f"{name} values must be in [-100, 100], got {value}", param=name)
        pairs.append((int(key), float(value)))
    check_token_ids(served, [token for token, _ in pairs], name)
    return tuple(pairs)


def check_grammar(served: ServedRuntime, given: Mapping[str, str | None],
                  names: Mapping[str, str]) -> None:
    """SGLang's rule for ``regex``, ``json_schema`` and ``ebnf``: at most one, and only on a
    runtime that constrains decoding (``Capability.CONSTRAINED``); ``ebnf`` travels in the
    token controls, so it also needs a runtime that has them."""
    set_ = [field for field, value in given.items() if value]
    if len(set_) > 1:
        raise ApiError("Only one of regex, json_schema, or ebnf can be set.",
                       param=names[set_[1]])
    if not set_:
        return
    field = set_[0]
    if Capability.CONSTRAINED not in served.runtime.capabilities or (
            field == "ebnf" and not served.can_control):
        raise ApiError(f"{names[field]}: runtime {served.runtime.name!r} has no constrained "
                       "decoding (regex, json_schema, ebnf)", param=names[field])
