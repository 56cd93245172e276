"""``usc``: universal self-consistency, one model call picks the most consistent of the
numbered candidates (docs/methods.md S6)."""

from __future__ import annotations

import random
import re

from pydantic import Field

from ttc.candidate import Candidate
from ttc.component import Selection, Selector, SelectorConfig
from ttc.context import ComponentContext
from ttc.plugin_system import hookimpl
from ttc.registry import RegisterComponent
from ttc.runtime import Capability, GenerateRequest, SamplingParams

INSTRUCTION = (
    "I have generated the following responses to the question: {question}\n\n{responses}\n\n"
    "Evaluate these responses. Select the most consistent response based on majority "
    "consensus. Start your answer with \"The most consistent response is Response X\" "
    "(without quotes)."
)
_RESPONSE = re.compile(r"response\s*(?:#|no\.?|number)?\s*(\d+)", re.IGNORECASE)
_NUMBER = re.compile(r"\b(\d+)\b")


class USCConfig(SelectorConfig):
    max_candidates: int = Field(default=16, ge=1, le=256)
    """Only the first this many candidates are shown to the model."""
    shuffle_seed: int | None = None
    """Shuffle the listed order with this seed (position bias); None keeps pool order."""
    max_tokens: int = Field(default=32, ge=1, le=4096)
    """Tokens the model may write (the index comes first)."""


class USC(Selector[USCConfig]):
    """Universal self-consistency: the model names the response most consistent with the rest."""

    name = "usc"
    uses_model = True
    Config = USCConfig

    async def select(self, pool: tuple[Candidate, ...], ctx: ComponentContext) -> Selection:
        config = self.config
        if not pool:
            return Selection(winner=None, answer=None)
        shown = list(range(min(len(pool), config.max_candidates)))
        if config.shuffle_seed is not None:
            random.Random(config.shuffle_seed).shuffle(shown)
        listing = "\n\n".join(f"Response {k + 1}:\n{pool[i].text}" for k, i in enumerate(shown))
        content = INSTRUCTION.format(question=ctx.task.question, responses=listing)
        prompt = await ctx.render([{"role": "user", "content": content}])
        prefix = "The most consistent response is Response "
        constrained = Capability.CONSTRAINED in ctx.runtime().capabilities
        choices = "|".join(str(k) for k in range(len(shown), 0, -1))
        request = GenerateRequest(
            prompt=prompt + prefix if constrained else prompt,
            params=SamplingParams(max_tokens=4 if constrained else config.max_tokens,
                                  temperature=0.0, seed=ctx.seed("usc")),
            regex=f"({choices})" if constrained else None,
        )
        (completion,) = await ctx.generate(request)
        reply = prefix + completion.text if constrained else completion.text
        picked = parse_choice(reply, len(shown))
        parsed = picked is not None
        winner_index = shown[picked - 1] if picked is not None else 0
        scores = {c.id: 1.0 if i == winner_index else 0.0 for i, c in enumerate(pool)}
        order = [winner_index, *(i for i in range(len(pool)) if i != winner_index)]
        winner = pool[winner_index]
        return Selection(
            winner=winner.id, answer=winner.answer, scores=scores, score_name="usc",
            order=tuple(pool[i].id for i in order),
            details={"reply": completion.text, "parsed": parsed,
                     "shown": [pool[i].id for i in shown]},
        )


def parse_choice(reply: str, count: int) -> int | None:
    """The 1-based response number in the model's reply, or None when it names none in range.

    "Response 3" wins over bare numbers; the first in-range mention counts.
    """
    for pattern in (_RESPONSE, _NUMBER):
        for found in pattern.findall(reply):
            value = int(found)
            if 1 <= value <= count:
                return value
    return None


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(USC)
