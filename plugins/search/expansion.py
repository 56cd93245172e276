"""Growing the tree: sample next steps of partial solutions and score them.

An expansion of a node is one generate call for k samples whose prompt is the rendered
prompt followed by the node's text, so the prefix cache (the local engine's radix tree,
SGLang's RadixAttention) prefills only the newest step; the expansions of one round are
issued together and decode as one batch. Every child becomes a candidate whose parent is
the node it continues; every step is then scored in one scorer batch per round.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ttc.context import ComponentContext
from ttc.errors import TTCError
from ttc.plugins.search.budget import Meter, MeteredContext
from ttc.plugins.search.config import SearchConfig
from ttc.plugins.search.step_scorer import Cost, PartialSolution, Problem
from ttc.plugins.search.steps import joined, make_step, step_stops
from ttc.plugins.search.tree import Node
from ttc.plugins.selectors.weighted_best_of_n import aggregate
from ttc.runtime import Capability
from ttc.state import State


@dataclass(frozen=True, slots=True)
class Expansion:
    """Sample ``samples`` next steps of ``node``; ``tag`` makes its seed and its children's
    ids unique within the search."""

    node: Node
    samples: int
    tag: tuple[Any, ...]


class Expander:
    """The part every search method shares: prompts, calls, scores and the budget."""

    def __init__(self, ctx: ComponentContext, config: SearchConfig, method: str) -> None:
        self.config = config
        self.method = method
        self.meter = Meter(config.token_budget, config.call_budget, config.scorer_call_budget)
        self.ctx = MeteredContext.of(ctx, self.meter, "generation")
        self.scorer = config.scorer.build()
        self.scorer_ctx = MeteredContext.of(
            ctx, self.meter, "scorer", component=f"{ctx.component}/{config.scorer.use}",
            model=config.scorer.model)
        self.prompt = ""
        self.problem = Problem("", ())
        self.expansions = 0
        self.created = 0

    async def prepare(self, state: State) -> None:
        alias = self.config.scorer.model
        if alias is not None and alias not in self.ctx.run_ctx.runtimes:
            raise TTCError(f"{self.method}: the step scorer's model {alias!r} is not in the "
                           f"recipe's models ({', '.join(self.ctx.run_ctx.runtimes)})")
        if self.scorer.uses_model:
            missing = self.scorer.needs - self.scorer_ctx.runtime().capabilities
            if missing:
                raise TTCError(f"{self.method}: step scorer {self.scorer.name!r} needs "
                               f"{', '.join(sorted(missing))}, which model "
                               f"{self.scorer_ctx.model!r} does not offer")
        self.prompt = await self.config.prompt(state, self.ctx)
        self.problem = Problem(state.task.question, tuple(self.config.messages(state)),
                               self.config.prefix)

    # --- budget -----------------------------------------------------------------------------

    def cost(self, expansions: Sequence[Expansion], lookahead: int = 0) -> Cost:
        """The worst case of a round: every step at ``max_tokens``, every scorer call."""
        samples = sum(e.samples for e in expansions)
        if not samples:
            return Cost()
        capabilities = self._scorer_capabilities()
        scoring = self.scorer.max_cost(samples, capabilities)
        cost = Cost(len(expansions), samples * self.config.max_tokens) + _as_scorer(scoring)
        if lookahead:
            rollouts = Cost(samples * lookahead, samples * lookahead * self.config.max_tokens)
            cost = cost + rollouts + _as_scorer(
                self.scorer.max_cost(samples * lookahead, capabilities))
        return cost

    def affordable(self, expansions: Sequence[Expansion], lookahead: int = 0
                   ) -> list[Expansion]:
        """The longest head of ``expansions`` whose worst case fits every budget; when not
        all fit, the meter records which budget stopped the search."""
        for size in range(len(expansions), 0, -1):
            blocker = self.meter.blocker(self.cost(expansions[:size], lookahead), self.ctx)
            if blocker is None:
                if size < len(expansions):
                    self.meter.stopped_by = self._blocker(expansions, lookahead)
                return list(expansions[:size])
        if expansions:
            self.meter.stopped_by = self._blocker(expansions, lookahead)
        return []

    def _blocker(self, expansions: Sequence[Expansion], lookahead: int) -> str | None:
        return self.meter.blocker(self.cost(expansions, lookahead), self.ctx)

    def _scorer_capabilities(self) -> frozenset[Capability]:
        if not self.scorer.uses_model:
            return frozenset()
        return frozenset(self.scorer_ctx.runtime().capabilities)

    # --- growing ----------------------------------------------------------------------------

    async def expand(self, expansions: Sequence[Expansion]) -> list[list[Node]]:
        """The scored children of each expansion, in order (one call each, concurrently;
        one scorer batch for all)."""
        groups = await asyncio.gather(*(self._children(e) for e in expansions))
        self.expansions += len(expansions)
        numbered = []
        for group in groups:  # creation order from the plan, never from completion order
            numbered.append([replace(child, order=self.created + j + 1)
                             for j, child in enumerate(group)])
            self.created += len(group)
        groups = numbered
        flat = await self.score([child for group in groups for child in group])
        out, i = [], 0
        for group in groups:
            out.append(flat[i:i + len(group)])
            i += len(group)
        return out

    async def _children(self, expansion: Expansion) -> list[Node]:
        config, node, ctx = self.config, expansion.node, self.ctx
        seed = ctx.seed(self.method, *expansion.tag, node.id)
        request = config.request(self.prompt + node.text, n=expansion.samples, seed=seed)
        request = replace(request, params=replace(request.params,
                                                  stop=step_stops(config, node.depth)))
        completions = await ctx.generate(request)
        parents = () if node.candidate is None else (node.candidate.id,)
        children = []
        for j, completion in enumerate(completions):
            step, terminal = make_step(completion, config, node.depth, ctx)
            steps = (*node.steps, step)
            text = "".join(s.text for s in steps)
            tokens = joined([s.completion for s in steps if s.completion is not None])
            if terminal is None:  # an unfinished solution reads as cut short to selectors
                tokens = replace(tokens, finish_reason="length")
            candidate = ctx.candidate(config.reply(text), tokens, parents=parents,
                                      sample_index=j, seed=seed,
                                      key=("step", self.method, *expansion.tag, node.id))
            children.append(Node(steps, node.scores, candidate, terminal, node.unscored))
        return children

    async def score(self, nodes: Sequence[Node]) -> list[Node]:
        """The nodes with every step scored (known scores reused), their candidates
        annotated and remembered."""
        if not nodes:
            return []
        results = await self.step_scores([n.steps for n in nodes],
                                         [n.scores for n in nodes])
        out = []
        for node, (scores, unscored) in zip(nodes, results, strict=True):
            node = replace(node, scores=scores, unscored=unscored)
            name = self.config.score_name
            values = {f"{name}#{k}": v for k, v in enumerate(scores)}
            values["search_score"] = node.value(self.config.agg)
            offset = len(self.config.prefix) + len(node.text) - len(node.steps[-1].text)
            node = node.annotated(values, method=self.method, depth=node.depth,
                                  terminal=node.terminal, step_start=offset,
                                  unscored=list(unscored))
            self.remember(node)
            out.append(node)
        return out

    async def step_scores(self, steps: Sequence[tuple], known: Sequence[tuple[float, ...]]
                          ) -> list[tuple[tuple[float, ...], tuple[int, ...]]]:
        """Every step's score for each solution, and which could not be read (scored 0)."""
        solutions = [PartialSolution(s, k) for s, k in zip(steps, known, strict=True)]
        raw = await self.scorer.score(self.problem, solutions, self.scorer_ctx)
        if len(raw) != len(solutions):
            raise TTCError(f"step scorer {self.scorer.name!r} returned {len(raw)} score "
                           f"lists for {len(solutions)} solutions")
        out = []
        for solution, values in zip(solutions, raw, strict=True):
            if len(values) != len(solution.steps):
                raise TTCError(f"step scorer {self.scorer.name!r} returned {len(values)} "
                               f"scores for {len(solution.steps)} steps")
            for v in values:
                if v is not None and not (math.isfinite(v) and 0.0 <= v <= 1.0):
                    raise TTCError(f"step scorer {self.scorer.name!r} returned {v!r}; step "
                                   "scores are in [0, 1]")
            out.append((tuple(0.0 if v is None else float(v) for v in values),
                        tuple(k for k, v in enumerate(values) if v is None)))
        return out

    async def lookahead(self, nodes: Sequence[Node], steps: int
                        ) -> list[tuple[float, str]]:
        """Each node's value at the end of a greedy rollout of ``steps`` more steps, and the
        rollout's text (scored, then discarded: only the node's own step is kept)."""
        async def rollout(node: Node) -> Node:
            current = replace(node, candidate=None)
            for depth in range(steps):
                if current.finished:
                    break
                seed = self.ctx.seed(self.method, "lookahead", node.id, depth)
                request = self.config.request(self.prompt + current.text, seed=seed,
                                              temperature=0.0)
                request = replace(request, params=replace(
                    request.params, stop=step_stops(self.config, current.depth)))
                (completion,) = await self.ctx.generate(request)
                step, terminal = make_step(completion, self.config, current.depth, self.ctx)
                current = replace(current, steps=(*current.steps, step), terminal=terminal)
            return current

        ends = await asyncio.gather(*(rollout(n) for n in nodes))
        scored = await self.step_scores([e.steps for e in ends], [n.scores for n in nodes])
        return [(aggregate(s, self.config.agg), end.text[len(node.text):])
                for (s, _), end, node in zip(scored, ends, nodes, strict=True)]

    def remember(self, node: Node) -> None:
        if node.candidate is not None:
            self.ctx.remember([node.candidate])


def _as_scorer(cost: Cost) -> Cost:
    return Cost(cost.calls, cost.tokens, cost.calls)
