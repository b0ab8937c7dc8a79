"""The programme console in headless Chromium (Debian's, driven by Playwright): a manager logs
in at the provider, reads every panel, and each number on screen is the API's; a review is
decided from the work queue; every table exports to CSV. Screenshots go to LOKET_SCREENSHOTS
(default: the test's temporary folder)."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from loket_infra.identities import DEMO_PEOPLE, IdentityProvider
from loket_infra.stack import EmbeddedStack

from .conftest import PATIENCE_S, Loket, acting_client, platform

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="no Chromium here (make test installs Debian's)"
)
# Headless, and nothing to the network but loopback (the machine's network is closed).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def console_stack(
    tmp_path_factory: pytest.TempPathFactory, identity: IdentityProvider
) -> Iterator[EmbeddedStack]:
    # Snapshots every 2 s: the budget's and capacity's history has points within the test.
    env = {"LOKET_SNAPSHOT_S": "2"}
    with platform(tmp_path_factory.mktemp("console"), identity, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("LOKET_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
async def seeded(console_stack: EmbeddedStack) -> dict[str, str]:
    """One voucher, one manual review, one refusal, on a platform of the module's own."""
    async with acting_client(console_stack) as http:
        loket = Loket(console_stack, http)
        site = await loket.facility("DE", units=8, price=4000)
        issued = await loket.submit(loket.application(loket.applicant("AT"), (site, 2)))
        terms = await loket.until_terms(issued)
        await http.post(f"/v1/applications/{issued}/accept", json={"terms_sha256": terms["sha256"]})
        await loket.wait_stage(issued, {"voucher_issued"})
        doubtful = loket.applicant("DK", difficulty={"more_than_half_capital_lost": None})
        review = await loket.submit(loket.application(doubtful, (site, 1)))
        await loket.wait_stage(review, {"manual_review"})
        large = loket.applicant(
            "FR", staff_awu=900, turnover_eur="200000000", balance_sheet_eur="150000000"
        )
        refused = await loket.submit(loket.application(large, (site, 1)))
        await loket.wait_stage(refused, {"ineligible"})
    return {"issued": issued, "review": review, "refused": refused}


@pytest.fixture(scope="module")
async def browser_page(console_stack: EmbeddedStack) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            yield page
        finally:
            await browser.close()


async def until_granted_in_history(http: Any) -> None:
    end = time.monotonic() + PATIENCE_S
    while True:
        points = (await http.get("/v1/history/budget")).json()
        if any(Decimal(p["values"]["granted"]) > 0 for p in points):
            return
        assert time.monotonic() < end, "no snapshot shows the voucher's grant"
        await asyncio.sleep(0.5)


async def logged_in(page: Any, stack: EmbeddedStack) -> None:
    """Through the provider's own login form, as a person would."""
    await page.goto(f"{stack.gateway_url}/console")
    if "/console/" not in page.url:
        await page.fill("#username", DEMO_PEOPLE["manager"])
        await page.fill("#password", stack.identity.credentials.demo_password)
        await page.click("#kc-login")
    await page.wait_for_url(f"{stack.gateway_url}/console/queue")


async def table(page: Any, name: str) -> list[list[str]]:
    rows = await page.locator(f"#table-{name} tbody tr").all()
    return [[c.strip() for c in await r.locator("td").all_inner_texts()] for r in rows]


def money(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


async def test_the_console_shows_what_the_api_says(
    console_stack: EmbeddedStack, seeded: dict[str, str], browser_page: Any, shots: Path
) -> None:
    page = browser_page
    await logged_in(page, console_stack)
    async with acting_client(console_stack) as http:
        listed = (await http.get("/v1/applications", params={"limit": 500})).json()["items"]
        utilisation = (await http.get("/v1/utilisation")).json()
        aid = (await http.get("/v1/registers/aid")).json()["rows"]
        call = listed[0]["call_id"]
        budget = (await http.get(f"/v1/calls/{call}/budget")).json()["areas"]

    # Work queue: the review waits, with its escalation deadline, and links to its page.
    reviews = await table(page, "reviews")
    assert [r[0] for r in reviews] == [seeded["review"]]
    await page.screenshot(path=shots / "console-queue.png", full_page=True)

    # Funnel: applications by stage per call, as the listing API counts them.
    await page.click("text=Funnel")
    by_stage = Counter(a["stage"] for a in listed)
    shown = {r[0]: int(r[-1]) for r in await table(page, "funnel")}
    assert shown == dict(by_stage)
    assert await page.locator("#plot-1 .main-svg").count() > 0  # the plot is drawn
    reasons = await table(page, "refusal_reasons")
    assert reasons and all(int(r[1]) >= 1 for r in reasons)
    await page.screenshot(path=shots / "console-funnel.png", full_page=True)

    async with acting_client(console_stack) as http:  # a snapshot after the voucher
        await until_granted_in_history(http)
    await page.click("text=Budget")
    rows = {(r[0], r[1]): [money(x) for x in r[2:]] for r in await table(page, "budget")}
    for area in budget:
        assert rows[(call, area["priority_area"])] == [
            Decimal(area[k]) for k in ("total_eur", "reserved_eur", "granted_eur", "available_eur")
        ]
    # Over time: each snapshot on screen is one the history API gives, and the voucher shows.
    history = await table(page, "budget_history")
    async with acting_client(console_stack) as http:
        points = (await http.get("/v1/history/budget")).json()
    api = {(p["at"][:19], p["key"], Decimal(p["values"]["granted"])) for p in points}
    shown_points = {(r[0][:19], r[1], money(r[3])) for r in history}
    assert shown_points <= api
    assert len({r[0] for r in history}) >= 1 and any(g > 0 for _, _, g in shown_points)
    await page.screenshot(path=shots / "console-budget.png", full_page=True)

    await page.click("text=Aid")
    shown_aid = sum(money(r[3]) for r in await table(page, "aid"))
    assert shown_aid == sum(Decimal(r["aid_eur"]) for r in aid) > 0
    await page.screenshot(path=shots / "console-aid.png", full_page=True)

    await page.click("text=Flows")
    flows = {(r[0], r[1]): (int(r[2]), int(r[3])) for r in await table(page, "flows")}
    assert flows == {
        (f["applicant_country"], f["facility_country"]): (f["bookings"], f["units"])
        for f in utilisation["flows"]
    }
    assert ("AT", "DE") in flows
    assert await page.locator("#plot-2 .main-svg").count() > 0  # the Sankey
    await page.screenshot(path=shots / "console-flows.png", full_page=True)

    await page.click("text=Utilisation")
    facilities = {r[0]: (int(r[3]), int(r[5])) for r in await table(page, "utilisation_facilities")}
    assert facilities == {
        f["key"]: (f["published_units"], f["booked_units"]) for f in utilisation["facilities"]
    }
    # Every table exports to CSV, with the same rows.
    exported = await page.request.get(
        f"{console_stack.gateway_url}/console/utilisation/utilisation_facilities.csv"
    )
    assert exported.status == 200
    lines = list(csv.reader(io.StringIO(await exported.text())))
    assert lines[0][:3] == ["key", "name", "country"]
    assert {line[0] for line in lines[1:]} == set(facilities)
    await page.screenshot(path=shots / "console-utilisation.png", full_page=True)


async def test_a_manager_decides_a_review_from_the_work_queue(
    console_stack: EmbeddedStack, seeded: dict[str, str], browser_page: Any, shots: Path
) -> None:
    page = browser_page
    await logged_in(page, console_stack)
    await page.click(f"text={seeded['review']}")
    await page.fill("textarea[name=reason]", "2025 accounts show equity above half the capital")
    await page.screenshot(path=shots / "console-review.png", full_page=True)
    await page.click("button[value=approve]")
    await page.wait_for_load_state()
    assert await page.locator("#stage").inner_text() != "manual_review"
    async with acting_client(console_stack) as http:
        audit = (await http.get("/v1/audit", params={"application_id": seeded["review"]})).json()
    decided = [e for e in audit["items"] if e["action"] == "review"]
    assert [(e["name"], e["status"]) for e in decided] == [("Mina Manager", 303)]


async def test_strangers_are_sent_to_the_login_and_the_csv_needs_it_too(
    console_stack: EmbeddedStack,
) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=console_stack.gateway_url, timeout=60) as anonymous:
        page = await anonymous.get("/console/funnel")
        csv_file = await anonymous.get("/console/funnel/funnel.csv")
        login = await anonymous.get("/console/login", params={"next": "/console/funnel"})
    assert page.status_code == csv_file.status_code == 303
    assert page.headers["location"].startswith("/console/login?next=")
    to_provider = login.headers["location"]
    assert to_provider.startswith(console_stack.identity.issuer)
    assert "code_challenge_method=S256" in to_provider and "client_id=loket-cli" in to_provider


async def test_the_calls_page_shows_each_batch_round(
    console_stack: EmbeddedStack, browser_page: Any, shots: Path
) -> None:
    """A batch call with two applicants for one bundle's room, closed early: the round runs
    and the console shows it as the API does: served, bound, gap, who was served."""
    call_id = f"B-console-{os.getpid()}-{int(time.time())}"
    async with acting_client(console_stack) as http:
        loket = Loket(console_stack, http)
        site = await loket.facility("DE", units=2)
        now = datetime.now(UTC)
        opened = await http.post(
            "/v1/calls",
            json={
                "call_id": call_id,
                "title": "Cleanroom slots, batch",
                "mode": "batch",
                "opens_at": (now - timedelta(minutes=1)).isoformat(),
                "closes_at": (now + timedelta(days=7)).isoformat(),
                "budgets": {"advanced-materials": "90000.00"},
            },
        )
        assert opened.status_code == 201, opened.text
        apps = [
            await loket.submit(
                loket.application(loket.applicant(c), (site, 2)) | {"call_id": call_id}
            )
            for c in ("AT", "FR")
        ]
        for app_id in apps:
            await loket.wait_stage(app_id, {"awaiting_round"})
        closed = await http.post(
            f"/v1/calls/{call_id}/close", json={"version": 1, "reason": "cut-off brought forward"}
        )
        assert closed.status_code == 200, closed.text
        end = time.monotonic() + PATIENCE_S
        while (found := (await http.get(f"/v1/calls/{call_id}/round")).json())["state"] != "solved":
            assert time.monotonic() < end, found
            await asyncio.sleep(0.3)
    page = browser_page
    await logged_in(page, console_stack)
    await page.click("text=Calls")
    listed = {r[0]: r for r in await table(page, "calls")}
    assert listed[call_id][2:4] == ["batch", "closed"] and listed[call_id][6] == "2"
    [shown] = [r for r in await table(page, "rounds") if r[0] == call_id]
    assert shown[1] == "solved" and (int(shown[3]), int(shown[4])) == (
        found["served"],
        found["unserved"],
    ) == (1, 1)
    assert float(shown[6]) == found["lp_bound"] and shown[7] == f"{found['gap']:.2%}"
    fairness = {
        r[1]: (int(r[2]), int(r[3])) for r in await table(page, "round_fairness") if r[0] == call_id
    }
    assert fairness == {
        c: (n, found["served_by_country"].get(c, 0))
        for c, n in found["requested_by_country"].items()
    }
    await page.screenshot(path=shots / "console-calls.png", full_page=True)
