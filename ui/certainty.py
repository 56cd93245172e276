"""Per-token certainty as a heat map over a candidate's text: the sampled token's logprob,
the entropy of the model's distribution, or KL(uniform‖p) (the summand of self-certainty),
exactly as the runtime recorded them.

Token text comes from the recipe's own runtime when it can turn ids back into text
(``detokenize``, e.g. the local engine); otherwise the map shows token ids and says so.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Metric:
    label: str
    field: str
    """The key in the recorded ``tokens`` (``TokenStats.to_dict()``)."""
    higher_is_surer: bool
    meaning: str


METRICS = (
    Metric("logprob", "logprobs", True, "log p of the sampled token (raw logits)"),
    Metric("entropy", "entropy", False, "entropy of the next-token distribution (nats)"),
    Metric("KL(uniform‖p)", "kl_uniform", True,
           "KL from the uniform distribution: the per-token term of self-certainty"),
)


def metric_values(tokens: dict[str, Any] | None, metric: Metric) -> list[float] | None:
    """The recorded values of ``metric`` per token, or None when the runtime did not record
    them (e.g. entropy from a runtime without the full distribution)."""
    if not tokens:
        return None
    values = tokens.get(metric.field)
    if not values:
        return None
    return [float(v) for v in values]


def token_pieces(decode: Any, ids: Sequence[int]) -> list[str]:
    """The text each token adds, by decoding growing prefixes (``decode(ids) -> str``); a
    token that ends inside a multi-byte character adds nothing until the character is whole.
    """
    pieces: list[str] = []
    shown = ""
    for end in range(1, len(ids) + 1):
        text = decode(list(ids[:end]))
        if text.endswith("\ufffd") or not text.startswith(shown):
            pieces.append("")
            continue
        pieces.append(text[len(shown):])
        shown = text
    return pieces


def certainty(values: list[float], higher_is_surer: bool) -> list[float]:
    """Values mapped to 0 (least sure in this text) … 1 (surest); infinities clamp."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return [0.5] * len(values)
    low, high = min(finite), max(finite)
    span = high - low
    out = []
    for value in values:
        value = min(max(value, low), high) if math.isfinite(value) else (
            low if (value < 0) == higher_is_surer else high)
        share = 0.5 if span == 0 else (value - low) / span
        out.append(share if higher_is_surer else 1 - share)
    return out


def least_sure(values: list[float], higher_is_surer: bool) -> int | None:
    """Index of the token where certainty dropped lowest."""
    if not values:
        return None
    key = (lambda i: values[i]) if higher_is_surer else (lambda i: -values[i])
    return min(range(len(values)), key=key)


def heat_map_html(pieces: Sequence[str], values: list[float], metric: Metric) -> str:
    """Spans shaded by certainty (red = unsure), each with its value on hover; the least
    sure token is outlined."""
    shares = certainty(values, metric.higher_is_surer)
    lowest = least_sure(values, metric.higher_is_surer)
    spans = []
    for i, (piece, value, share) in enumerate(zip(pieces, values, shares, strict=True)):
        alpha = round(0.6 * (1 - share), 3)
        outline = "outline:2px solid #111;" if i == lowest else ""
        shown = html.escape(piece).replace("\n", "⏎<br>") if piece else "·"
        spans.append(
            f'<span class="ttc-token" title="#{i} {metric.label} = {value:.4g}" '
            f'style="background:rgba(220,38,38,{alpha});{outline}border-radius:3px;'
            f'padding:1px 0;white-space:pre-wrap">{shown}</span>')
    return ('<div class="ttc-heatmap" style="font-family:ui-monospace,monospace;'
            'line-height:1.9;font-size:0.92rem">' + "".join(spans) + "</div>")
