"""``ttc serve-cluster --workers 2``: a router URL over N local workers, until SIGINT/SIGTERM.

Workers and the router that die are restarted (see ``launcher.Cluster``); the command
returns only when asked to, after stopping every child.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

logger = logging.getLogger(__name__)


def serve_cluster(
    workers: Annotated[int, typer.Option(min=1, help="How many `ttc serve` workers.")] = 2,
    host: Annotated[str, typer.Option(help="Address of the router and the workers.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The router's port (the URL recipes use).")]
    = 30000,
    worker_port: Annotated[int, typer.Option(help="First worker port; the next N are used.")]
    = 31000,
    policy: Annotated[str, typer.Option(help="Router policy (cache_aware, round_robin, …).")]
    = "cache_aware",
    runtime: Annotated[str, typer.Option(help="Runtime each worker serves.")] = "local",
    model: Annotated[str, typer.Option(help="Model each worker serves.")] = "",
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="Worker runtime option k=v.")
    ] = None,
    log_dir: Annotated[Path | None, typer.Option(help="Write worker/router logs here.")]
    = None,
) -> None:
    """Start N `ttc serve` workers and an sglang-router (cache_aware) over them."""
    from ttc.extras import require
    from ttc.plugins.cluster.launcher import Cluster

    for extra in ("cluster", "serve"):
        require(extra, "ttc serve-cluster")

    logging.basicConfig(level="INFO", format="%(levelname)s %(name)s: %(message)s")
    serve_args = ["--runtime", runtime]
    if model:
        serve_args += ["--model", model]
    for pair in option or []:
        serve_args += ["-o", pair]
    cluster = Cluster(workers=workers, host=host, port=port,
                      worker_ports=[worker_port + i for i in range(workers)],
                      serve_args=serve_args, policy=policy, log_dir=log_dir)
    # Only a signal ends the command: a worker or the router that dies is restarted.
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with cluster:
        typer.echo(f"router {cluster.url} ({policy}) over {', '.join(cluster.worker_urls)}")
        typer.echo(f"recipes: models: {{m: {{runtime: sglang, options: {{url: {cluster.url}}}}}}}")
        while not stop.wait(1.0):
            pass
    logger.info("stopped the router and %d workers", workers)
