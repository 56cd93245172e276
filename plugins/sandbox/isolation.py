"""Which isolation a run gets: kernel isolation when this machine has it, never less
unless asked for by name."""

from __future__ import annotations

import functools
import os
import shutil
from typing import get_args

from ttc import TTCError
from ttc.plugins.sandbox.job import python_job
from ttc.plugins.sandbox.limits import Isolation, SandboxLimits

ENV_VAR = "TTC_SANDBOX"
FIX = ("install bubblewrap (apt-get install bubblewrap) or enable unprivileged user "
       "namespaces (sysctl -w kernel.unprivileged_userns_clone=1 on Debian, "
       "user.max_user_namespaces > 0, or an AppArmor profile allowing them on Ubuntu); "
       f"or, only for code you would run yourself, set {ENV_VAR}=unsafe")


class SandboxUnavailable(TTCError):
    """Model-written code was not run: this machine offers no kernel isolation for it (or
    building the sandbox failed). The message says what to install."""


def choose_isolation(requested: Isolation) -> str:
    """The backend for a run: the limits' choice, else ``$TTC_SANDBOX``, else the first of
    namespaces and bwrap that works here."""
    name = requested if requested != "auto" else os.environ.get(ENV_VAR, "auto") or "auto"
    if name not in get_args(Isolation):
        raise SandboxUnavailable(f"{ENV_VAR}={name!r} is not one of "
                                 f"{', '.join(get_args(Isolation))}")
    if name == "unsafe":
        return "unsafe"
    candidates = ("namespaces", "bwrap") if name == "auto" else (name,)
    problems = []
    for candidate in candidates:
        problem = probe(candidate)
        if problem is None:
            return candidate
        problems.append(f"{candidate}: {problem}")
    fix = FIX if name == "auto" else f"use isolation 'auto', or fix what {name} reports"
    raise SandboxUnavailable(
        f"model-written code was not run: no kernel isolation here ({'; '.join(problems)})."
        f"\n    fix: {fix}")


@functools.cache
def probe(backend: str) -> str | None:
    """None when ``backend`` runs ``pass`` in a sandbox here, else why not (once per
    process: the answer does not change while ttc runs)."""
    from ttc.plugins.sandbox.run import run_job  # run.py imports this module

    if backend == "bwrap" and shutil.which("bwrap") is None:
        return "not installed"
    limits = SandboxLimits(timeout_s=30)
    try:
        result, _ = run_job(python_job("pass", limits), limits, isolation=backend)
    except SandboxUnavailable as error:
        return str(error)
    except Exception as error:  # e.g. no pidfd_open: not a Linux we can isolate on
        return f"{type(error).__name__}: {error}"
    if result.ok:
        return None
    last = result.stderr.strip().splitlines()[-1:]
    return f"{result.status}: {last[0] if last else 'the interpreter did not run'}"
