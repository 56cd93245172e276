"""Matrix-vector kernels for the decoder's projections.

Decoding multiplies a few rows by every weight matrix at each step, and which GEMM library
does that decides the engine's speed: on the AMD EPYC this project runs on, oneDNN with the
weight reordered once into its blocked layout is 2.1–4.1× faster than ``F.linear`` (MKL) per
product at 1–32 rows, in the same fp32 arithmetic (``python bench/bench_linear.py``).
``auto`` picks oneDNN when torch has it and a probe agrees with ``F.linear``, else plain
torch.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Literal, Protocol

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

LinearKernel = Literal["auto", "onednn", "torch"]


class Linear(Protocol):
    out_features: int

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...

    def add_to(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """``residual + self(x)`` (one fused op where the kernel can)."""
        ...


class TorchLinear:
    """``F.linear`` on a dense weight (MKL or whatever BLAS torch was built with)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        self.weight, self.bias = weight.clone(), bias  # not a view into the weights file
        self.out_features = weight.shape[0]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)

    def add_to(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return residual + self(x)


class OneDnnLinear:
    """oneDNN inner product over a weight reordered once into oneDNN's blocked layout."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        self.packed = torch.ops.mkldnn._reorder_linear_weight(weight.contiguous(), None)
        self.bias = bias
        self.out_features = weight.shape[0]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")

    def add_to(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise.binary(x, residual, self.packed, self.bias,
                                                         "add")


class Int8Linear:
    """Dynamically quantised int8 weights (torch's eager dynamic quantisation): faster,
    with logprobs that differ from fp32 (see docs/local-engine.md)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        module = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
        with torch.no_grad():
            module.weight.copy_(weight.float())
            if bias is not None:
                module.bias.copy_(bias.float())
        with warnings.catch_warnings():  # torch deprecates eager quantisation (torchao next)
            warnings.simplefilter("ignore")
            qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
            quantised = torch.ao.quantization.quantize_dynamic(
                torch.nn.Sequential(module), {torch.nn.Linear: qconfig}, torch.qint8)
        self.module = quantised[0]
        self.out_features = weight.shape[0]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)

    def add_to(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return residual + self(x)


def onednn_works(dtype: torch.dtype) -> bool:
    """Whether oneDNN's packed inner product is present and agrees with ``F.linear``."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        generator = torch.Generator().manual_seed(0)
        weight = torch.randn(48, 64, generator=generator).to(dtype)
        x = torch.randn(3, 64, generator=generator).to(dtype)
        residual = torch.randn(3, 48, generator=generator).to(dtype)
        kernel = OneDnnLinear(weight, None)
        got, added = kernel(x).float(), kernel.add_to(x, residual).float()
    except Exception as error:  # an op missing from this torch build or CPU
        logger.info("oneDNN linear unavailable (%s); using F.linear", error)
        return False
    expected = F.linear(x.float(), weight.float())
    tolerance = 1e-4 if dtype == torch.float32 else 0.5
    return bool(torch.allclose(got, expected, atol=tolerance, rtol=0)
                and torch.allclose(added, expected + residual.float(), atol=tolerance, rtol=0))


def linear_factory(kernel: LinearKernel, dtype: torch.dtype, quantize: str
                   ) -> Callable[[torch.Tensor, torch.Tensor | None], Linear]:
    """The class that builds every projection of a model loaded with these options."""
    if quantize == "int8":
        return Int8Linear
    if kernel == "torch":
        return TorchLinear
    if onednn_works(dtype):
        return OneDnnLinear
    if kernel == "onednn":
        raise RuntimeError("linear kernel 'onednn' was asked for but this torch build or CPU "
                           "cannot run it; use linear: auto or torch")
    return TorchLinear
