"""Token validation overhead per request: `python -m bench.token_validation` →
bench/results/token_validation.json.

Starts the stack's Keycloak on 127.0.0.1 and takes a real RS256 access token, then measures
- verify: `TokenVerifier.verify` alone (signature against the cached JWKS, issuer, audience,
  expiry), per call;
- http: one request through a FastAPI app in-process (httpx ASGI transport), the same trivial
  route with and without the gateway's `caller(...)` dependency (token verified off the event
  loop, roles checked, write rate not involved on a GET). The difference is the overhead a
  request pays for authentication.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI
from loket_gateway.auth import MANAGER, caller
from loket_gateway.identity import Principal, TokenVerifier
from loket_gateway.limits import WriteRate
from loket_infra import keycloak as kc
from loket_infra.identities import running_provider

N = int(os.environ.get("BENCH_N", "2000"))
WARMUP = 200
OUT = Path(__file__).parent / "results" / "token_validation.json"


def _app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    app.state.loket = SimpleNamespace(verifier=verifier, write_rate=WriteRate())

    @app.get("/open")
    async def open_route() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/guarded")
    async def guarded(who: Annotated[Principal, Depends(caller(MANAGER))]) -> dict[str, str]:
        return {"ok": who.subject}

    return app


async def _http(app: FastAPI, path: str, headers: dict[str, str]) -> list[float]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        samples = []
        for i in range(WARMUP + N):
            t0 = time.perf_counter()
            resp = await client.get(path, headers=headers)
            took = time.perf_counter() - t0
            assert resp.status_code == 200, resp.text
            if i >= WARMUP:
                samples.append(took * 1e6)
        return samples


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "mean_us": round(statistics.fmean(samples), 1),
        "p50_us": round(ordered[len(ordered) // 2], 1),
        "p95_us": round(ordered[int(len(ordered) * 0.95)], 1),
    }


def main() -> None:
    t0 = time.monotonic()
    with running_provider(Path(tempfile.mkdtemp(prefix="loket-bench-"))) as provider:
        keycloak_ready_s = time.monotonic() - t0
        token = provider.role("manager")
        verifier = TokenVerifier(provider.issuer, kc.AUDIENCE)
        for _ in range(WARMUP):
            verifier.verify(token)
        verify = []
        for _ in range(N):
            t = time.perf_counter()
            verifier.verify(token)
            verify.append((time.perf_counter() - t) * 1e6)
        app = _app(verifier)
        bearer = {"Authorization": f"Bearer {token}"}
        open_samples = asyncio.run(_http(app, "/open", {}))
        guarded_samples = asyncio.run(_http(app, "/guarded", bearer))
    result = {
        "benchmark": "token_validation",
        "n": N,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "keycloak_ready_s": round(keycloak_ready_s, 1),
        "algorithm": "RS256 (Keycloak realm key, 2048-bit)",
        "verify": _summary(verify),
        "http_open_route": _summary(open_samples),
        "http_guarded_route": _summary(guarded_samples),
        "overhead_per_request_us": round(
            statistics.fmean(guarded_samples) - statistics.fmean(open_samples), 1
        ),
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
