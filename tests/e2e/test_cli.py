"""A start-up's CLI session, as a person types it: `loket login` through the provider's login
page (in headless Chromium), then apply from the README's example file, follow, download the
terms, accept by their hash, and apply again from the first application. Refusals read as the
problem's title and detail, never a stack trace."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from loket_infra.identities import DEMO_PEOPLE
from loket_infra.stack import EmbeddedStack

from .conftest import Loket

ROOT = Path(__file__).resolve().parents[2]
LOKET = str(Path(sys.executable).parent / "loket")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


async def cli(
    stack: EmbeddedStack,
    home: Path,
    *args: str,
    token: str | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, str]:
    environment = {
        **os.environ,
        "LOKET_GATEWAY_URL": stack.gateway_url,
        "LOKET_OIDC_ISSUER": stack.identity.issuer,
        "LOKET_HOME": str(home),
        "COLUMNS": "100",
        **(env or {}),
    }
    environment.pop("LOKET_TOKEN", None)
    if token:
        environment["LOKET_TOKEN"] = token
    done = await asyncio.to_thread(
        subprocess.run,
        [LOKET, *args],
        env=environment,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def application_file(loket: Loket, tmp_path: Path) -> Path:
    """The README's example, asking for a service type of this test's own facility."""
    body = yaml.safe_load((ROOT / "examples" / "application.yaml").read_text())
    path = tmp_path / "application.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


async def test_a_start_up_from_apply_to_voucher(
    loket: Loket, application_file: Path, tmp_path: Path
) -> None:
    site = await loket.facility("DE")
    body = yaml.safe_load(await asyncio.to_thread(application_file.read_text))
    body["needs"][0]["service_type"] = site.service_type
    await asyncio.to_thread(application_file.write_text, yaml.safe_dump(body))
    ada = loket.stack.identity.applicant("AT-qubitron")

    code, said = await cli(loket.stack, tmp_path, "apply", str(application_file), token=ada)
    assert code == 0, said
    app_id = said.split("Submitted ")[1].split()[0]
    code, said = await cli(loket.stack, tmp_path, "status", app_id, "--follow", token=ada)
    assert code == 0 and "awaiting_acceptance" in said, said
    code, said = await cli(loket.stack, tmp_path, "accept", app_id, token=ada)
    assert code == 1 and "read the terms first" in said and "Traceback" not in said
    code, said = await cli(loket.stack, tmp_path, "terms", app_id, token=ada)
    assert code == 0, said
    pdf = await asyncio.to_thread((tmp_path / f"{app_id}.pdf").read_bytes)
    assert pdf.startswith(b"%PDF")
    code, said = await cli(loket.stack, tmp_path, "accept", app_id, token=ada)
    assert code == 0 and "Accepted" in said, said
    code, said = await cli(loket.stack, tmp_path, "status", app_id, "--follow", token=ada)
    assert code == 0 and "voucher_issued" in said and "V-" in said, said

    # Applying again from another machine (a fresh home): the gateway keeps what was asked.
    elsewhere = tmp_path / "another-laptop"
    elsewhere.mkdir()
    code, said = await cli(loket.stack, elsewhere, "apply", "--from", app_id, token=ada)
    assert code == 0 and "Submitted app-" in said, said
    again = said.split("Submitted ")[1].split()[0]
    asked = (await loket.http.get(f"/v1/applications/{again}/request")).json()
    assert asked["needs"][0]["service_type"] == site.service_type
    assert asked["applicant"]["undertaking_id"] == "AT-qubitron"
    stranger = loket.stack.identity.applicant("DE-someone-else")
    code, said = await cli(loket.stack, elsewhere, "apply", "--from", app_id, token=stranger)
    assert code == 1 and "No such application (404)" in said, said


async def test_refusals_read_as_problems(loket: Loket, tmp_path: Path) -> None:
    ada = loket.stack.identity.applicant("AT-qubitron")
    code, said = await cli(loket.stack, tmp_path, "status", "app-none-such", token=ada)
    assert code == 1 and "No such application (404)" in said and "Traceback" not in said
    bad = tmp_path / "bad.yaml"
    await asyncio.to_thread(
        bad.write_text, "applicant: {country: XX}\npriority_area: quantum\nneeds: []\n"
    )
    code, said = await cli(loket.stack, tmp_path, "apply", str(bad), token=ada)
    assert code == 1 and "Not a valid file" in said and "needs" in said
    code, said = await cli(loket.stack, tmp_path, "status", "app-x")
    assert code == 1 and "not logged in: run `loket login`" in said


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium (make test installs it)")
async def test_login_through_the_providers_page(loket: Loket, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    from .test_console import FLAGS

    stack = loket.stack
    env = {
        **os.environ,
        "LOKET_GATEWAY_URL": stack.gateway_url,
        "LOKET_OIDC_ISSUER": stack.identity.issuer,
        "LOKET_HOME": str(tmp_path),
    }
    env.pop("LOKET_TOKEN", None)
    login = await asyncio.create_subprocess_exec(
        LOKET, "login", "--no-browser", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        assert login.stderr is not None
        line = (await asyncio.wait_for(login.stderr.readline(), 120)).decode()
        url = line.split("Log in at: ", 1)[1].strip()
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = await browser.new_page()
            await page.goto(url)
            await page.fill("#username", DEMO_PEOPLE["applicant"])
            await page.fill("#password", stack.identity.credentials.demo_password)
            await page.click("#kc-login")
            await page.wait_for_url("http://127.0.0.1:*/callback*")
            assert "Logged in to Loket" in await page.inner_text("body")
            await browser.close()
        assert await asyncio.wait_for(login.wait(), 60) == 0
    finally:
        if login.returncode is None:
            login.kill()
    stored = await asyncio.to_thread((tmp_path / "credentials.json").stat)
    assert stored.st_mode & 0o777 == 0o600
    code, said = await cli(stack, tmp_path, "status", "app-none-such")  # the stored login's token
    assert code == 1 and "(404)" in said, said
