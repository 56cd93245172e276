"""``scorer: {use: NAME, ...}`` in a search component: a registered step scorer and its
parameters, checked when the recipe is validated (an unknown name or a bad parameter is a
recipe error with its line, like any other).

Step scorers are looked up in the process-wide plugin host (``ttc.default_host()``: the
built-ins and installed entry points), because a component's configuration is validated
without a handle on the run's own host.
"""

from __future__ import annotations

from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from ttc.plugin_system import default_host
from ttc.plugins.search.step_scorer import StepScorer
from ttc.recipe.compile import validate_strictly
from ttc.registry import did_you_mean


class StepScorerSpec(BaseModel):
    """A step scorer by name, its own parameters next to ``use`` (``{use: self_eval,
    question: ...}``)."""

    model_config = ConfigDict(extra="allow", frozen=True, use_attribute_docstrings=True)

    use: str = "self_eval"
    """The registered step scorer (docs/search.md lists them)."""
    model: str | None = None
    """The model alias the scorer's calls go to; None: the search's own model."""

    _scorer: StepScorer | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _resolve(self) -> StepScorerSpec:
        registry = default_host().registry
        entry = registry.step_scorers.get(self.use)
        if entry is None:
            names = sorted(registry.step_scorers)
            hint = did_you_mean(self.use, names) or f"step scorers: {', '.join(names)}"
            raise ValueError(f"unknown step scorer {self.use!r}; {hint}")
        cls = entry.obj
        params: dict[str, Any] = dict(self.model_extra or {})
        try:
            config = validate_strictly(cls.Config, params)
        except pydantic.ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}"
                                 for e in exc.errors())
            known = ", ".join(cls.Config.model_fields) or "none"
            raise ValueError(f"step scorer {self.use!r}: {problems} (its parameters: "
                             f"{known})") from None
        if getattr(cls, "own_model", False) and self.model is None:
            raise ValueError(f"step scorer {self.use!r} runs on a model of its own: add  "
                             "model: ALIAS  (a models: entry, e.g. on runtime prm_endpoint)")
        self._scorer = cls(config)
        return self

    def build(self) -> StepScorer:
        """The configured scorer (stateless; shared by every run of the recipe)."""
        assert self._scorer is not None
        return self._scorer
