"""A radix tree over token ids that keeps the KV of recent prompt prefixes.

Critic, judge and refiner prompts that share a question share a token prefix; its KV is
computed once and reused. Each node holds one edge of token ids and the matching KV
segment, a tensor whose first axis is the token axis (so splitting an edge is a slice).
Memory is bounded by ``max_tokens``; the least recently used leaves are evicted first.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import torch


@dataclass(eq=False)
class _Node:
    tokens: tuple[int, ...]
    kv: torch.Tensor | None
    """The edge's keys and values; None only at the root, which has no edge."""
    parent: _Node | None
    children: dict[int, _Node] = field(default_factory=dict)
    last_used: int = 0


@dataclass(frozen=True, slots=True)
class PrefixMatch:
    length: int
    """How many leading tokens are cached."""
    segments: tuple[torch.Tensor, ...]
    """Their KV, in order; concatenate along axis 0."""


class PrefixCache:
    """LRU-bounded radix tree: token ids → KV segments."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens
        self._root = _Node((), None, None)
        self._clock = itertools.count(1)
        self.cached_tokens = 0
        """Tokens currently stored (the sum of all edge lengths)."""

    def match(self, tokens: list[int] | tuple[int, ...]) -> PrefixMatch:
        """The longest cached prefix of ``tokens``; marks its path as recently used."""
        node, length, segments = self._root, 0, []
        now = next(self._clock)
        while length < len(tokens):
            child = node.children.get(tokens[length])
            if child is None:
                break
            common = _common_length(child.tokens, tokens[length:])
            child.last_used = now
            assert child.kv is not None  # a child has an edge
            segments.append(child.kv[:common])
            length += common
            if common < len(child.tokens):
                break
            node = child
        return PrefixMatch(length, tuple(segments))

    def insert(self, tokens: list[int] | tuple[int, ...], kv: torch.Tensor,
               offset: int = 0) -> None:
        """Store ``kv`` for ``tokens``; then evict. ``kv``'s axis 0 holds the positions of
        ``tokens[offset:]``: a caller that has matched the first ``offset`` tokens need not
        copy their KV again (they are in the tree; ``match`` just marked them used)."""
        if self.max_tokens <= 0 or not tokens:
            return
        node, length = self._root, 0
        now = next(self._clock)
        while length < len(tokens):
            child = node.children.get(tokens[length])
            if child is None:
                if length < offset:
                    raise ValueError(f"insert: only {length} of the first {offset} tokens "
                                     "are cached; their KV was not given")
                leaf = _Node(tuple(tokens[length:]), kv[length - offset:].clone(), node,
                             last_used=now)
                node.children[tokens[length]] = leaf
                self.cached_tokens += len(leaf.tokens)
                break
            common = _common_length(child.tokens, tokens[length:])
            if common < len(child.tokens):
                child = self._split(child, common)
            child.last_used = now
            node, length = child, length + common
        self._evict(protect=node)

    def flush(self) -> None:
        self._root = _Node((), None, None)
        self.cached_tokens = 0

    def _split(self, node: _Node, at: int) -> _Node:
        """Cut ``node``'s edge after ``at`` tokens; returns the new upper node."""
        parent = node.parent
        assert parent is not None and node.kv is not None
        upper = _Node(node.tokens[:at], node.kv[:at].clone(), parent, last_used=node.last_used)
        parent.children[upper.tokens[0]] = upper
        node.tokens, node.kv, node.parent = node.tokens[at:], node.kv[at:].clone(), upper
        upper.children[node.tokens[0]] = node
        return upper

    def _evict(self, protect: _Node) -> None:
        """Drop least recently used leaves until the bound holds (``protect`` last)."""
        while self.cached_tokens > self.max_tokens:
            leaves = [n for n in self._leaves() if n is not protect]
            if not leaves:
                leaves = [protect]
            victim = min(leaves, key=lambda n: n.last_used)
            parent = victim.parent
            assert parent is not None
            del parent.children[victim.tokens[0]]
            self.cached_tokens -= len(victim.tokens)
            if victim is protect:
                protect = parent

    def _leaves(self) -> list[_Node]:
        stack, leaves = list(self._root.children.values()), []
        while stack:
            node = stack.pop()
            if node.children:
                stack.extend(node.children.values())
            else:
                leaves.append(node)
        return leaves


def _common_length(left: tuple[int, ...], right: list[int] | tuple[int, ...]) -> int:
    limit = min(len(left), len(right))
    for index in range(limit):
        if left[index] != right[index]:
            return index
    return limit
