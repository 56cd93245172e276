"""Pairwise similarity matrices for MBR and GSC, vectorised over all N×N pairs at once.

Every n-gram metric here reduces to clipped match counts min(c_i(g), c_j(g)). Tagging the
k-th occurrence of an n-gram in a text as (g, k) turns that into a set intersection, so the
N×N match counts of one order are a single sparse product M·Mᵀ of occurrence-incidence
matrices (orders with few distinct n-grams use dense count minima instead). chrF and BLEU
follow sacreBLEU's sentence-level definitions (checked against sacreBLEU in the tests);
ROUGE-L uses rapidfuzz's LCS. ``u[i, j]`` is the utility of hypothesis i against reference
j; the diagonal is NaN, never a self-comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence

import numpy as np
from scipy import sparse

_PRIME = np.uint64(1099511628211)
_DENSE_LIMIT = 8_000_000
"""Below this many (pair × distinct n-gram) cells, clipped counts come from dense minima."""


def _ngram_hashes(codes: np.ndarray, n: int) -> np.ndarray:
    """64-bit polynomial hashes of the n-grams of one integer sequence (wrapping arithmetic)."""
    if len(codes) < n:
        return np.empty(0, dtype=np.uint64)
    h = np.zeros(len(codes) - n + 1, dtype=np.uint64)
    for j in range(n):
        h = h * _PRIME + codes[j: len(codes) - n + 1 + j] + np.uint64(1)
    return h


def ngram_matches(sequences: Sequence[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Clipped n-gram match counts for every pair, and each sequence's n-gram total.

    Returns ``(matches, totals)`` with ``matches[i, j] = Σ_g min(c_i(g), c_j(g))``.
    """
    per_doc = [_ngram_hashes(s, n) for s in sequences]
    totals = np.array([len(h) for h in per_doc], dtype=np.float64)
    size = len(sequences)
    if not totals.any():
        return np.zeros((size, size)), totals
    docs = np.repeat(np.arange(size), totals.astype(np.int64))
    hashes = np.concatenate(per_doc)
    # one stable sort by hash: docs were concatenated in order, so runs are (hash, doc)
    order = np.argsort(hashes, kind="stable")
    docs, hashes = docs[order], hashes[order]
    new_hash = np.ones(len(hashes), dtype=bool)
    new_hash[1:] = hashes[1:] != hashes[:-1]
    gram = np.cumsum(new_hash) - 1  # distinct n-gram index
    distinct = int(gram[-1]) + 1
    if distinct * size * size <= _DENSE_LIMIT:
        # few distinct n-grams, many repeats (low orders): min of dense counts is cheaper
        counts = np.bincount(docs * distinct + gram, minlength=size * distinct).reshape(
            size, distinct).astype(np.float32)
        matches = np.empty((size, size))
        for i in range(size):
            matches[i] = np.minimum(counts[i][None, :], counts).sum(axis=1)
        return matches, totals
    # k = occurrence number of this n-gram within its document; column (gram, k)
    new_run = new_hash.copy()
    new_run[1:] |= docs[1:] != docs[:-1]
    starts = np.flatnonzero(new_run)
    occurrence = np.arange(len(hashes)) - starts[np.cumsum(new_run) - 1]
    width = np.zeros(distinct, dtype=np.int64)
    np.maximum.at(width, gram[new_run], 1)  # at least one column per n-gram
    last = np.flatnonzero(np.append(new_run[1:], True))  # each run's last occurrence
    np.maximum.at(width, gram[last], occurrence[last] + 1)
    base = np.concatenate(([0], np.cumsum(width)[:-1]))
    columns = base[gram] + occurrence
    incidence = sparse.csr_matrix(
        (np.ones(len(columns), dtype=np.float32), (docs, columns)),
        shape=(size, int(width.sum())),
    )
    matches = (incidence @ incidence.T).toarray().astype(np.float64)
    return matches, totals


def _mask_diagonal(u: np.ndarray) -> np.ndarray:
    np.fill_diagonal(u, np.nan)
    return u


def char_codes(text: str) -> np.ndarray:
    """Characters as integers, whitespace removed (sacreBLEU's chrF default)."""
    joined = "".join(text.split())
    return np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def word_codes(token_lists: Sequence[Sequence[Hashable]]) -> list[np.ndarray]:
    """Tokens as integers from one shared vocabulary."""
    vocab: dict[Hashable, int] = {}
    return [np.array([vocab.setdefault(t, len(vocab)) for t in tokens], dtype=np.uint64)
            for tokens in token_lists]


def chrf_matrix(texts: Sequence[str], order: int = 6, beta: float = 2.0) -> np.ndarray:
    """sacreBLEU chrF (char order 6, β=2, no word n-grams) of hypothesis i against ref j,
    in [0, 100]."""
    codes = [char_codes(t) for t in texts]
    size = len(texts)
    prec_sum = np.zeros((size, size))
    rec_sum = np.zeros((size, size))
    effective = np.zeros((size, size))
    for n in range(1, order + 1):
        matches, totals = ngram_matches(codes, n)
        hyp = totals[:, None]
        ref = totals[None, :]
        both = (hyp > 0) & (ref > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            prec_sum += np.where(both, matches / hyp, 0.0)
            rec_sum += np.where(both, matches / ref, 0.0)
        effective += both
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(effective > 0, prec_sum / effective, 0.0)
        r = np.where(effective > 0, rec_sum / effective, 0.0)
        factor = beta**2
        denom = factor * p + r
        score = np.where(denom > 0, 100 * (1 + factor) * p * r / denom, 0.0)
    return _mask_diagonal(score)


def bleu_tokens(texts: Sequence[str]) -> list[list[str]]:
    """sacreBLEU's default 13a tokenisation."""
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    tokenize = Tokenizer13a()
    return [tokenize(t.rstrip()).split() for t in texts]


def bleu_matrix(texts: Sequence[str], max_order: int = 4) -> np.ndarray:
    """sacreBLEU sentence BLEU (13a tokens, ``exp`` smoothing, effective order) of
    hypothesis i against reference j, in [0, 100]."""
    codes = word_codes(bleu_tokens(texts))
    size = len(texts)
    lengths = np.array([len(c) for c in codes], dtype=np.float64)
    correct, total = [], []
    for n in range(1, max_order + 1):
        matches, totals = ngram_matches(codes, n)
        correct.append(matches)
        total.append(np.broadcast_to(totals[:, None], (size, size)))
    log_sum = np.zeros((size, size))
    eff_order = np.zeros((size, size))
    smooth = np.ones((size, size))
    alive = np.ones((size, size), dtype=bool)  # orders stop at the first empty one
    for n in range(max_order):
        alive &= total[n] > 0
        zero = alive & (correct[n] == 0)
        smooth = np.where(zero, smooth * 2, smooth)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(zero, 100.0 / (smooth * total[n]),
                                 100.0 * correct[n] / total[n])
            log_sum += np.where(alive, np.log(np.where(alive, precision, 1.0)), 0.0)
        eff_order += alive
    any_match = correct[0] > 0
    hyp_len = lengths[:, None]
    ref_len = lengths[None, :]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bp = np.where(hyp_len < ref_len,
                      np.where(hyp_len > 0, np.exp(1 - ref_len / hyp_len), 0.0), 1.0)
        score = np.where(any_match & (eff_order > 0),
                         bp * np.exp(log_sum / np.maximum(eff_order, 1)), 0.0)
    return _mask_diagonal(score)


def rouge_l_matrix(texts: Sequence[str]) -> np.ndarray:
    """ROUGE-L F1 on lowercased word tokens (LCS through rapidfuzz), in [0, 1]."""
    from rapidfuzz.distance import LCSseq
    from rapidfuzz.process import cdist

    tokens = [t.lower().split() for t in texts]
    lcs = np.asarray(cdist(tokens, tokens, scorer=LCSseq.similarity, dtype=np.int32,
                           workers=1), dtype=np.float64)
    lengths = np.array([len(t) for t in tokens], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = lcs / lengths[:, None]
        recall = lcs / lengths[None, :]
        f1 = np.where(lcs > 0, 2 * precision * recall / (precision + recall), 0.0)
    return _mask_diagonal(f1)


def ngram_f1_matrix(texts: Sequence[str], n: int = 1) -> np.ndarray:
    """Clipped n-gram overlap F1 on lowercased word tokens, in [0, 1] (GSC's similarity)."""
    codes = word_codes([t.lower().split() for t in texts])
    matches, totals = ngram_matches(codes, n)
    denom = totals[:, None] + totals[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(denom > 0, 2 * matches / denom, 0.0)
    return _mask_diagonal(f1)


def exact_match_matrix(groups: Sequence[int | None]) -> np.ndarray:
    """1 where two answers are equivalent (same group), 0 otherwise or when one is None."""
    g = np.array([-1 if x is None else x for x in groups])
    u = ((g[:, None] == g[None, :]) & (g[:, None] >= 0)).astype(np.float64)
    return _mask_diagonal(u)


def pairwise_matrix(items: Sequence[str], utility: Callable[[str, str], float]) -> np.ndarray:
    """u(i, j) for every i ≠ j by calling a scalar utility (slow path for custom metrics)."""
    size = len(items)
    u = np.full((size, size), math.nan)
    for i in range(size):
        for j in range(size):
            if i != j:
                u[i, j] = utility(items[i], items[j])
    return u
