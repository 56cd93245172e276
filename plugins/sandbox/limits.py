"""The limits a sandboxed run gets, and how it is isolated."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Isolation = Literal["auto", "namespaces", "bwrap", "unsafe"]


class SandboxLimits(BaseModel):
    """Per-run limits (the defaults suit a unit-test run of a short function)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    timeout_s: float = Field(default=5.0, gt=0, le=600)
    """Wall-clock seconds before every process of the run is killed."""
    cpu_s: int = Field(default=5, ge=1, le=600)
    """CPU seconds per process (RLIMIT_CPU); the kernel stops a process past it."""
    memory_mb: int = Field(default=512, ge=32, le=65536)
    """Address-space cap per process (RLIMIT_AS)."""
    output_bytes: int = Field(default=64_000, ge=1024, le=64_000_000)
    """Most bytes kept of stdout and of stderr; also the largest file it may write."""
    max_processes: int = Field(default=16, ge=1, le=4096)
    """RLIMIT_NPROC: processes of the sandbox user at once (its own user namespace, so
    other sandboxes and ttc's threads do not count)."""
    disk_mb: int = Field(default=16, ge=1, le=4096)
    """Size of the writable work folder, a tmpfs (so it is memory); with the namespaces
    backend also at most 256 files per MiB."""
    isolation: Isolation = "auto"
    """``auto``: kernel isolation, Linux namespaces made by ttc's launcher where user
    namespaces work, else bubblewrap, else ``SandboxUnavailable`` saying what to install
    (the ``TTC_SANDBOX`` environment variable may name the backend instead). ``unsafe``
    runs without kernel isolation (rlimits and the audit hook only): opt in only for code
    you would run yourself."""
    audit_hook: bool = True
    """Refuse sockets, new processes, ctypes, signals and writes outside the work folder
    inside the interpreter, with a clear "not allowed" message. A courtesy to code that
    tries, not a boundary: code can switch it off; the kernel layers hold without it."""
