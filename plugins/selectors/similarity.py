"""Pairwise similarity matrices for MBR and GSC, vectorised over all N×N pairs at once.

Every n-gram metric here reduces to clipped match counts min(c_i(g), c_j(g)). N-grams get
exact integer ids order by order from one concatenation of all texts (no per-candidate
extraction, no hashing, sort-free lookup tables while they are small), and
min(a, b) = Σ_{k≥1} [a ≥ k][b ≥ k] turns the N×N match counts of one order into a single
product D·Dᵀ of occurrence incidences, one column per (n-gram, k) — dense float32 (BLAS)
when small (exact: counts stay far below 2**24), sparse otherwise. chrF and BLEU follow
sacreBLEU's sentence-level definitions (checked against sacreBLEU in the tests); ROUGE-L
uses rapidfuzz's LCS. ``u[i, j]`` is the utility of hypothesis i against reference
j; the diagonal is NaN, never a self-comparison.

scipy (sparse products), sacreBLEU and rapidfuzz come with the ``metrics`` extra and are
imported when used; the components that use these matrices check for the extra in their
configs, so a recipe without it fails validation, not a run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy import sparse

_TABLE_LIMIT = 1 << 22
"""Ranks of the next order come from a lookup table while (distinct grams × alphabet) is at
most this; above it, from a sort (np.unique)."""
_DENSE_COUNTS_LIMIT = 1 << 22
"""Per-document counts are a dense N × G matrix while it has at most this many cells."""
_DENSE_PRODUCT_LIMIT = 1 << 21
"""Matches come from one dense float32 product while N × (occurrence columns) is at most
this; above it, from a sparse product."""


def _dense_ranks(keys: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """Keys in [0, size) to ranks 0..G−1 in key order, and G — sort-free when ``size`` is
    small (a presence table), by np.unique otherwise."""
    if size <= _TABLE_LIMIT:
        present = np.zeros(size, dtype=bool)
        present[keys] = True
        found = np.flatnonzero(present)
        table = np.empty(size, dtype=np.int64)
        table[found] = np.arange(len(found))
        return table[keys], len(found)
    found, ranks = np.unique(keys, return_inverse=True)
    return ranks.reshape(-1), len(found)


class NgramIndex:
    """Exact n-gram ids of a set of integer sequences, refined order by order.

    The sequences are concatenated once; the id of the n-gram at position p is the rank of
    (id of the (n−1)-gram at p, symbol at p+n−1), so each order costs one pass and no
    hashing (no collisions). N-grams that cross a document boundary get ids too, but are
    never counted.
    """

    def __init__(self, sequences: Sequence[np.ndarray]) -> None:
        self.size = len(sequences)
        self.lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        joined = np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences]
                                ) if self.size else np.empty(0, dtype=np.int64)
        self.symbols, self.alphabet = joined, 0  # symbols as ranks 0..A−1
        if len(joined):
            low = int(joined.min())
            self.symbols, self.alphabet = _dense_ranks(joined - low, int(joined.max()) - low + 1)
        self.docs = np.repeat(np.arange(self.size), self.lengths)
        starts = np.concatenate(([0], np.cumsum(self.lengths)[:-1]))
        self.offsets = np.arange(len(joined)) - np.repeat(starts, self.lengths)
        self.order = 1
        self.ids, self.distinct = self.symbols, self.alphabet

    def advance(self) -> None:
        """From order n to order n + 1."""
        keys = self.ids[:-1] * self.alphabet + self.symbols[self.order:]
        self.ids, self.distinct = _dense_ranks(keys, self.distinct * self.alphabet)
        self.order += 1

    def matches(self) -> tuple[np.ndarray, np.ndarray]:
        """Clipped match counts of the current order for every pair, and each document's
        n-gram total: ``matches[i, j] = Σ_g min(c_i(g), c_j(g))``."""
        n, size = self.order, self.size
        totals = np.maximum(self.lengths - n + 1, 0).astype(np.float64)
        if not totals.any():
            return np.zeros((size, size)), totals
        valid = self.offsets[: len(self.ids)] + n <= self.lengths[self.docs[: len(self.ids)]]
        docs, grams = self.docs[: len(self.ids)][valid], self.ids[valid]
        counts: np.ndarray | sparse.csr_matrix
        if size * self.distinct <= _DENSE_COUNTS_LIMIT:
            # ids of boundary-crossing n-grams stay as all-zero columns: no incidence columns
            counts = np.bincount(docs * self.distinct + grams,
                                 minlength=size * self.distinct).reshape(size, self.distinct)
        else:
            from scipy import sparse

            _, grams = np.unique(grams, return_inverse=True)
            counts = sparse.csr_matrix(
                (np.ones(len(grams), dtype=np.int64), (docs, grams.reshape(-1))),
                shape=(size, int(grams.max()) + 1))
            counts.sum_duplicates()
        return _clipped_products(counts), totals


def _clipped_products(counts: np.ndarray | sparse.csr_matrix) -> np.ndarray:
    """Σ_g min(C[i, g], C[j, g]) for all i, j, as a product of occurrence incidences:
    min(a, b) = Σ_{k≥1} [a ≥ k][b ≥ k], one column per (gram, k)."""
    size = counts.shape[0]
    rows: np.ndarray  # the two branches give other integer widths
    cols: np.ndarray
    if isinstance(counts, np.ndarray):
        width: np.ndarray = counts.max(axis=0)
        if size * int(width.sum()) <= _DENSE_PRODUCT_LIMIT:
            gram = np.repeat(np.arange(len(width)), width)
            level = np.arange(len(gram)) - np.repeat(np.cumsum(width) - width, width)
            incidence = (counts[:, gram] > level).astype(np.float32)
            return (incidence @ incidence.T).astype(np.float64)
        rows, cols = np.nonzero(counts)  # row-major: by document, then gram
        values = counts[rows, cols]
    else:
        coo = counts.tocoo()  # canonical CSR: by document, then gram
        rows, cols, values = coo.row, coo.col, coo.data
        width = np.zeros(counts.shape[1], dtype=np.int64)
        np.maximum.at(width, cols, values)
    from scipy import sparse

    base = np.cumsum(width) - width
    first = np.repeat(np.cumsum(values) - values, values)
    columns = np.repeat(base[cols], values) + np.arange(int(values.sum())) - first
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, weights=values,
                                                         minlength=size)))).astype(np.int64)
    incidence = sparse.csr_matrix(
        (np.ones(len(columns), dtype=np.float32), columns, indptr),
        shape=(size, int(width.sum())))
    return (incidence @ incidence.T).toarray().astype(np.float64)


def ngram_matches(sequences: Sequence[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Clipped n-gram match counts for every pair, and each sequence's n-gram total.

    Returns ``(matches, totals)`` with ``matches[i, j] = Σ_g min(c_i(g), c_j(g))``.
    """
    index = NgramIndex(sequences)
    for _ in range(n - 1):
        index.advance()
    return index.matches()


def ngram_matches_upto(sequences: Sequence[np.ndarray], max_order: int
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``ngram_matches`` for orders 1..max_order, sharing one index."""
    index = NgramIndex(sequences)
    out = [index.matches()]
    for _ in range(max_order - 1):
        index.advance()
        out.append(index.matches())
    return out


def _mask_diagonal(u: np.ndarray) -> np.ndarray:
    np.fill_diagonal(u, np.nan)
    return u


def char_codes(text: str) -> np.ndarray:
    """Characters as integers, whitespace removed (sacreBLEU's chrF default)."""
    joined = "".join(text.split())
    return np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


def word_codes(token_lists: Sequence[Sequence[Hashable]]) -> list[np.ndarray]:
    """Tokens as integers from one shared vocabulary."""
    vocab: dict[Hashable, int] = {}
    return [np.array([vocab.setdefault(t, len(vocab)) for t in tokens], dtype=np.int64)
            for tokens in token_lists]


def chrf_matrix(texts: Sequence[str], order: int = 6, beta: float = 2.0) -> np.ndarray:
    """sacreBLEU chrF (char order 6, β=2, no word n-grams) of hypothesis i against ref j,
    in [0, 100]."""
    codes = [char_codes(t) for t in texts]
    size = len(texts)
    prec_sum = np.zeros((size, size))
    rec_sum = np.zeros((size, size))
    effective = np.zeros((size, size))
    for matches, totals in ngram_matches_upto(codes, order):
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
    for matches, totals in ngram_matches_upto(codes, max_order):
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
