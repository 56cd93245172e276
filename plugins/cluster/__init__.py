"""``ttc serve-cluster``: N ``ttc serve`` workers behind one ``sglang-router`` on this machine.

Python API: ``ttc.plugins.cluster.launcher.Cluster`` (workers and router as subprocesses).
"""

from __future__ import annotations

from typing import Any

from ttc.plugin_system import hookimpl


@hookimpl
def ttc_register_commands(cli: Any) -> None:
    from ttc.plugins.cluster.command import serve_cluster

    cli.command("serve-cluster")(serve_cluster)
