"""The gateway's HTTP server, in a process of its own on a real socket: it answers with a
Date header, SIGTERM stops it gracefully although its main loop no longer wakes
ten times a second to look for a stop request, and it keeps an idle connection open
longer than clients do."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
from loket_infra.processes import READY_DEADLINE_S, free_port, port_open, wait_until

SERVE = """
import sys
from loket_gateway.__main__ import RestingServer, server_config

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})

RestingServer(server_config(app, int(sys.argv[1]), lifespan="off")).run()
"""


@contextmanager
def serving(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes], Path]]:
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        alive = lambda: server.poll() is None  # noqa: E731
        wait_until("server", lambda: port_open(port), READY_DEADLINE_S, alive, log)
        yield port, server, log
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_serves_with_a_date_and_stops_on_sigterm(tmp_path: Path) -> None:
    with serving(tmp_path) as (port, server, log):
        answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert answer.text == "ok"
        served_at = parsedate_to_datetime(answer.headers["date"]).timestamp()
        assert abs(served_at - time.time()) < 5  # refreshed by the once-a-second tick

        server.send_signal(signal.SIGTERM)
        # The deadline is only a guard for a loaded machine. uvicorn ends a graceful stop by
        # raising the signal it caught again, as a process stopped by it would.
        assert server.wait(timeout=60) in (0, -signal.SIGTERM)
        assert "Finished server process" in log.read_text()  # a graceful stop, not a kill


def exchange(conn: socket.socket) -> bytes:
    """One request on `conn` and its whole answer (chunked: it ends with an empty chunk), or
    what came before the server closed the connection."""
    conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while not answer.endswith(b"0\r\n\r\n"):
        more = conn.recv(4096)
        if not more:
            break
        answer += more
    return answer


def test_an_idle_connection_outlives_the_clients_keep_alive(tmp_path: Path) -> None:
    """httpx drops a connection idle for 5 s; had the server closed it at the same moment,
    a request sent on it then would be reset. So the server must still hold it after that."""
    client_keeps_s = httpx.Limits().keepalive_expiry
    assert client_keeps_s is not None
    with serving(tmp_path) as (port, _, _), socket.create_connection(("127.0.0.1", port)) as conn:
        conn.settimeout(60)
        assert exchange(conn).startswith(b"HTTP/1.1 200")
        # What the test is about is this stretch of idleness, so it is waited out.
        time.sleep(client_keeps_s + 1)
        assert exchange(conn).startswith(b"HTTP/1.1 200")  # b"" had the server closed it
