"""The radix tree alone: matching, splitting and the LRU memory bound (no model)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ttc.plugins.runtimes.local.prefix_cache import PrefixCache


def kv_for(tokens: list[int]) -> torch.Tensor:
    """A fake KV tensor whose row i is token i's id, so segments can be checked."""
    return torch.tensor(tokens, dtype=torch.float32)[:, None].repeat(1, 2)


def matched_values(cache: PrefixCache, tokens: list[int]) -> tuple[int, list[float]]:
    match = cache.match(tokens)
    if not match.segments:
        return match.length, []
    return match.length, torch.cat(match.segments)[:, 0].tolist()


def test_match_returns_longest_prefix_and_its_kv() -> None:
    cache = PrefixCache(max_tokens=100)
    cache.insert([1, 2, 3, 4], kv_for([1, 2, 3, 4]))
    assert matched_values(cache, [1, 2, 3, 4, 5]) == (4, [1, 2, 3, 4])
    assert matched_values(cache, [1, 2, 9]) == (2, [1, 2])
    assert matched_values(cache, [7]) == (0, [])


def test_insert_splits_an_edge_and_shares_the_prefix() -> None:
    cache = PrefixCache(max_tokens=100)
    cache.insert([1, 2, 3, 4], kv_for([1, 2, 3, 4]))
    cache.insert([1, 2, 5, 6], kv_for([1, 2, 5, 6]))
    assert cache.cached_tokens == 6  # [1, 2] stored once, then [3, 4] and [5, 6]
    assert matched_values(cache, [1, 2, 5, 6]) == (4, [1, 2, 5, 6])
    assert matched_values(cache, [1, 2, 3, 4]) == (4, [1, 2, 3, 4])
    assert matched_values(cache, [1, 2]) == (2, [1, 2])


def test_reinserting_a_cached_sequence_adds_nothing() -> None:
    cache = PrefixCache(max_tokens=100)
    cache.insert([1, 2, 3], kv_for([1, 2, 3]))
    cache.insert([1, 2, 3], kv_for([1, 2, 3]))
    cache.insert([1, 2], kv_for([1, 2]))
    assert cache.cached_tokens == 3


def test_lru_eviction_keeps_the_bound_and_the_recent_prefix() -> None:
    cache = PrefixCache(max_tokens=8)
    cache.insert([1, 1, 1, 1], kv_for([1, 1, 1, 1]))
    cache.insert([2, 2, 2, 2], kv_for([2, 2, 2, 2]))
    cache.match([1, 1, 1, 1])  # 1s are now more recent than 2s
    cache.insert([3, 3, 3, 3], kv_for([3, 3, 3, 3]))
    assert cache.cached_tokens <= 8
    assert cache.match([2, 2, 2, 2]).length == 0
    assert cache.match([1, 1, 1, 1]).length == 4
    assert cache.match([3, 3, 3, 3]).length == 4


def test_flush_and_zero_budget() -> None:
    cache = PrefixCache(max_tokens=10)
    cache.insert([1, 2], kv_for([1, 2]))
    cache.flush()
    assert cache.match([1, 2]).length == 0 and cache.cached_tokens == 0
    disabled = PrefixCache(max_tokens=0)
    disabled.insert([1, 2], kv_for([1, 2]))
    assert disabled.match([1, 2]).length == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=8), min_size=1, max_size=8),
       st.lists(st.integers(0, 3), max_size=8), st.integers(4, 40))
def test_matches_are_true_prefixes_and_memory_stays_bounded(
        inserted: list[list[int]], query: list[int], budget: int) -> None:
    cache = PrefixCache(max_tokens=budget)
    for tokens in inserted:
        cache.insert(tokens, kv_for(tokens))
        assert cache.cached_tokens <= budget
    length, values = matched_values(cache, query)
    assert values == [float(t) for t in query[:length]]
    if budget >= sum(len(t) for t in inserted):  # nothing evicted: the match is the longest
        best = max(_common(t, query) for t in inserted)
        assert length == best


def _common(left: list[int], right: list[int]) -> int:
    count = 0
    for a, b in zip(left, right, strict=False):
        if a != b:
            break
        count += 1
    return count


def test_insert_with_an_offset_copies_only_the_new_part() -> None:
    cache = PrefixCache(max_tokens=100)
    cache.insert([1, 2, 3], torch.arange(3.0)[:, None])
    known = cache.match([1, 2, 3, 4, 5]).length
    assert known == 3
    cache.insert([1, 2, 3, 4, 5], torch.tensor([[3.0], [4.0]]), offset=known)
    match = cache.match([1, 2, 3, 4, 5])
    assert match.length == 5 and torch.cat(match.segments)[:, 0].tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="not given"):
        cache.insert([9, 9], torch.zeros(1, 1), offset=1)
