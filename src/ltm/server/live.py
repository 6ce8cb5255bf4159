"""Run the app under uvicorn in a background thread (tests, ``ltm bench load|fuzz``)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``with LiveServer(app) as srv: httpx.get(srv.url + "/v1/health")``."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int | None = None,
                 log_level: str = "warning", **config: Any) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        cfg = uvicorn.Config(app, host=host, port=self.port, log_level=log_level, ws="none",
                             lifespan="on", **config)
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, name="ltm-live-server",
                                       daemon=True)

    def start(self, timeout: float = 30.0) -> Self:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
