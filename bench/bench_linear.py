"""The decoder's projection kernels against each other, per product, in one run.

    python bench/bench_linear.py

SmolLM2-135M's projection shapes at 1, 8 and 32 rows, for ``F.linear`` (MKL) and oneDNN
over a pre-reordered weight. Thirty copies of each weight are cycled through, as a decode
step reads 30 layers, so the weights come from memory and not from the 32 MB cache.
"""

from __future__ import annotations

import time

import torch
from rich.console import Console
from rich.table import Table

from ttc.plugins.runtimes.local.linear import OneDnnLinear, TorchLinear

SHAPES = {"q,k,v (960×576)": (960, 576), "o (576×576)": (576, 576),
          "gate,up (3072×576)": (3072, 576), "down (576×1536)": (576, 1536),
          "LM head (49152×576)": (49152, 576)}
COPIES = 30
REPEATS = 5


def milliseconds(kernels: list, x: torch.Tensor) -> float:
    """Best time of one product, cycling through the copies."""
    for kernel in kernels:
        kernel(x)
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for kernel in kernels:
            kernel(x)
        best = min(best, (time.perf_counter() - start) / len(kernels))
    return best * 1e3


def main() -> None:
    generator = torch.Generator().manual_seed(0)
    table = Table(title=f"projection kernels, {torch.get_num_threads()} threads, best of "
                        f"{REPEATS}")
    for column in ("shape", "rows", "F.linear ms", "oneDNN ms", "oneDNN speed-up"):
        table.add_column(column)
    with torch.inference_mode():
        for name, (out, inp) in SHAPES.items():
            copies = 4 if out > 10_000 else COPIES
            weights = [torch.randn(out, inp, generator=generator) for _ in range(copies)]
            plain = [TorchLinear(w, None) for w in weights]
            packed = [OneDnnLinear(w, None) for w in weights]
            for rows in (1, 8, 32):
                x = torch.randn(rows, inp, generator=generator)
                mkl, onednn = milliseconds(plain, x), milliseconds(packed, x)
                table.add_row(name, str(rows), f"{mkl:.3f}", f"{onednn:.3f}",
                              f"×{mkl / onednn:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
