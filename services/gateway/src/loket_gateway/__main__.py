"""`python -m loket_gateway`: serve the HTTP API on 127.0.0.1."""

from __future__ import annotations

import os

import uvicorn
from loket_messaging import telemetry

from loket_gateway.app import create_app


def main() -> None:
    telemetry.configure_logging("gateway")
    port = int(os.environ.get("LOKET_GATEWAY_PORT", "18080"))
    # No access log: client addresses are personal data; the audit trail records every write
    # by principal, and acceptances keep their request's metadata as evidence.
    uvicorn.run(create_app(), host="127.0.0.1", port=port, log_level="info", access_log=False)


if __name__ == "__main__":
    main()
