"""What one step is, and when a solution ends (docs/methods.md §7, common protocol).

A step is what one call writes up to and including the delimiter (the runtime cuts its text
before a stop string; the step puts the delimiter back). The solution ends when the step
ended another way — the model's end of sequence or one of the recipe's own ``stop``
strings — when it is empty, when the answer pattern or (with ``stop_at_answer``) the task
format's extractor finds an answer in it, or at ``max_steps``. A step cut at ``max_tokens``
does not end the solution: the next step continues it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ttc.context import ComponentContext
from ttc.plugins.search.config import SearchConfig
from ttc.plugins.search.step_scorer import Step
from ttc.runtime import Completion

TERMINALS = ("eos", "stop", "empty", "answer_pattern", "answer", "max_steps")
"""Why a solution ended, as recorded on its candidate."""


def step_stops(config: SearchConfig, depth: int) -> tuple[str, ...]:
    """Stop strings of the call that writes step ``depth`` (0-based): the delimiter and the
    recipe's stops, or only the latter for the last step with ``last_step_to_eos``."""
    last = depth + 1 >= config.max_steps
    if last and config.last_step_to_eos:
        return tuple(config.stop)
    return (config.delimiter, *config.stop)


def make_step(completion: Completion, config: SearchConfig, depth: int,
              ctx: ComponentContext) -> tuple[Step, str | None]:
    """The step a completion wrote at ``depth``, and why the solution ends there (None: it
    goes on)."""
    delimiter = config.delimiter if completion.matched_stop == config.delimiter else ""
    step = Step(completion.text + delimiter, completion, delimiter)
    terminal: str | None = None
    if completion.finish_reason == "stop" and not delimiter:
        terminal = "stop" if completion.matched_stop else "eos"
    if terminal is None and not completion.text.strip():
        terminal = "empty"
    if config.answer_pattern is not None and re.search(config.answer_pattern,
                                                      completion.text):
        terminal = "answer_pattern"
    elif config.stop_at_answer and ctx.extract(completion.text) is not None:
        terminal = "answer"
    if terminal is None and depth + 1 >= config.max_steps:
        terminal = "max_steps"
    return step, terminal


def joined(completions: Sequence[Completion]) -> Completion:
    """The steps' completions as one (tokens and statistics concatenated), for the token
    statistics of a partial solution's candidate."""
    first, last = completions[0], completions[-1]

    def cat(name: str) -> tuple | None:
        parts = [getattr(c, name) for c in completions]
        return None if any(p is None for p in parts) else tuple(x for p in parts for x in p)

    return Completion(
        text="".join(c.text for c in completions),
        token_ids=tuple(t for c in completions for t in c.token_ids),
        logprobs=tuple(lp for c in completions for lp in c.logprobs),
        finish_reason=last.finish_reason,
        prompt_tokens=first.prompt_tokens,
        cached_tokens=first.cached_tokens,
        top_logprobs=cat("top_logprobs"),
        token_ids_logprobs=cat("token_ids_logprobs"),
        entropy=cat("entropy"),
        kl_uniform=cat("kl_uniform"),
        matched_stop=last.matched_stop,
    )
