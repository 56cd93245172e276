"""Run a server in a background thread: for tests, notebooks and the UI.

``uvicorn`` binds port 0 when asked for a free port, so the actual port is read back from the
listening socket instead of guessed, and two servers never race for one port.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from ttc.plugins.server.app import create_app
from ttc.plugins.server.connections import ConnectionLimits, uvicorn_config


class BackgroundServer:
    """``with BackgroundServer(runtime) as server: httpx.get(server.url + "/health")``."""

    def __init__(
        self,
        runtime: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        connection_limits: ConnectionLimits | None = None,
        **app_options: Any,
    ) -> None:
        app = create_app(runtime, **app_options)
        config = uvicorn_config(app, host=host, port=port, log_level=log_level,
                                limits=connection_limits, lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="ttc-serve", daemon=True)
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the background server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout_s)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
