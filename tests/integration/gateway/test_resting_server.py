"""The gateway's HTTP server, in a process of its own on a real socket: it answers with a
Date header, and SIGTERM stops it gracefully although its main loop no longer wakes
ten times a second to look for a stop request."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
from loket_infra.processes import READY_DEADLINE_S, free_port, port_open, wait_until

SERVE = """
import sys, uvicorn
from loket_gateway.__main__ import RestingServer

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})

RestingServer(uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), lifespan="off")).run()
"""


def test_serves_with_a_date_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        alive = lambda: server.poll() is None  # noqa: E731
        wait_until("server", lambda: port_open(port), READY_DEADLINE_S, alive, log)
        answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert answer.text == "ok"
        served_at = parsedate_to_datetime(answer.headers["date"]).timestamp()
        assert abs(served_at - time.time()) < 5  # refreshed by the once-a-second tick

        server.send_signal(signal.SIGTERM)
        # The deadline is only a guard for a loaded machine. uvicorn ends a graceful stop by
        # raising the signal it caught again, as a process stopped by it would.
        assert server.wait(timeout=60) in (0, -signal.SIGTERM)
        assert "Finished server process" in log.read_text()  # a graceful stop, not a kill
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
