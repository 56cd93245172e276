"""``particle_filtering``: particle-based Monte Carlo over reasoning steps (docs/methods.md SS3,
after its_hub).

N particles; each round every particle whose solution has not ended adds one step (the
particles on one node share one call of as many samples) and is weighted by the logit of
its aggregated step score, clipped to [1e-7, 1 − 1e-7] (``agg: last`` is the paper's
current-step score; not cumulative). Ended particles keep their last weight. When the
effective sample size 1/Σw² of the normalised weights w = softmax(logit / temperature)
falls below ``ess_threshold``·N, N particles are drawn with replacement ∝ w (multinomial,
or systematic). There are always N particles. The pool is the distinct final solutions,
heaviest first, each with the weight and number of particles that ended on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from ttc.plugin_system import hookimpl
from ttc.plugins.search.config import SearchConfig
from ttc.plugins.search.expansion import Expander, Expansion
from ttc.plugins.search.step_search import Outcome, StepSearch
from ttc.plugins.search.tree import Node
from ttc.registry import RegisterComponent

CLIP = 1e-7


class ParticleFilteringConfig(SearchConfig):
    n: int = Field(default=4, ge=1, le=1024)
    """Particles."""
    resample_temperature: float = Field(default=1.0, gt=0.0, le=100.0)
    """Resampling weights are softmax(logit(score) / this): higher flattens them."""
    ess_threshold: float = Field(default=1.0, ge=0.0, le=1.0)
    """Resample when the effective sample size falls below this fraction of n (1: whenever
    the weights are not all equal; 0: never)."""
    resampling: Literal["multinomial", "systematic"] = "multinomial"
    """How N particles are drawn ∝ their weights."""


def log_weight(score: float) -> float:
    """logit(score), the score clipped to [1e-7, 1 − 1e-7]."""
    s = min(max(score, CLIP), 1.0 - CLIP)
    return math.log(s) - math.log1p(-s)


def normalised(log_weights: Sequence[float], temperature: float) -> np.ndarray:
    z = np.asarray(log_weights, dtype=np.float64) / temperature
    w = np.exp(z - z.max())
    return w / w.sum()


def effective_sample_size(weights: np.ndarray) -> float:
    return float(1.0 / np.sum(weights ** 2))


def resample(weights: np.ndarray, how: str, rng: np.random.Generator) -> list[int]:
    """N indices drawn ∝ ``weights``: multinomial, or systematic (one uniform offset, N
    evenly spaced pointers: equal weights give each particle exactly one child)."""
    n = len(weights)
    if how == "systematic":
        cumulative = np.cumsum(weights)
        cumulative[-1] = 1.0
        pointers = (rng.random() + np.arange(n)) / n
        return [int(i) for i in np.minimum(np.searchsorted(cumulative, pointers,
                                                            side="right"), n - 1)]
    return [int(i) for i in rng.choice(n, size=n, replace=True, p=weights)]


class ParticleFiltering(StepSearch[ParticleFilteringConfig]):
    """Particle filtering: N particles step, are weighted by the scorer and resampled."""

    name = "particle_filtering"
    Config = ParticleFilteringConfig

    async def search(self, expander: Expander) -> Outcome:
        config = self.config
        particles = [Node()] * config.n
        logits = [0.0] * config.n
        history = []
        for step in range(config.max_steps):
            groups: dict[str, list[int]] = {}
            for i, particle in enumerate(particles):
                if not particle.finished:
                    groups.setdefault(particle.id, []).append(i)
            if not groups:
                break
            wanted = [Expansion(particles[idx[0]], len(idx), (step,)) for idx in groups.values()]
            plan = expander.affordable(wanted)
            if not plan:
                break
            for idx, children in zip(groups.values(), await expander.expand(plan),
                                     strict=False):
                for i, child in zip(idx, children, strict=True):
                    particles[i] = child
                    logits[i] = log_weight(child.value(config.agg))
            weights = normalised(logits, config.resample_temperature)
            ess = effective_sample_size(weights)
            record = {"step": step, "particles": len(particles), "extended":
                      sum(len(idx) for idx in list(groups.values())[:len(plan)]),
                      "ess": round(ess, 6), "resampled": False}
            history.append(record)
            if len(plan) < len(wanted) or all(p.finished for p in particles):
                break
            if ess < config.ess_threshold * config.n * (1.0 - 1e-9):
                rng = np.random.Generator(np.random.PCG64(
                    expander.ctx.seed(self.name, "resample", step)))
                drawn = resample(weights, config.resampling, rng)
                particles = [particles[j] for j in drawn]
                logits = [logits[j] for j in drawn]
                record["resampled"] = True
        return Outcome(self._final(particles, logits, config),
                       {"particles": config.n, "history": history})

    @staticmethod
    def _final(particles: list[Node], logits: list[float],
               config: ParticleFilteringConfig) -> list[Node]:
        """Distinct final nodes, heaviest first, with their weight and particle count."""
        if not any(p.candidate is not None for p in particles):
            return []
        weights = normalised(logits, config.resample_temperature)
        totals: dict[str, list] = {}
        for particle, weight in zip(particles, weights, strict=True):
            entry = totals.setdefault(particle.id, [particle, 0.0, 0])
            entry[1] += float(weight)
            entry[2] += 1
        ranked = sorted(totals.values(), key=lambda e: (-e[1], e[0].order))
        return [node.annotated({"particle_weight": weight, "particles": float(count)})
                for node, weight, count in ranked]


@hookimpl
def ttc_register_components(register: RegisterComponent) -> None:
    register(ParticleFiltering)
