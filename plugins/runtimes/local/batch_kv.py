"""The running batch's KV cache: one left-padded time axis shared by all rows.

Rows that joined later have leading padding columns (masked out), so every decode step
writes the new token of every row at the same column. Joining a batch pads and merges;
finishing drops rows and trims columns no row still uses.
"""

from __future__ import annotations

import torch

_HEADROOM = 64


class BatchKV:
    """Per-layer K/V buffers ``[rows, kv_heads, capacity, head_dim]`` plus a validity mask."""

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor],
                 valid: torch.Tensor, length: int) -> None:
        self.keys = keys
        self.values = values
        self.valid = valid
        """``[rows, capacity]`` bool: which columns hold a real token of that row."""
        self.length = length
        """Columns in use; the next token of every row goes to column ``length``."""

    @property
    def rows(self) -> int:
        return self.valid.shape[0]

    @property
    def capacity(self) -> int:
        return self.valid.shape[1]

    @classmethod
    def empty(cls, layers: int, kv_heads: int, head_dim: int, dtype: torch.dtype,
              rows: int = 0) -> BatchKV:
        shape = (rows, kv_heads, _HEADROOM, head_dim)
        return cls([torch.zeros(shape, dtype=dtype) for _ in range(layers)],
                   [torch.zeros(shape, dtype=dtype) for _ in range(layers)],
                   torch.zeros(rows, _HEADROOM, dtype=torch.bool), 0)

    @classmethod
    def single(cls, keys: list[torch.Tensor], values: list[torch.Tensor], extra: int) -> BatchKV:
        """One row holding ``[1, heads, n, dim]`` prefix tensors, room for ``extra`` more."""
        length = keys[0].shape[2] if keys else 0
        capacity = length + extra
        out_k, out_v = [], []
        for key, value in zip(keys, values, strict=True):
            buffer_k = key.new_empty(1, key.shape[1], capacity, key.shape[3])
            buffer_v = torch.empty_like(buffer_k)
            buffer_k[:, :, :length] = key
            buffer_v[:, :, :length] = value
            out_k.append(buffer_k)
            out_v.append(buffer_v)
        valid = torch.zeros(1, capacity, dtype=torch.bool)
        valid[:, :length] = True
        return cls(out_k, out_v, valid, length)

    def positions(self) -> torch.Tensor:
        """Each row's next position id: how many real tokens it holds."""
        return self.valid[:, : self.length].sum(dim=1)

    def reserve(self, tokens: int) -> None:
        """Make room for ``tokens`` more columns."""
        if self.length + tokens <= self.capacity:
            return
        capacity = self.length + tokens + _HEADROOM
        self.keys = [_resize(t, capacity, self.length) for t in self.keys]
        self.values = [_resize(t, capacity, self.length) for t in self.values]
        valid = torch.zeros(self.rows, capacity, dtype=torch.bool)
        valid[:, : self.length] = self.valid[:, : self.length]
        self.valid = valid

    def write(self, layer: int, key: torch.Tensor, value: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``[rows, heads, t, dim]`` new K/V; return views of all columns so far."""
        end = self.length + key.shape[2]
        self.keys[layer][:, :, self.length:end] = key
        self.values[layer][:, :, self.length:end] = value
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def advance(self, tokens: int) -> None:
        self.valid[:, self.length:self.length + tokens] = True
        self.length += tokens

    def segment(self, row: int, start: int, end: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per-layer ``(K, V)`` of one row's columns ``start:end`` as ``[heads, n, dim]``."""
        return [(k[row, :, start:end], v[row, :, start:end])
                for k, v in zip(self.keys, self.values, strict=True)]

    def token_major(self, row: int, start: int, end: int) -> torch.Tensor:
        """One row's columns ``start:end`` as ``[tokens, layers, 2, heads, dim]`` (a copy):
        the prefix cache's layout, where the token axis comes first so edges split by
        slicing."""
        stacked = torch.stack([torch.stack(pair) for pair in self.segment(row, start, end)])
        return stacked.permute(3, 0, 1, 2, 4)

    def merge(self, other: BatchKV, copies: int) -> None:
        """Append ``copies`` rows that each repeat ``other``'s single row (shared prefill)."""
        length = max(self.length, other.length)
        capacity = length + _HEADROOM
        rows = self.rows + copies
        shift_self, shift_other = length - self.length, length - other.length
        keys, values = [], []
        for mine, theirs in zip(self.keys + self.values, other.keys + other.values, strict=True):
            merged = mine.new_zeros(rows, mine.shape[1], capacity, mine.shape[3])
            merged[: self.rows, :, shift_self:length] = mine[:, :, : self.length]
            merged[self.rows:, :, shift_other:length] = theirs[:, :, : other.length]
            keys.append(merged)
        half = len(keys) // 2
        keys, values = keys[:half], keys[half:]
        valid = torch.zeros(rows, capacity, dtype=torch.bool)
        valid[: self.rows, shift_self:length] = self.valid[:, : self.length]
        valid[self.rows:, shift_other:length] = other.valid[:, : other.length]
        self.keys, self.values, self.valid, self.length = keys, values, valid, length

    def keep(self, rows: list[int]) -> None:
        """Keep only ``rows`` (in this order); drop leading columns no kept row uses."""
        index = torch.tensor(rows, dtype=torch.long)
        valid = self.valid[index, : self.length]
        used = valid.any(dim=0).nonzero()
        start = int(used[0]) if len(used) else self.length
        length = self.length - start
        capacity = length + _HEADROOM
        self.keys = [_take(t, index, start, self.length, capacity) for t in self.keys]
        self.values = [_take(t, index, start, self.length, capacity) for t in self.values]
        new_valid = torch.zeros(len(rows), capacity, dtype=torch.bool)
        new_valid[:, :length] = valid[:, start:]
        self.valid, self.length = new_valid, length


def _resize(tensor: torch.Tensor, capacity: int, length: int) -> torch.Tensor:
    out = tensor.new_empty(tensor.shape[0], tensor.shape[1], capacity, tensor.shape[3])
    out[:, :, :length] = tensor[:, :, :length]
    return out


def _take(tensor: torch.Tensor, index: torch.Tensor, start: int, end: int,
          capacity: int) -> torch.Tensor:
    out = tensor.new_empty(len(index), tensor.shape[1], capacity, tensor.shape[3])
    out[:, :, : end - start] = tensor[index, :, start:end]
    return out
