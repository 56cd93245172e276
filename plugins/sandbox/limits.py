"""The limits a sandboxed run gets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SandboxLimits(BaseModel):
    """Per-run limits (the defaults suit a unit-test run of a short function)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    timeout_s: float = Field(default=5.0, gt=0, le=600)
    """Wall-clock seconds before the process group is killed."""
    cpu_s: int = Field(default=5, ge=1, le=600)
    """CPU seconds (RLIMIT_CPU); the kernel kills the process past it."""
    memory_mb: int = Field(default=512, ge=32, le=65536)
    """Address-space cap (RLIMIT_AS)."""
    output_bytes: int = Field(default=64_000, ge=1024, le=64_000_000)
    """Most bytes kept of stdout and of stderr; also the largest file it may write."""
    max_processes: int = Field(default=16, ge=1, le=4096)
    """RLIMIT_NPROC for the sandbox user (enforced when it runs as ``nobody``)."""
