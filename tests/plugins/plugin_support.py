"""Running ``ttc`` in a subprocess as if some packages were not installed (an optional
extra missing), without uninstalling anything."""

from __future__ import annotations

import os
import subprocess
import sys

BLOCKER = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Blocked())
for name in list(sys.modules):
    if name.split(".")[0] in BLOCKED:
        del sys.modules[name]
sys.argv = ["ttc", *{argv!r}]
from ttc.cli.app import main
main()
"""


def ttc_without(blocked: set[str], *argv: str, env: dict[str, str] | None = None,
                timeout: float = 180) -> subprocess.CompletedProcess:
    code = BLOCKER.format(blocked=sorted(blocked), argv=list(argv))
    full = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                          text=True, timeout=timeout)
