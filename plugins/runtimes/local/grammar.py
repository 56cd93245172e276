"""Constrained decoding: a row's next token limited to what its grammar allows.

Grammars are compiled by llguidance (regex, JSON schema, and EBNF as Lark or GBNF), chosen
over xgrammar and outlines-core (docs/local-engine.md, *Constrained decoding*: llguidance
has no dependencies, reads the model's ``tokenizer.json`` as it is and computes a mask in
10–80 µs here; xgrammar 0.2.9 needs ``apache-tvm-ffi`` besides torch and transformers;
outlines-core wants the vocabulary re-spelled as decoded bytes and has no EBNF).

Each row owns a matcher: before its token is chosen its mask sets every token the grammar
does not allow to −inf in the row's sampling logits (and every id past the tokenizer's
vocabulary); after, the token is consumed. Once the grammar is complete the mask allows only
EOS, so the row ends as any other. The statistics (logprob, entropy, top-k) are computed
from the raw logits, before the mask: they describe the model, not the constraint.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from ttc.runtime import RequestError

GrammarFormat = Literal["regex", "json_schema", "grammar"]
FORMATS: dict[str, GrammarFormat] = {"regex": "regex", "json_schema": "json_schema",
                                     "ebnf": "grammar"}
"""Request field → llguidance ``grammar_from`` format (``grammar``: Lark or GBNF)."""


class GrammarCompiler:
    """Grammars for one tokenizer; the llguidance tokenizer (~0.8 s to build) is made once,
    at the first constrained request."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._lock = threading.Lock()
        self._ll_tokenizer: Any = None

    def _ll(self) -> Any:
        with self._lock:
            if self._ll_tokenizer is None:
                import llguidance

                backend = getattr(self._tokenizer, "_backend", None)
                if backend is None:  # a transformers tokenizer
                    backend = self._tokenizer.tokenizer.backend_tokenizer
                self._ll_tokenizer = llguidance.LLTokenizer(
                    backend.to_str(), n_vocab=self._tokenizer.vocab_size,
                    eos_token=self._tokenizer.eos_token_id)
            return self._ll_tokenizer

    def compile(self, field: str, text: str) -> RowGrammar:
        """A matcher for ``text`` (a regex, a JSON schema or an EBNF grammar), checked now:
        a grammar llguidance refuses is a ``RequestError`` naming the field."""
        try:
            import llguidance
        except ImportError:
            raise RequestError(f"{field}: constrained decoding needs the llguidance package "
                               "(pip install llguidance)") from None
        try:
            grammar = llguidance.grammar_from(FORMATS[field], text)
            matcher = llguidance.LLMatcher(self._ll(), grammar)
        except Exception as error:  # llguidance raises ValueError/RuntimeError
            raise RequestError(f"{field}: not a grammar llguidance accepts: {error}") from None
        if matcher.is_error():
            raise RequestError(f"{field}: {matcher.get_error()}")
        return RowGrammar(matcher, self._ll().vocab_size)


@dataclass(eq=False)
class RowGrammar:
    """One row's place in its grammar."""

    matcher: Any
    vocab_size: int
    bitmask: np.ndarray | None = None

    def copy(self) -> RowGrammar:
        """The same grammar at the same place, for another sample of the request."""
        return RowGrammar(self.matcher.deep_copy(), self.vocab_size)

    def mask(self, logits: torch.Tensor) -> None:
        """Set the logits of disallowed tokens to −inf, in place (one ``[V]`` row). The
        bitmask (bit i of word j: token 32j + i) is unpacked with numpy: llguidance's own
        ``apply_token_bitmask_inplace`` is ``torch.compile``d, ~40 s on its first call."""
        if self.bitmask is None:
            self.bitmask = np.zeros((self.vocab_size + 31) // 32, dtype=np.int32)
        self.matcher.unsafe_compute_mask_ptr(self.bitmask.ctypes.data, self.bitmask.nbytes)
        allowed = np.unpackbits(self.bitmask.view(np.uint8), bitorder="little")
        width = min(self.vocab_size, logits.shape[0])
        blocked = torch.from_numpy(allowed[:width] == 0)
        logits[:width].masked_fill_(blocked, float("-inf"))
        logits[width:] = float("-inf")  # ids the tokenizer does not have

    def consume(self, token: int) -> bool:
        """Advance past the chosen token; False if the grammar refuses it (a bug)."""
        return bool(self.matcher.consume_token(token))
