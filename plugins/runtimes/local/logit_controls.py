"""A row's logits as its ``TokenControls`` shape them before a token is chosen.

SGLang's semantics (``ttc.token_controls`` states them): the repetition penalty (CTRL's
rule) and the frequency and presence penalties look at the tokens generated so far, a
``logit_bias`` is added, and before ``min_new_tokens`` tokens EOS and the stop tokens cannot
be chosen. Only the choice sees these logits: logprobs, entropy and top logprobs are still
computed from the model's own (the ``ttc.runtime`` rule).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ttc.token_controls import TokenControls


def shape_logits(logits: torch.Tensor, controls: TokenControls, output_ids: Sequence[int],
                 eos_ids: frozenset[int]) -> None:
    """Shape one row's ``[V]`` logits in place."""
    if output_ids and (controls.repetition_penalty != 1.0 or controls.frequency_penalty
                       or controls.presence_penalty):
        ids, counts = torch.unique(torch.tensor(list(output_ids)), return_counts=True)
        values = logits[ids]
        penalty = controls.repetition_penalty
        if penalty != 1.0:
            values = torch.where(values < 0, values * penalty, values / penalty)
        values = values - controls.frequency_penalty * counts - controls.presence_penalty
        logits[ids] = values
    if controls.logit_bias:
        ids = torch.tensor([token for token, _ in controls.logit_bias])
        logits[ids] += torch.tensor([bias for _, bias in controls.logit_bias])
    if len(output_ids) < controls.min_new_tokens:
        blocked = sorted(set(controls.stop_token_ids) | eos_ids)
        if blocked:
            logits[torch.tensor(blocked)] = float("-inf")
