"""`python -m loket_gateway`: serve the HTTP API on 127.0.0.1."""

from __future__ import annotations

import os

import uvicorn

from loket_gateway.app import create_app


def main() -> None:
    port = int(os.environ.get("LOKET_GATEWAY_PORT", "18080"))
    uvicorn.run(create_app(), host="127.0.0.1", port=port, log_level="info")


if __name__ == "__main__":
    main()
